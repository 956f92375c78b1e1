"""Corpus filter speed: MB/s of chapter 01's filter stage (decode, license strip, all heuristic rules, PII, decontamination)
on 1 worker (the baseline) and on more worker processes, with decoding alone as the ceiling, all in one run on the same
files.

    python benchmarks/corpus_filter.py [--mb 8] [--workers 1 2] [--rounds 2] [--max-files 3000] [--seed 0] [--json out.json]

Files: a seeded sample of the installed source (the smoke preset's local source: stdlib + distributions), the first
`--mb` MB read. Prints a small table; `--json` also writes the manifest record (`benchmark_result`).
"""
import argparse, json
from pathlib import Path


def load_records(mb: float, max_files: int, seed: int) -> list[dict]:
    "The first `mb` MB of records read from a seeded sample of the local source (bytes in `raw`)."
    from wizardlearner.core import Ledger
    from wizardlearner.sources import iter_local_sources
    out, n = [], 0
    src = iter_local_sources(max_files, 400, seed, Ledger('bench'))
    for r in src:
        if n >= mb * 1e6: break
        out.append(r); n += r['n_bytes']
    src.close()
    return out


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    ap.add_argument('--mb', type=float, default=8.0, help='MB of files to time (default: 8)')
    ap.add_argument('--workers', type=int, nargs='+', default=[1, 2], help='worker counts; the first is the baseline (default: 1 2)')
    ap.add_argument('--rounds', type=int, default=2, help='interleaved rounds; each method keeps its best (default: 2)')
    ap.add_argument('--max-files', type=int, default=3000, help='size of the seeded local sample the files come from')
    ap.add_argument('--seed', type=int, default=0)
    ap.add_argument('--json', type=Path, default=None, help='write the benchmark record here')
    a = ap.parse_args(argv)
    from wizardlearner.corpus import CorpusConfig, filter_benchmark
    from wizardlearner.decontamination import decontaminator
    cfg = CorpusConfig()
    recs = load_records(a.mb, a.max_files, a.seed)
    b = filter_benchmark(recs, cfg, decontaminator(cfg), workers=tuple(a.workers), rounds=a.rounds)
    n = b['notes']
    print(f"corpus filter stage on {n['mb']} MB ({n['n_files']} files, {n['rules']} rules, {n['cpus']} CPUs), baseline {b['baseline']!r}")
    print(f"{'method':24s} {'MB/s':>9s} {'x baseline':>11s}")
    for k, v in b['results'].items(): print(f"{k:24s} {v['value']:9.2f} {v['x_baseline']:11.2f}")
    if a.json: a.json.write_text(json.dumps(b, indent=1))
    return b


if __name__ == '__main__':
    main()
