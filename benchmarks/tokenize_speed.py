"""Tokenizing speed: MB/s of the data plane's tokenize step (`packing.tokenize_stream`, as chapter 04 runs it) against
the strongest tools a user would pick for the same byte-level BPE: `tokenizers` (`encode_batch_fast`, the library the
tokenizer is trained with) and tiktoken (`encode_ordinary_batch`, built from the same vocabulary by
`tokenizer.tiktoken_encoding`; and `encode_to_numpy` on threads, its array output, the faster of the two is the
baseline); also the tokenize step as it was before it used tiktoken (`backend='tokenizers'`).
Every side encodes the same texts (special-token text as text), on 1 and on 2 workers, interleaved in one process
slice by slice (each round runs every side on one third of the texts before the next third; the order
rotates), 3 rounds: medians and spread, and each speed-up as the median of its per-round ratios. Every side's ids are compared, document by document,
with `tokenizers`' ids.

    python benchmarks/tokenize_speed.py [--preset smoke] [--workers 1 2] [--rounds 3] [--slices 3] [--max-files N] [--json out.json]

Texts: the preset's deduplicated files (chapter 02's output, the data plane's input), read into memory first, so no
side pays for reading them. Tokenizer: chapter 04's trained BPE of the preset, or, without a pretrain run, one trained
here the way chapter 04 trains it. Workers: threads for `tokenizers` (its Rust pool, at most 2 threads here:
`RAYON_NUM_THREADS`) and tiktoken (`num_threads`), forked processes for the data plane (`workers`), as each is used.
"""
import os
os.environ.setdefault('RAYON_NUM_THREADS', '2')   # `tokenizers`' thread pool: at most the 2 workers timed (read once, at its first use)
import argparse, json, platform, statistics, time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def load_inputs(preset: str, max_files: int | None):
    "(texts, where they came from, tokenizer, where it came from)."
    from wizardlearner.stages import DedupOutputs, PretrainOutputs, stage_config
    from wizardlearner.store import iter_rows
    files = DedupOutputs.load(preset).files
    texts = [r['content'] or '' for r in iter_rows(files, columns=['content'])][:max_files]
    try:
        from transformers import AutoTokenizer
        path = PretrainOutputs.load(preset).tokenizer
        return texts, str(files), AutoTokenizer.from_pretrained(path), f"chapter 04's tokenizer ({path})"
    except FileNotFoundError:
        from wizardlearner.core import get_preset
        from wizardlearner.pretrain import PretrainConfig
        from wizardlearner.tokenizer import train_tokenizer
        cfg = stage_config(PretrainConfig, get_preset(preset), 'pretrain')
        tok = train_tokenizer(texts[:cfg.tokenizer_max_files], cfg.vocab_size)
        return texts, str(files), tok, f"trained here: vocab {cfg.vocab_size}, first {cfg.tokenizer_max_files} files"


def sides(tok, enc) -> dict:
    "name -> function(texts, workers) returning each text's ids (lists or arrays), for every side timed."
    from wizardlearner.packing import tokenize_stream
    bt = tok.backend_tokenizer

    def hf(texts, w):   # one Rust thread (TOKENIZERS_PARALLELISM=false) or its pool of `w` threads; special-token text as text
        os.environ['TOKENIZERS_PARALLELISM'] = 'true' if w > 1 else 'false'
        bt.encode_special_tokens = True
        try: return [e.ids for e in bt.encode_batch_fast(texts, add_special_tokens=False)]
        finally: bt.encode_special_tokens = False

    def plane(backend):   # as chapter 04 runs it: TOKENIZERS_PARALLELISM unset (the step sets it for its workers)
        def run(texts, w):
            os.environ.pop('TOKENIZERS_PARALLELISM', None)
            return [ids for _, ids, _ in tokenize_stream(tok, enumerate(texts), workers=w, backend=backend)]
        return run
    def tk_numpy(texts, w):   # tiktoken's array output (no Python list per text), on `w` threads (it releases the GIL)
        one = lambda t: enc.encode_to_numpy(t, allowed_special=set(), disallowed_special=())
        if w == 1: return [one(t) for t in texts]
        with ThreadPoolExecutor(w) as ex: return list(ex.map(one, texts))
    return {'tokenizers encode_batch_fast': hf,
            'tiktoken encode_ordinary_batch': lambda texts, w: enc.encode_ordinary_batch(texts, num_threads=w),
            'tiktoken encode_to_numpy': tk_numpy,
            'data plane (tokenize_stream)': plane('auto'),
            'data plane before (tokenizers backend)': plane('tokenizers')}


def slices(texts: list[str], n: int) -> list[list[str]]:
    "`texts` cut into `n` consecutive slices of about the same number of characters."
    total, out, cur, size = sum(map(len, texts)), [], [], 0
    for t in texts:
        cur.append(t); size += len(t)
        if size >= total * (len(out) + 1) / n and len(out) < n - 1: out.append(cur); cur = []
    return out + [cur] if cur else out


