"""Embedding throughput of the annotator (chapter 03): chunks/s of the naive loop (input order, autograd on, the
baseline), the same loop under `torch.inference_mode`, and `embed_texts` (length-sorted batches + inference_mode),
all on the same chunks in one run.

    python benchmarks/embed_throughput.py [--n 128] [--batch-size 16] [--files runs/smoke/dedup/files]
                                          [--embedder all-MiniLM-L6-v2] [--dtype auto] [--rounds 2] [--json out.json]

The chunks are the top/middle/bottom chunks of source files (the installed Python standard library by default, or
the `content` of file records with `--files`: a folder of Parquet shards or a JSON-lines file), sampled with `--seed`: the same input the
annotator embeds. Runs offline with the packaged all-MiniLM-L6-v2.
"""
import argparse, json, random, sysconfig, time
from pathlib import Path

from wizardlearner.embedder import THROUGHPUT_BASELINE, chunk_files, embedding_throughput, load_embedder
from wizardlearner.core import benchmark_result
from wizardlearner.store import iter_rows


def source_texts(files: str | None, max_files: int, seed: int) -> list[str]:
    "Up to `max_files` file contents: from a data output of records (Parquet shards or JSON lines), else the installed stdlib's .py files."
    if files: texts = [r['content'] for r in iter_rows(files) if (r.get('content') or '').strip()]
    else:
        root = Path(sysconfig.get_paths()['stdlib'])
        texts = [p.read_text(encoding='utf-8', errors='replace') for p in sorted(root.glob('*.py'))]
    random.Random(seed).shuffle(texts)
    return texts[:max_files]


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.split('\n\n')[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--n', type=int, default=128, help="chunks to embed per method (chapter default: 128)")
    ap.add_argument('--batch-size', type=int, default=16, help='chunks per forward pass (annotator default: 16)')
    ap.add_argument('--embedder', default='all-MiniLM-L6-v2', help='packaged name, hub id or folder')
    ap.add_argument('--dtype', default='auto', choices=('auto', 'bfloat16', 'float32'))
    ap.add_argument('--files', default=None, help='JSON-lines (.gz) file records to take chunks from (default: stdlib)')
    ap.add_argument("--rounds", type=int, default=2, help='interleaved rounds; the best per method counts')
    ap.add_argument('--seed', type=int, default=0)
    ap.add_argument('--json', default=None, help='write the benchmark record here')
    a = ap.parse_args(argv)
    emb = load_embedder(a.embedder, dtype=a.dtype)
    chunks, _, _ = chunk_files(source_texts(a.files, 4*a.n, a.seed), emb.tokenizer, emb.max_len)
    chunks = random.Random(a.seed).sample(chunks, min(a.n, len(chunks)))
    t = time.time()
    rates, stats = embedding_throughput(chunks, emb, a.batch_size, rounds=a.rounds)
    b = benchmark_result('annotator embedding', unit='chunks/s', baseline=THROUGHPUT_BASELINE, results=rates,
                         script='benchmarks/embed_throughput.py', n_chunks=len(chunks), batch_size=a.batch_size,
                         embedder=a.embedder, dtype=str(emb.dtype).replace('torch.', ''), rounds=a.rounds,
                         source=a.files or "python stdlib", **stats,
                         wall_s=round(time.time() - t, 1))
    print(f"{len(chunks)} chunks of {a.embedder} ({b['notes']['dtype']}, batch {a.batch_size}); methods agree to cosine {stats['min_cosine']:.4f}; padded tokens {stats['padded_tokens_input_order']:,} in input order, {stats['padded_tokens_sorted']:,} sorted")
    w = max(len(k) for k in b['results'])
    cpu = stats['chunks_per_cpu_s']
    print(f"{'method':<{w}}  chunks/s  x baseline  chunks/CPU-s  x baseline (CPU)")
    for k, v in b['results'].items():
        print(f"{k:<{w}}  {v['value']:8.1f}  {v['x_baseline']:10.2f}  {cpu[k]:12.1f}  {cpu[k]/cpu[THROUGHPUT_BASELINE]:16.2f}")
    if a.json: Path(a.json).write_text(json.dumps(b, indent=1))
    return b


if __name__ == '__main__':
    main()
