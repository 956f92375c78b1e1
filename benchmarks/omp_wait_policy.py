"""Does `OMP_WAIT_POLICY=PASSIVE` help training? tokens/s of the bare PyTorch training loop on the smoke shape
(`benchmarks/train_throughput.py --sides bare`, a fresh process per run, since OpenMP reads the policy at start) with
the policy unset (OpenMP's default: threads spin a while before sleeping) and PASSIVE (threads sleep at once), on an
idle machine and with one busy process beside it (as a sandbox worker or a second job would be), interleaved rounds,
medians.

    python benchmarks/omp_wait_policy.py [--rounds 3] [--steps 15] [--json out.json]
"""
import argparse, json, os, statistics, subprocess, sys, tempfile
from pathlib import Path

HERE = Path(__file__).parent


def tokens_per_s(policy: str | None, busy: bool, steps: int) -> float:
    env = {k: v for k, v in os.environ.items() if k != 'OMP_WAIT_POLICY'}
    if policy: env['OMP_WAIT_POLICY'] = policy
    hog = subprocess.Popen([sys.executable, '-c', 'while True: pass']) if busy else None
    try:
        with tempfile.TemporaryDirectory() as d:
            out = Path(d)/'r.json'
            subprocess.run([sys.executable, str(HERE/'train_throughput.py'), '--sides', 'bare', '--rounds', '1', '--steps', str(steps),
                            '--out', str(out)], env=env, check=True, capture_output=True, text=True)
            return json.loads(out.read_text())['results']['bare PyTorch loop']['value']
    finally:
        if hog: hog.kill(); hog.wait()


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    ap.add_argument('--rounds', type=int, default=3)
    ap.add_argument('--steps', type=int, default=15)
    ap.add_argument('--json', type=Path, default=None)
    a = ap.parse_args(argv)
    from wizardlearner.core import machine_line
    cases = [(p, b) for b in (False, True) for p in (None, 'PASSIVE')]
    runs = {c: [] for c in cases}
    for _ in range(a.rounds):
        for c in cases: runs[c].append(tokens_per_s(*c, a.steps))
    name = lambda p, b: f"{'PASSIVE' if p else 'unset'}, {'one busy process beside' if b else 'idle'}"
    med = {c: statistics.median(v) for c, v in runs.items()}
    rec = dict(name='OMP_WAIT_POLICY and training throughput (bare loop, smoke shape)', unit='tokens/s', machine=machine_line(),
               script='benchmarks/omp_wait_policy.py', rounds=a.rounds, steps=a.steps,
               results={name(*c): dict(median=round(m, 1), per_round=[round(x, 1) for x in runs[c]]) for c, m in med.items()},
               passive_over_unset={'idle': round(med[('PASSIVE', False)] / med[(None, False)], 3),
                                   'busy': round(med[('PASSIVE', True)] / med[(None, True)], 3)})
    for k, v in rec['results'].items(): print(f"{k:<38} {v['median']:9.1f} tokens/s  {v['per_round']}")
    print(f"PASSIVE / unset: idle {rec['passive_over_unset']['idle']:.3f}, with a busy process {rec['passive_over_unset']['busy']:.3f}")
    if a.json: a.json.write_text(json.dumps(rec, indent=1) + '\n')
    return rec


if __name__ == '__main__':
    main()
