"""Does `OMP_WAIT_POLICY=PASSIVE` help? tokens/s of the bare PyTorch training loop on the smoke shape
(`benchmarks/train_throughput.py --sides bare`, a fresh process per run, since OpenMP reads the policy at start) with
the policy unset (OpenMP's default: threads spin a while before sleeping), PASSIVE (threads sleep at once), and the
one the cook picks (`cook.omp_wait_policy` from `cook.others_busy`, measured with the busy process already running, just before the
run), on an idle machine and with one busy process beside it (as a second job would be); interleaved rounds, medians.
With `--eval`, also the seconds of the eval chapter's Run section (its model generates while the sandbox judges in
worker processes) with the policy unset and PASSIVE, on an idle machine, from the preset's runs (cook it first).

    python benchmarks/omp_wait_policy.py [--rounds 3] [--steps 15] [--eval] [--preset smoke] [--json out.json]
"""
import argparse, json, os, statistics, subprocess, sys, tempfile
from pathlib import Path

HERE = Path(__file__).parent


def _env(policy: str | None) -> dict:
    env = {k: v for k, v in os.environ.items() if k != 'OMP_WAIT_POLICY'}
    if policy: env['OMP_WAIT_POLICY'] = policy
    return env


def tokens_per_s(policy: str, busy: bool, steps: int) -> tuple[float, str]:
    "tokens/s of one fresh training process under `policy` ('unset', 'PASSIVE' or 'cook'), and the policy it ran with."
    from wizardlearner.cook import omp_wait_policy, others_busy
    hog = subprocess.Popen([sys.executable, '-c', 'while True: pass']) if busy else None
    try:
        p = omp_wait_policy(others_busy())[0] if policy == 'cook' else (None if policy == 'unset' else policy)
        with tempfile.TemporaryDirectory() as d:
            out = Path(d)/'r.json'
            subprocess.run([sys.executable, str(HERE/'train_throughput.py'), '--sides', 'bare', '--rounds', '1', '--steps', str(steps),
                            '--out', str(out)], env=_env(p), check=True, capture_output=True, text=True)
            return json.loads(out.read_text())['results']['bare PyTorch loop']['value'], p or 'unset'
    finally:
        if hog: hog.kill(); hog.wait()


def eval_seconds(policy: str | None, preset: str) -> float:
    "Wall seconds of the eval chapter's Run section in a fresh process, its upstream runs linked from the book's runs folder."
    from wizardlearner.core import get_settings
    runs = get_settings().runs_dir/preset
    with tempfile.TemporaryDirectory() as d:
        (Path(d)/'runs'/preset).mkdir(parents=True)
        for s in ('corpus', 'dedup', 'annotator', 'pretrain', 'anneal', 'sft', 'dpo'): (Path(d)/'runs'/preset/s).symlink_to(runs/s)
        env = _env(policy) | {f'WIZARDLEARNER_{k.upper()}_DIR': str(Path(d)/k) for k in ('runs', 'reports', 'data_cards')}
        subprocess.run([sys.executable, '-c', f'from wizardlearner import eval; eval.run({preset!r})'], env=env, check=True,
                       capture_output=True, text=True)
        return json.loads((Path(d)/'runs'/preset/'eval'/'manifest.json').read_text())['wall_time_s']


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    ap.add_argument('--rounds', type=int, default=3)
    ap.add_argument('--steps', type=int, default=15)
    ap.add_argument('--eval', action='store_true', help="also time the eval chapter's Run section per policy")
    ap.add_argument('--preset', default='smoke', help='whose runs the eval timing reads')
    ap.add_argument('--json', type=Path, default=None)
    a = ap.parse_args(argv)
    from wizardlearner.core import machine_line
    cases = [(p, b) for b in (False, True) for p in ('unset', 'PASSIVE', 'cook')]
    runs, chosen = {c: [] for c in cases}, {c: [] for c in cases}
    secs = {p: [] for p in ('unset', 'PASSIVE')} if a.eval else {}
    for _ in range(a.rounds):
        for c in cases:
            v, p = tokens_per_s(*c, a.steps); runs[c].append(v); chosen[c].append(p)
        for p in secs: secs[p].append(eval_seconds(None if p == 'unset' else p, a.preset))
    name = lambda p, b: f"{'cook picks' if p == 'cook' else p}, {'one busy process beside' if b else 'idle'}"
    med = {c: statistics.median(v) for c, v in runs.items()}
    rec = dict(name='OMP_WAIT_POLICY and training throughput (bare loop, smoke shape)', unit='tokens/s', machine=machine_line(),
               script='benchmarks/omp_wait_policy.py', rounds=a.rounds, steps=a.steps,
               results={name(*c): dict(median=round(m, 1), per_round=[round(x, 1) for x in runs[c]]) for c, m in med.items()},
               cook_picked={('busy' if b else 'idle'): chosen[(p, b)] for p, b in cases if p == 'cook'},
               passive_over_unset={'idle': round(med[('PASSIVE', False)] / med[('unset', False)], 3),
                                   'busy': round(med[('PASSIVE', True)] / med[('unset', True)], 3)},
               cook_over_best={('busy' if b else 'idle'): round(med[('cook', b)] / max(med[('unset', b)], med[('PASSIVE', b)]), 3) for b in (False, True)})
    if secs:
        rec['eval_run_section_s'] = {p: dict(median=round(statistics.median(v), 1), per_round=[round(x, 1) for x in v]) for p, v in secs.items()}
        rec['eval_passive_speedup'] = round(statistics.median(secs['unset']) / statistics.median(secs['PASSIVE']), 3)
    for k, v in rec['results'].items(): print(f"{k:<45} {v['median']:9.1f} tokens/s  {v['per_round']}")
    print(f"PASSIVE / unset: idle {rec['passive_over_unset']['idle']:.3f}, with a busy process {rec['passive_over_unset']['busy']:.3f}; "
          f"the cook picked {rec['cook_picked']}, at {rec['cook_over_best']} of the faster side")
    if secs: print(f"eval Run section: {rec['eval_run_section_s']}; PASSIVE is {rec['eval_passive_speedup']:.3f}x as fast")
    if a.json: a.json.write_text(json.dumps(rec, indent=1) + '\n')
    return rec


if __name__ == '__main__':
    main()