def machine() -> dict:
    "What the numbers were measured on."
    import tiktoken, tokenizers
    cpu = next((l.split(':', 1)[1].strip() for l in open('/proc/cpuinfo') if l.startswith('model name')), platform.processor())
    return dict(cpu=cpu, cpus=os.cpu_count(), load_avg_at_start=[round(x, 2) for x in os.getloadavg()], python=platform.python_version(),
                tokenizers=tokenizers.__version__, tiktoken=tiktoken.__version__)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    ap.add_argument('--preset', default='smoke', help="whose dedup (and pretrain) run to read (default: smoke)")
    ap.add_argument('--workers', type=int, nargs='+', default=[1, 2], help='worker counts timed (default: 1 2)')
    ap.add_argument('--rounds', type=int, default=3, help='interleaved rounds (default: 3)')
    ap.add_argument('--slices', type=int, default=3, help='each round runs every side on one slice of the texts before the next (default: 3)')
    ap.add_argument('--max-files', type=int, default=None, help='at most this many files (default: all)')
    ap.add_argument('--json', default=str(ROOT/'benchmarks'/'results'/'tokenize_speed.json'), help="write the result here ('': do not)")
    a = ap.parse_args(argv)
    from wizardlearner.tokenizer import reference_ids, tiktoken_encoding
    mach = machine()
    texts, src, tok, tok_src = load_inputs(a.preset, a.max_files)
    enc = tiktoken_encoding(tok)
    mb = sum(len(t.encode('utf-8')) for t in texts) / 1e6
    print(f"{len(texts):,} files, {mb:.1f} MB, from {src}; {tok_src}; {mach['cpus']} CPUs ({mach['cpu']})")

    ref = reference_ids(tok, texts)   # `tokenizers`, special-token text as text: what every side must give
    fns, secs, same = sides(tok, enc), {}, {}
    runs = [(name, w) for name in fns for w in a.workers]
    parts = slices(texts, a.slices)
    for r in range(a.rounds):   # every side runs on each slice before the next slice: all see the same load, in turn
        t_round = {}
        for i, part in enumerate(parts):
            k = r * len(parts) + i
            for name, w in runs[k % len(runs):] + runs[:k % len(runs)]:   # interleaved; the order rotates every slice
                t0 = time.perf_counter(); out = fns[name](part, w); t_round[name, w] = t_round.get((name, w), 0) + time.perf_counter() - t0
                if r == 0:
                    at = sum(map(len, parts[:i]))
                    n = sum((x.tolist() if hasattr(x, 'tolist') else x) == y for x, y in zip(out, ref[at:at + len(part)]))
                    same[f"{name}, {w} worker(s)"] = same.get(f"{name}, {w} worker(s)", 0) + n
        for (name, w), t in t_round.items():
            secs.setdefault(name, {}).setdefault(str(w), []).append(t)
            print(f"round {r + 1}: {name}, {w} worker(s): {mb / t:.2f} MB/s", flush=True)

    res = {name: {w: dict(mb_s_median=round(mb / statistics.median(v), 2), mb_s_min=round(mb / max(v), 2), mb_s_max=round(mb / min(v), 2),
                          seconds=[round(x, 3) for x in v]) for w, v in ws.items()} for name, ws in secs.items()}
    plane = secs['data plane (tokenize_stream)']
    paired = lambda other, w: round(statistics.median(o / p for o, p in zip(secs[other][w], plane[w])), 2)   # same round, same load
    tk = ('tiktoken encode_ordinary_batch', 'tiktoken encode_to_numpy')
    best = {w: min(tk, key=lambda k: statistics.median(secs[k][w])) for w in plane}   # the faster tiktoken path is the baseline
    ratios = {f"{w} worker(s)": dict(vs_tokenizers=paired('tokenizers encode_batch_fast', w), vs_tiktoken=paired(best[w], w), tiktoken_baseline=best[w],
                                     vs_before=paired('data plane before (tokenizers backend)', w)) for w in plane}
    mach['load_avg_at_end'] = [round(x, 2) for x in os.getloadavg()]   # other jobs on the machine slow the multi-worker sides most
    out = dict(date=time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime()), machine=mach, texts=dict(source=src, files=len(texts), mb=round(mb, 2)),
               tokenizer=dict(source=tok_src, vocab=len(tok)), rounds=a.rounds,
               identical_docs={k: f"{v}/{len(texts)}" for k, v in same.items()}, mb_s=res,
               data_plane_speedup=ratios, speedup_is='median over rounds of (other side seconds / data plane seconds), both timed in the same round')
    for k, v in ratios.items(): print(f"data plane, {k}: {v['vs_tokenizers']}x tokenizers, {v['vs_tiktoken']}x {v['tiktoken_baseline']}, {v['vs_before']}x before")
    bad = {k: v for k, v in same.items() if v != len(texts)}
    if bad: print(f"IDS DIFFER from tokenizers' on some documents: {bad}")
    if a.json:
        Path(a.json).parent.mkdir(parents=True, exist_ok=True)
        Path(a.json).write_text(json.dumps(out, indent=1) + '\n')
    return out


if __name__ == '__main__':
    main()
