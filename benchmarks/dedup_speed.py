"""Dedup speed: docs/s of the MinHash signature stage and of text-to-clusters, chapter 02's path against datasketch
(`bulk`, `update_batch`) and rensa (its own shingles, and ours), every side on the same files with the same shingles
and processes, interleaved in one process, 3 rounds: medians, spread, and the strongest baseline named
(`wizardlearner.dedup_bench`).

    python benchmarks/dedup_speed.py [--preset smoke] [--n 2000] [--sample N] [--workers 2] [--rounds 3] [--json out.json]

Files: the near-dedup input of the preset's corpus run (its files after exact dedup), or, without a corpus run, the
standard library's `.py` files. Prints a small table; `--json` also writes the raw result and the manifest record.
"""
import argparse, json, random, sysconfig, time
from pathlib import Path


def load_texts(preset: str, n: int | None, seed: int = 0) -> tuple[list[str], str]:
    "The files to time and where they came from."
    from wizardlearner.store import iter_rows
    from wizardlearner.dedup import exact_dedup
    from wizardlearner.stages import CorpusOutputs
    try: files = CorpusOutputs.load(preset).files
    except (FileNotFoundError, KeyError): files = None
    if files is not None and files.exists():
        recs, src = exact_dedup(list(iter_rows(files)))[0], f"{preset} corpus after exact dedup"
    else:
        paths = sorted(Path(sysconfig.get_paths()['stdlib']).rglob('*.py'))
        recs = exact_dedup([dict(id=str(p), content=p.read_text(errors='replace')) for p in paths])[0]
        src = 'standard library .py files (no corpus run found)'
    texts = [r['content'] for r in recs]
    if n and len(texts) > n: texts = random.Random(seed).sample(texts, n)
    return texts, src


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    ap.add_argument('--preset', default='smoke', help='whose corpus run to read (default: smoke)')
    ap.add_argument('--n', type=int, default=None, help='at most this many files (default: all)')
    ap.add_argument('--sample', type=int, default=None, help='files every side runs on (default: all)')
    ap.add_argument('--rounds', type=int, default=3, help='interleaved rounds (default: 3)')
    ap.add_argument('--workers', type=int, default=2, help='processes for every method (default: 2)')
    ap.add_argument('--num-perm', type=int, default=128)
    ap.add_argument('--json', type=Path, default=Path(__file__).parent/'results'/'dedup_speed.json', help='write the result here')
    a = ap.parse_args(argv)
    from wizardlearner.dedup import DedupConfig
    from wizardlearner.dedup_bench import benchmark_table, speed_benchmarks
    texts, src = load_texts(a.preset, a.n)
    cfg = DedupConfig(num_perm=a.num_perm, bench_sample=a.sample)
    res, recs = speed_benchmarks(texts, cfg, workers=a.workers, seed=0, rounds=a.rounds)
    print(f"{len(texts):,} files from {src}")
    print(benchmark_table(res))
    if a.json:
        a.json.parent.mkdir(parents=True, exist_ok=True)
        a.json.write_text(json.dumps(dict(files=src, date=time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime()), result=res, benchmarks=recs), indent=1))
    return res


if __name__ == '__main__':
    main()
