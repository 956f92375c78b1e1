"""Wall time of a fresh `wizardlearner cook`, per chapter, split into kernel start, lesson cells and Run section, on
this machine as it is or as an AVX2-only CPU would compute (`--emulate-avx2`).

    python benchmarks/cook_time.py [--preset smoke] [--emulate-avx2] [--budget 600] [--out reports/smoke/timings]

The cook runs from scratch in a scratch folder (runs, reports and data cards; the repository's own are untouched),
exactly as `wizardlearner cook --preset smoke` does. The split comes from papermill's per-cell durations in the
executed notebooks: cells tagged `#| notest` are the Run section, the others the lesson cells, and what is left of
the chapter's time is kernel start-up and papermill's own work.

`--emulate-avx2` sets `wizardlearner.core.AVX2_ONLY_ENV` (torch's kernels, oneDNN, MKL and fbgemm capped at AVX2), so
the chapters choose float32 and compute as on a CPU without AVX-512, AVX512-BF16 or AMX. It does not slow the clock:
Python-bound chapters (corpus, dedup, the sandbox half of eval) run at this machine's speed, which the README's
margin accounts for.

Writes `cook_time_<kind>.json` and `.md` under `--out`, one per kind of machine, and prints the table. The budget is
the yardstick (the README's promise: smoke cooks in 10 minutes on 2 cores of the slower kind); the numbers are
reported, never asserted by a test.
"""
import argparse, json, os, re, shutil, subprocess, sys, tempfile, time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def cell_split(notebook: Path) -> dict:
    "Seconds of an executed chapter notebook's lesson cells and Run-section cells (papermill's per-cell durations)."
    import nbformat
    nb = nbformat.read(notebook, as_version=4)
    out = dict(lesson_s=0.0, run_s=0.0)
    for c in nb.cells:
        if c.cell_type != 'code': continue
        d = float(c.metadata.get('papermill', {}).get('duration') or 0.0)
        out['run_s' if '#| notest' in c.source else 'lesson_s'] += d
    return out


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.split('\n\n')[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--preset', default='smoke')
    ap.add_argument('--emulate-avx2', action='store_true', help='cap the math libraries at AVX2 (core.AVX2_ONLY_ENV)')
    ap.add_argument('--budget', type=float, default=600.0, help='seconds the cook should fit in (README: 10 min for smoke)')
    ap.add_argument('--out', default=None, help='folder for the json/md results (default: reports/<preset>/timings)')
    ap.add_argument('--keep', default=None, help='cook into this folder and keep it (default: a temporary one)')
    a = ap.parse_args(argv)
    from wizardlearner.core import AVX2_ONLY_ENV, STAGES, CHAPTERS, get_settings, machine_line

    env = dict(os.environ, HF_HUB_OFFLINE='1', TRANSFORMERS_OFFLINE='1', HF_DATASETS_OFFLINE='1', PYTHONUNBUFFERED='1')
    if a.emulate_avx2: env.update(AVX2_ONLY_ENV)
    tmp = Path(a.keep) if a.keep else Path(tempfile.mkdtemp(prefix='wl-cook-time-'))
    env.update(WIZARDLEARNER_RUNS_DIR=str(tmp/'runs'), WIZARDLEARNER_REPORTS_DIR=str(tmp/'reports'),
               WIZARDLEARNER_DATA_CARDS_DIR=str(tmp/'data_cards'))
    wl = str(Path(sys.executable).with_name('wizardlearner'))
    t0 = time.time()
    p = subprocess.run([wl, 'cook', '--preset', a.preset, '--force'], cwd=ROOT, env=env, capture_output=True, text=True)
    total = time.time() - t0
    if p.returncode != 0:
        sys.exit(f"cook failed after {total:.0f} s:\n{p.stdout[-3000:]}\n{p.stderr[-3000:]}")
    status = {r['stage']: r for r in json.loads((tmp/'reports'/a.preset/'cook_status.json').read_text())}
    # the machine as the chapters saw it (under the emulation's caps when set)
    m = json.loads((tmp/'runs'/a.preset/STAGES[0]/'manifest.json').read_text())['host']
    rows = []
    for ch in CHAPTERS:
        s = status[ch.stage]['seconds']
        split = cell_split(tmp/'reports'/a.preset/ch.notebook)
        rows.append(dict(stage=ch.stage, seconds=round(s, 1), kernel_and_papermill_s=round(s - split['lesson_s'] - split['run_s'], 1),
                         lesson_s=round(split['lesson_s'], 1), run_s=round(split['run_s'], 1),
                         omp_wait_policy=status[ch.stage].get('omp_wait_policy', '')))
    res = dict(preset=a.preset, machine=m, machine_line=machine_line(m), emulated_avx2=a.emulate_avx2,
               total_s=round(total, 1), chapters_s=round(sum(r['seconds'] for r in rows), 1), budget_s=a.budget,
               share_of_budget=round(total/a.budget, 3), chapters=rows,
               date=time.strftime('%Y-%m-%d'), cook_stdout_tail=p.stdout[-1500:])
    kind = re.sub(r'[^a-z0-9]+', '-', m.get('kind', 'unknown').lower()).strip('-')
    out = Path(a.out) if a.out else get_settings().reports_dir/a.preset/'timings'   # settings.ini's reports_dir
    out.mkdir(parents=True, exist_ok=True)
    md = [f"# `cook --preset {a.preset}` from scratch: {total:.0f} s ({total/a.budget:.0%} of the {a.budget:.0f} s budget)", '',
          f"Machine: {res['machine_line']}" + (' (math libraries capped at AVX2 with `--emulate-avx2`)' if a.emulate_avx2 else ''),
          f"measured {res['date']} by `python benchmarks/cook_time.py{' --emulate-avx2' if a.emulate_avx2 else ''}`.", '',
          '| stage | seconds | share | kernel start + papermill | lesson cells | run section | OMP_WAIT_POLICY |', '|---|---:|---:|---:|---:|---:|---|']
    for r in rows:
        md.append(f"| {r['stage']} | {r['seconds']:.0f} | {r['seconds']/total:.0%} | {r['kernel_and_papermill_s']:.0f} | "
                  f"{r['lesson_s']:.0f} | {r['run_s']:.0f} | {r['omp_wait_policy']} |")
    md.append(f"| **total** (with cook's own start-up) | {total:.0f} | 100% | | | | |")
    (out/f"cook_time_{kind}.md").write_text('\n'.join(md) + '\n')
    (out/f"cook_time_{kind}.json").write_text(json.dumps(res, indent=1))
    print('\n'.join(md))
    if not a.keep: shutil.rmtree(tmp, ignore_errors=True)
    print(f"\nwrote {out/f'cook_time_{kind}.md'} and .json")
    return res


if __name__ == '__main__':
    main()
