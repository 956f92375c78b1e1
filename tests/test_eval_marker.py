"""Pass means the test code ran to its end, through the eval API: on HumanEval, a completion that leaves before the
tests (sys.exit(0), exit(), quit(), raise SystemExit, os._exit(0)) scores 0 even when it holds the right solution,
while the canonical solutions score 164/164. Each completion here is the canonical solution followed by the exit, so
without the sandbox's end marker every one of them would pass (exit status 0) and with the exit ignored they would
pass too: only "ran to its end" scores them 0."""
import time
import pytest
from wizardlearner.core import load_humaneval
from wizardlearner.eval import judge_humaneval
from wizardlearner.sandbox import SandboxUnavailable, sandbox_mode

EXITS = {'sys.exit(0)': 'import sys\nsys.exit(0)', 'exit()': 'exit()', 'quit()': 'quit()',
         'raise SystemExit': 'raise SystemExit', 'os._exit(0)': 'import os\nos._exit(0)'}


def _usable():
    try: return bool(sandbox_mode())
    except SandboxUnavailable: return False


pytestmark = pytest.mark.skipif(not _usable(), reason='the sandbox refuses to run programs here (no bubblewrap, no opt-in)')


def as_gen(completions, chat=False):
    "A `humaneval_completions`-shaped dict for completions written by hand (one list per problem)."
    return dict(completions=completions, n_samples=len(completions[0]), temperature=0.0, chat=chat, n_truncated=0, gen_s=0.0)


def check(problems, chat=False):
    "Canonical solutions all pass; each exit after the canonical solution (base prompt or chat answer) scores 0."
    if chat:
        ref = [[f"```python\n{p['prompt']}{p['canonical_solution']}```"] for p in problems]
        cheat = [[f"Here it is.\n```python\n{p['prompt']}{p['canonical_solution']}\n{e}\n```" for e in EXITS.values()] for p in problems]
    else:
        ref = [[p['canonical_solution']] for p in problems]
        cheat = [[f"{p['canonical_solution']}\n{e}\n" for e in EXITS.values()] for p in problems]
    t0 = time.time()
    good = judge_humaneval(problems, as_gen(ref, chat), ks=(1,), workers=2)
    bad = judge_humaneval(problems, as_gen(cheat, chat), ks=(1, 5), workers=2)
    assert good['pass@1'] == 1.0, [(q['task_id'], q['errors']) for q in good['problems'] if q['c'] < q['n']]
    assert (bad['pass@1'], bad['pass@5']) == (0.0, 0.0)
    assert bad['status_counts'] == {'failed': len(problems) * len(EXITS)}
    assert all('did not run to its end' in e for q in bad['problems'] for e in q['errors'])   # exit 0, caught by the marker
    return time.time() - t0


def test_exit_chat_answers_score_zero_on_a_sample():
    check(load_humaneval()[3::41], chat=True)


def test_exit_completions_score_zero_on_all_164():
    "All 164 problems: canonical 164/164, every exit 0 (about 45 s on 2 workers)."
    problems = load_humaneval()
    assert len(problems) == 164
    secs = check(problems)
    print(f"164 problems x {1 + len(EXITS)} programs: {secs:.1f} s")
