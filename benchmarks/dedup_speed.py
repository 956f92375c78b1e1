"""Dedup speed: docs/s of the MinHash signature stage and of text-to-clusters, the vectorised numpy path of
`wizardlearner.dedup` against datasketch's per-token `MinHash.update` (the baseline) and `MinHash.bulk`, all in one run
on the same files and the same number of processes.

    python benchmarks/dedup_speed.py [--preset smoke] [--n 2000] [--sample 300] [--workers 2] [--json out.json]

Files: the near-dedup input of the preset's corpus run (its files after exact dedup), or, without a corpus run, the
standard library's `.py` files. Prints a small table; `--json` also writes the raw result and the manifest record.
"""
import argparse, json, random, sys, sysconfig
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
    ap.add_argument('--sample', type=int, default=300, help='files every method runs on (datasketch update is slow)')
    ap.add_argument('--workers', type=int, default=2, help='processes for every method (default: 2)')
    ap.add_argument('--num-perm', type=int, default=128)
    ap.add_argument('--json', type=Path, default=None, help='write the result here')
    a = ap.parse_args(argv)
    from wizardlearner.core import benchmark_result
    from wizardlearner.dedup import DedupConfig, benchmark_table, dedup_speed_benchmark
    texts, src = load_texts(a.preset, a.n)
    cfg = DedupConfig(num_perm=a.num_perm)
    res = dedup_speed_benchmark(texts, cfg, workers=a.workers, sample=a.sample)
    print(f"{len(texts):,} files from {src}; methods timed on {res['sample']} of them ({res['mb']} MB), {a.workers} processes")
    print(benchmark_table(res))
    if a.json:
        recs = [benchmark_result(f'dedup {name}', unit='docs/s', baseline='datasketch update', results=res[key],
                                 script='benchmarks/dedup_speed.py', n_docs=res['n_docs'], sample=res['sample'],
                                 workers=a.workers, num_perm=a.num_perm, files=src)
                for name, key in (('signature stage', 'signature'), ('end to end (text to clusters)', 'end_to_end'))]
        a.json.write_text(json.dumps(dict(result=res, benchmarks=recs), indent=1))
    return res


if __name__ == '__main__':
    main()
