"""Peak memory of the data plane at 1x and 4x the corpus: each data stage runs as `wizardlearner launch <stage>` in its
own process (isolated runs, reports and data-card folders under a temporary directory), and its peak resident memory is
read from the kernel when it ends. Issue 11's goal: peak memory must not grow with the corpus (4x / 1x <= 1.3).

    python benchmarks/data_plane_memory.py [--preset smoke] [--scales 1 4] [--json benchmarks/results/data_plane_memory.json]

Scale k multiplies `corpus.max_files` and `corpus.max_files_per_repo` of the preset by k (`--set`), so the corpus and
everything after it is about k times larger (the JSON says how much larger it really was: files and bytes in and out).

Two memory numbers per stage:
- `peak_rss_mb`: the largest resident set of any one process of the stage (the stage or one of its workers), from
  `os.wait4`, which the kernel fills with the maximum over the process and its waited-for descendants;
- `peak_tree_rss_mb`: the largest sum of the resident sets of the stage's process tree, sampled every 0.2 s (pages
  shared by forked workers count once per process, so this overstates what the tree holds).

To add a stage (e.g. tokenization), add one entry to `STAGES`: its name, the command that runs it (a function of the
scale's environment: preset and --set flags) and a function that reads its numbers back from the runs folder.
"""
import argparse, json, os, subprocess, sys, tempfile, threading, time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CLI = str(Path(sys.executable).with_name('wizardlearner'))


def folder_bytes(p) -> int:
    "Bytes on disk of a file or of every file under a folder."
    p = Path(p)
    return p.stat().st_size if p.is_file() else sum(f.stat().st_size for f in p.rglob('*') if f.is_file())


def corpus_numbers(runs: Path, preset: str) -> dict:
    "Files and bytes in and out of chapter 01, from its manifest."
    m = json.loads((runs/preset/'corpus'/'manifest.json').read_text())
    c = m['counts']
    return dict(files_in=c['read'], bytes_in=c['read_bytes'], files_out=m['summary']['files_kept'], bytes_out=c['kept_bytes'],
                disk_bytes_out=folder_bytes(runs/preset/'corpus'/'files'))


def dedup_numbers(runs: Path, preset: str) -> dict:
    "Files in and out of chapter 02 (bytes: the Parquet output on disk), from its manifest."
    m = json.loads((runs/preset/'dedup'/'manifest.json').read_text())
    led = m['ledgers']['files']
    return dict(files_in=led['n_in'], files_out=led['n_kept'], instruction_pairs=m['summary']['instruction_pairs'],
                disk_bytes_in=folder_bytes(runs/preset/'corpus'/'files'), disk_bytes_out=folder_bytes(runs/preset/'dedup'/'files'))


def _overrides(sets: list[str]) -> dict:
    "The `--set K=V` flags as the overrides dict `get_preset` takes (values JSON when they parse)."
    out = {}
    for k, v in (a.split('=', 1) for a in sets if a != '--set'):
        try: out[k] = json.loads(v)
        except json.JSONDecodeError: out[k] = v
    return out


# the data step of chapter 04 alone (tokenizer, token shards, held-out split), as pretrain's `run` does it on the main process
TOKENIZE = """import json, sys
from pathlib import Path
from wizardlearner.core import get_preset, get_settings, stage_config
from wizardlearner.stages import DedupOutputs
from wizardlearner.pretrain import PretrainConfig, prepare_data
P = get_preset(sys.argv[1], json.loads(sys.argv[2]))
out = get_settings().runs_dir/P.name/'tokenize_bench'; out.mkdir(parents=True, exist_ok=True)
prepare_data(P, stage_config(PretrainConfig, P, 'pretrain'), DedupOutputs.load(P), out)"""


def tokenize_numbers(runs: Path, preset: str) -> dict:
    "Documents, tokens and blocks the data step wrote (its token shards' blocks.json)."
    b = json.loads((runs/preset/'tokenize_bench'/'train_blocks'/'blocks.json').read_text())
    kept = json.loads((runs/preset/'dedup'/'manifest.json').read_text())['ledgers']['files']['n_kept']
    return dict(files_in=kept, files_out=b.get('n_docs'), tokens_out=b.get('n_tokens'), blocks_out=b.get('n_blocks'),
                disk_bytes_in=folder_bytes(runs/preset/'dedup'/'files'), disk_bytes_out=folder_bytes(runs/preset/'tokenize_bench'/'train_blocks'))


# one entry per stage, run in this order at each scale: name, argv(preset, set_flags) -> command, numbers(runs, preset) -> dict
STAGES = [
    dict(name='corpus', argv=lambda preset, sets: [CLI, 'launch', 'corpus', '--preset', preset, *sets], numbers=corpus_numbers),
    dict(name='dedup', argv=lambda preset, sets: [CLI, 'launch', 'dedup', '--preset', preset, *sets], numbers=dedup_numbers),
    dict(name='tokenize', argv=lambda preset, sets: [sys.executable, '-c', TOKENIZE, preset, json.dumps(_overrides(sets))],
         numbers=tokenize_numbers),
]


