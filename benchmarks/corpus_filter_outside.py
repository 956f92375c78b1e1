"""Corpus filter rules against an outside implementation: MB/s of chapter 01's heuristic rules (`filters.filter_reason`,
52 OpenCoder-style rules with early exit) and of datatrove's Gopher repetition + quality filters (the web-text rules
the repetition rules of RefineCode come from: duplicated lines and paragraphs, top and duplicated n-gram shares; plus
Gopher's word statistics), on the same decoded files, one process each, interleaved rounds, medians and spread.

    python benchmarks/corpus_filter_outside.py --datatrove-python /path/to/venv/bin/python [--mb 8] [--rounds 3] [--json out.json]

datatrove is not one of the book's dependencies: install it in a separate environment (`python -m venv dt &&
dt/bin/pip install datatrove==0.10.1 regex spacy`) and pass that interpreter; its side runs there, on the texts this
script writes, and times only its filter calls. The rule sets differ (ours are code rules, Gopher's web-text rules):
the comparison is of throughput per MB for a comparable amount of per-file statistics, and the kept shares are printed.
"""
import argparse, json, os, statistics, subprocess, sys, tempfile, time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from corpus_filter import load_records

BASELINE = 'datatrove Gopher repetition filter (the rules ours share)'
BOTH = 'datatrove Gopher repetition + quality filters'
_DT = r'''
import json, sys, time
from datatrove.data import Document
from datatrove.pipeline.filters import GopherQualityFilter, GopherRepetitionFilter
docs = [Document(text=t, id=str(i)) for i, t in enumerate(json.load(open(sys.argv[1])))]
rep, qual = GopherRepetitionFilter(), GopherQualityFilter()
for d in docs[:20]: rep.filter(d); qual.filter(d)        # warm-up (loads the word tokenizer)
ok = lambda r: r[0] if isinstance(r, tuple) else r
out = {}
for name, fs in (('repetition', [rep]), ('both', [rep, qual])):
    t = time.perf_counter(); kept = sum(all(ok(f.filter(d)) for f in fs) for d in docs)   # all(): early exit, as ours
    out[name] = {'seconds': time.perf_counter() - t, 'kept': kept}
print(json.dumps(out))
'''


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.split('\n\n')[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--datatrove-python', required=True, help='an interpreter with datatrove installed')
    ap.add_argument('--mb', type=float, default=8.0)
    ap.add_argument('--rounds', type=int, default=3)
    ap.add_argument('--max-files', type=int, default=3000)
    ap.add_argument('--seed', type=int, default=0)
    ap.add_argument('--json', type=Path, default=None)
    a = ap.parse_args(argv)
    from wizardlearner.core import benchmark_result, machine_line
    from wizardlearner.filters import FilterConfig, decode_text, filter_reason
    files = []
    for r in load_records(a.mb, a.max_files, a.seed):
        text, _ = decode_text(r['raw'])
        if text is not None: files.append((text, r['path'], r['kind'], r['language']))
    mb = sum(len(t.encode('utf-8', 'surrogatepass')) for t, *_ in files) / 1e6
    cfg = FilterConfig()
    with tempfile.TemporaryDirectory() as d:
        p = Path(d)/'texts.json'; p.write_text(json.dumps([t for t, *_ in files]))
        script = Path(d)/'dt.py'; script.write_text(_DT)
        secs, kept = {'wizardlearner filter_reason (52 rules)': [], BASELINE: [], BOTH: []}, {}
        for _ in range(a.rounds):
            t = time.perf_counter()
            kept['wizardlearner filter_reason (52 rules)'] = sum(filter_reason(tx, path, kind, cfg, lang) is None for tx, path, kind, lang in files)
            secs['wizardlearner filter_reason (52 rules)'].append(time.perf_counter() - t)
            out = subprocess.run([a.datatrove_python, str(script), str(p)], capture_output=True, text=True, check=True)
            res = json.loads(out.stdout.strip().splitlines()[-1])
            secs[BASELINE].append(res['repetition']['seconds']); kept[BASELINE] = res['repetition']['kept']
            secs[BOTH].append(res['both']['seconds']); kept[BOTH] = res['both']['kept']
    rates = {k: mb / statistics.median(s) for k, s in secs.items()}
    dt_version = subprocess.run([a.datatrove_python, '-c', 'import datatrove; print(datatrove.__version__)'], capture_output=True,
                                text=True).stdout.strip()
    b = benchmark_result('corpus filter rules', unit='MB/s', baseline=BASELINE, results=rates, script='benchmarks/corpus_filter_outside.py',
                         files=len(files), mb=round(mb, 2), rounds=a.rounds, datatrove=dt_version,
                         per_round_mb_s={k: [round(mb / x, 2) for x in s] for k, s in secs.items()},
                         kept_share={k: round(v / len(files), 3) for k, v in kept.items()}, machine=machine_line(),
                         note='one process each; the rule sets differ (code rules vs Gopher web-text rules)')
    print(f"{len(files)} files, {mb:.1f} MB, {a.rounds} interleaved rounds (medians)")
    for k, v in b['results'].items():
        print(f"{k:<70} {v['value']:7.2f} MB/s  x{v['x_baseline']:.2f}  kept {b['notes']['kept_share'][k]:.1%}  {b['notes']['per_round_mb_s'][k]}")
    if a.json: a.json.write_text(json.dumps(b, indent=1) + '\n')
    return b


if __name__ == '__main__':
    main()
