"""Embedding throughput of the annotator (chapter 03) against the strongest outside alternative: chunks/s of
sentence-transformers' `encode` (the baseline) and of the project's `embed_texts` in its dtypes (float32; dynamic int8
Linear layers; bf16 where the CPU has it natively; 'auto' is bf16 there and int8 elsewhere), all on the same chunks, same batch size, interleaved rounds, medians
and spread reported; plus the naive loop (input order, autograd on) for reference, and each side's agreement with
sentence-transformers' vectors (min and mean cosine).

    python benchmarks/embed_throughput.py [--n 256] [--batch-size 16] [--files runs/smoke/dedup/files]
                                          [--embedder all-MiniLM-L6-v2] [--rounds 3] [--emulate-avx2] [--json out.json]

The chunks are the top/middle/bottom chunks of source files (the installed Python standard library by default, or
the `content` of file records with `--files`: a folder of Parquet shards or a JSON-lines file), sampled with `--seed`:
the same input the annotator embeds. Runs offline with the packaged all-MiniLM-L6-v2.
"""
import argparse, json, os, random, statistics, sys, sysconfig, time
from pathlib import Path

from avx2_cap import rerun_capped
import numpy as np
import torch
from wizardlearner.embedder import (THROUGHPUT_BASELINE, _compute_dtype, _loop_embed, chunk_files, embed_texts,
                                    embedder_path, load_embedder)
from wizardlearner.core import benchmark_result, machine_line
from wizardlearner.store import iter_rows

BASELINE = 'sentence-transformers encode (float32)'


def source_texts(files: str | None, max_files: int, seed: int) -> list[str]:
    "Up to `max_files` file contents: from a data output of records (Parquet shards or JSON lines), else the installed stdlib's .py files."
    if files: texts = [r['content'] for r in iter_rows(files) if (r.get('content') or '').strip()]
    else:
        root = Path(sysconfig.get_paths()['stdlib'])
        texts = [p.read_text(encoding='utf-8', errors='replace') for p in sorted(root.glob('*.py'))]
    random.Random(seed).shuffle(texts)
    return texts[:max_files]


def methods(chunks: list[str], name: str, bs: int) -> tuple[dict, dict]:
    "{method: callable -> vectors} for every side, and the dtype each project side computes in."
    from sentence_transformers import SentenceTransformer
    st = SentenceTransformer(embedder_path(name), device='cpu')
    auto = _compute_dtype('auto', torch.device('cpu'))          # bf16 with native bf16, else int8
    embs = {d: load_embedder(name, device='cpu', dtype=d) for d in ('float32', 'int8', 'bfloat16') if d != 'bfloat16' or auto == torch.bfloat16}
    out = {BASELINE: lambda: st.encode(chunks, batch_size=bs, convert_to_numpy=True, normalize_embeddings=True)}
    name_of = {torch.float32: 'float32', torch.bfloat16: 'bfloat16', torch.qint8: 'int8 dynamic'}
    label = lambda e: f"wizardlearner embed_texts ({name_of[e.dtype]}{', = auto here' if e.dtype == auto else ''})"
    for e in embs.values(): out[label(e)] = (lambda e=e: embed_texts(chunks, e, bs, e.max_len))
    f32 = embs['float32']
    out[THROUGHPUT_BASELINE] = lambda: _loop_embed(chunks, f32, bs, f32.max_len, grad=True)
    return out, {label(e): str(e.dtype) for e in embs.values()}


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.split('\n\n')[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--n', type=int, default=256, help='chunks to embed per method')
    ap.add_argument('--batch-size', type=int, default=16, help='chunks per forward pass (annotator default: 16)')
    ap.add_argument('--embedder', default='all-MiniLM-L6-v2', help='packaged name, hub id or folder')
    ap.add_argument('--files', default=None, help='file records to take chunks from (default: stdlib)')
    ap.add_argument('--rounds', type=int, default=3, help='interleaved rounds; the median per method counts')
    ap.add_argument('--seed', type=int, default=0)
    ap.add_argument('--emulate-avx2', action='store_true', help='cap the math libraries at AVX2 (core.AVX2_ONLY_ENV): how an AVX2-only CPU computes')
    ap.add_argument('--json', default=None, help='write the benchmark record here')
    a = ap.parse_args(argv)
    if a.emulate_avx2: rerun_capped(argv)   # a new process: the kernels read the caps when they load
    torch.manual_seed(a.seed)
    tok = load_embedder(a.embedder, device='cpu', dtype='float32')
    chunks, _, _ = chunk_files(source_texts(a.files, 4 * a.n, a.seed), tok.tokenizer, tok.max_len)
    chunks = random.Random(a.seed).sample(chunks, min(a.n, len(chunks)))
    fns, dtypes = methods(chunks, a.embedder, a.batch_size)
    for f in fns.values(): f() if f is not fns[THROUGHPUT_BASELINE] else None   # warm-up, not timed
    secs, vecs, load0 = {k: [] for k in fns}, {}, os.getloadavg()
    for _ in range(a.rounds):                       # every side once per round, in turn: drift hits all alike
        for k, f in fns.items():
            t = time.perf_counter(); vecs[k] = np.asarray(f(), dtype=np.float32); secs[k].append(time.perf_counter() - t)
    rates = {k: len(chunks) / statistics.median(s) for k, s in secs.items()}
    ref = vecs[BASELINE] / np.linalg.norm(vecs[BASELINE], axis=1, keepdims=True)
    cos = {k: ((v / np.linalg.norm(v, axis=1, keepdims=True)) * ref).sum(1) for k, v in vecs.items()}
    agree, mean_agree = ({k: round(float(f(c)), 6) for k, c in cos.items()} for f in (np.min, np.mean))
    b = benchmark_result('annotator embedding' + (' (AVX2-emulated)' if a.emulate_avx2 else ''), unit='chunks/s', baseline=BASELINE, results=rates,
                         script='benchmarks/embed_throughput.py', n_chunks=len(chunks), batch_size=a.batch_size,
                         embedder=a.embedder, rounds=a.rounds, dtypes=dtypes, source=a.files or 'python stdlib',
                         per_round_chunks_s={k: [round(len(chunks) / x, 2) for x in s] for k, s in secs.items()},
                         min_cosine_vs_baseline=agree, mean_cosine_vs_baseline=mean_agree, threads=torch.get_num_threads(), machine=machine_line(),
                         load_avg_start_end=[load0, os.getloadavg()])
    w = max(len(k) for k in rates)
    print(f"{len(chunks)} chunks of {a.embedder}, batch {a.batch_size}, {a.rounds} interleaved rounds (medians)")
    print(f"{'method':<{w}}  chunks/s  x baseline  cosine to baseline (min / mean)  per round")
    for k, v in b['results'].items():
        print(f"{k:<{w}}  {v['value']:8.1f}  {v['x_baseline']:10.2f}  {agree[k]:15.6f} / {mean_agree[k]:.6f}  {b['notes']['per_round_chunks_s'][k]}")
    if a.json: Path(a.json).write_text(json.dumps(b, indent=1) + '\n')
    return b


if __name__ == '__main__':
    main()