def tree_rss(pid: int) -> int:
    "Sum of VmRSS (bytes) of `pid` and its descendants, read from /proc (0 where it cannot be read)."
    kids, total = {}, 0
    for d in os.listdir('/proc'):
        if not d.isdigit(): continue
        try:
            st = open(f'/proc/{d}/stat').read()
            kids.setdefault(int(st[st.rindex(')') + 2:].split()[1]), []).append(int(d))
        except (OSError, ValueError): pass
    todo = [pid]
    while todo:
        p = todo.pop(); todo += kids.get(p, [])
        try:
            for line in open(f'/proc/{p}/status'):
                if line.startswith('VmRSS:'): total += int(line.split()[1]) * 1024
        except OSError: pass
    return total


def run_measured(argv: list[str], env: dict, log: Path) -> dict:
    "Run `argv`, sampling its tree's memory; its exit status, wall time and peaks (MB)."
    peak, done = [0], threading.Event()
    t0 = time.time()
    with open(log, 'w') as f:
        p = subprocess.Popen(argv, env=env, cwd=ROOT, stdout=f, stderr=subprocess.STDOUT)
        def sample():
            while not done.wait(0.2): peak[0] = max(peak[0], tree_rss(p.pid))
        th = threading.Thread(target=sample, daemon=True); th.start()
        _, status, ru = os.wait4(p.pid, 0)   # the kernel's peak of the process and its waited-for descendants
        p.returncode = os.waitstatus_to_exitcode(status)
        done.set(); th.join()
    return dict(returncode=p.returncode, wall_s=round(time.time() - t0, 1), peak_rss_mb=round(ru.ru_maxrss / 1024, 1),
                peak_tree_rss_mb=round(peak[0] / 2**20, 1))


def measure(preset: str, scales: list[int], work: Path, keep: bool = False) -> dict:
    "Every stage of `STAGES` at every scale, each in its own runs folder; the numbers, and the ratios of the last scale to the first."
    sys.path.insert(0, str(ROOT))
    from wizardlearner.core import get_preset, stage_config
    from wizardlearner.corpus import CorpusConfig
    base = stage_config(CorpusConfig, get_preset(preset), 'corpus')
    out = dict(preset=preset, scales={}, cpus=os.cpu_count(), date=time.strftime('%Y-%m-%d'), stages=[s['name'] for s in STAGES])
    for k in scales:
        d = work/f"x{k}"
        env = dict(os.environ, WIZARDLEARNER_RUNS_DIR=str(d/'runs'), WIZARDLEARNER_REPORTS_DIR=str(d/'reports'),
                   WIZARDLEARNER_DATA_CARDS_DIR=str(d/'cards'), TQDM_DISABLE='1')
        sets = ['--set', f"corpus.max_files={base.max_files * k}", '--set', f"corpus.max_files_per_repo={base.max_files_per_repo * k}"]
        res = out['scales'][f"{k}x"] = dict(set=sets[1::2])
        for s in STAGES:
            d.mkdir(parents=True, exist_ok=True)
            r = run_measured(s['argv'](preset, sets), env, d/f"{s['name']}.log")
            if r['returncode'] != 0:
                raise SystemExit(f"{s['name']} at {k}x failed (exit {r['returncode']}); its log: {d/(s['name'] + '.log')}")
            r.update(s['numbers'](d/'runs', preset))
            res[s['name']] = r
            print(f"{k}x {s['name']:8s} {json.dumps(r)}", flush=True)
    lo, hi = f"{scales[0]}x", f"{scales[-1]}x"
    out['ratio'] = {s['name']: {key: round(out['scales'][hi][s['name']][key] / max(out['scales'][lo][s['name']][key], 1e-9), 3)
                                for key in ('peak_rss_mb', 'peak_tree_rss_mb', 'files_in', 'files_out', 'wall_s')} for s in STAGES}
    out['ratio_of'] = f"{hi} / {lo}"
    return out


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    ap.add_argument('--preset', default='smoke')
    ap.add_argument('--scales', type=int, nargs='+', default=[1, 4], help='corpus multipliers (default: 1 4)')
    ap.add_argument('--json', type=Path, default=ROOT/'benchmarks'/'results'/'data_plane_memory.json', help='write the result here')
    ap.add_argument('--work', type=Path, default=None, help='keep the runs here (default: a temporary folder, removed)')
    a = ap.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix='data_plane_memory_') as tmp:
        res = measure(a.preset, a.scales, a.work or Path(tmp))
    print(json.dumps(res['ratio'], indent=1))
    a.json.parent.mkdir(parents=True, exist_ok=True)
    a.json.write_text(json.dumps(res, indent=1) + '\n')
    print(f"written to {a.json}")


if __name__ == '__main__':
    main()
