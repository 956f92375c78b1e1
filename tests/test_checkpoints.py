"""Training checkpoints survive a kill at every write point: a tiny model is trained in a subprocess that is killed
(SIGKILL) after the weights are written, in the middle of the optimizer state, after the state folder is complete but
before the pointer names it, and between two checkpoints; a published state is also cut short afterwards. Each is then
resumed in a fresh process and must end bitwise on the weights and losses of an uninterrupted run, or refuse clearly;
the previous good state is never lost. Also: a prose edit of the trainer keeps the resume key (and the state)."""
import json, logging, os, shutil, subprocess, sys, textwrap
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
import pytest

ROOT = Path(__file__).resolve().parents[1]

# One training run of a 2-layer, 32-wide Llama on random tokens: 12 steps, a state every 3 (states 3, 6, 9, 12).
# argv: mode, folder. The kill points are made here, on the test side, by wrapping what the library calls.
SCRIPT = textwrap.dedent('''
    import io, json, logging, os, signal, sys
    from pathlib import Path
    import torch
    torch.set_num_threads(1)
    from wizardlearner.core import get_logger
    from wizardlearner.model import ModelConfig, build_model
    from wizardlearner import trainer
    from wizardlearner.trainer import ScheduleConfig, StateError, TrainConfig, causal_lm_loss, train

    CFG = TrainConfig(max_steps=12, schedule=ScheduleConfig(peak_lr=1e-2, warmup_steps=2, stable_steps=4, decay_steps=6,
                                                            min_lr=1e-3, decay_shape='1-sqrt'), log_every=0, save_every=3)
    g = torch.Generator().manual_seed(0)
    DATA = [{'input_ids': torch.randint(0, 300, (2, 16), generator=g)} for _ in range(5)]
    MC = ModelConfig(hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2)
    kill = lambda: os.kill(os.getpid(), signal.SIGKILL)   # kill -9: no cleanup, no flush, no finally
    calls = {}
    def nth(name):
        calls[name] = calls.get(name, 0) + 1
        return calls[name]

    mode, folder = sys.argv[1], Path(sys.argv[2])
    if mode == 'after_weights':      # (a) the weights file of the 2nd save is written, then the process dies
        import accelerate.utils.other as other
        orig = other.safe_save_file
        def save_file(*a, **k):
            orig(*a, **k)
            if nth('weights') == 2: kill()
        other.safe_save_file = save_file
    elif mode == 'mid_optimizer':    # (b) the optimizer state of the 2nd save is half written when the process dies
        orig = torch.save
        def save(obj, f, *a, **k):
            if str(f).endswith('optimizer.bin') and nth('optimizer') == 2:
                buf = io.BytesIO(); orig(obj, buf, *a, **k)
                Path(f).write_bytes(buf.getvalue()[:len(buf.getvalue()) // 2]); kill()
            return orig(obj, f, *a, **k)
        torch.save = save
    elif mode == 'before_pointer':   # (c) the 2nd state folder is complete and renamed; the pointer is not yet updated
        orig = trainer._publish
        def publish(*a, **k):
            if nth('publish') == 2: kill()
            return orig(*a, **k)
        trainer._publish = publish
    if mode in ('after_weights', 'mid_optimizer', 'before_pointer', 'full'):
        model = build_model(MC, 300, seed=0)
        r = train(model, DATA, causal_lm_loss, CFG, folder, desc=folder.name)
    elif mode == 'between_saves':    # (e) killed at step 8, between the states of steps 6 and 9
        def loss_fn(model, batch):
            if nth('loss') == 8: kill()
            return causal_lm_loss(model, batch)
        model = build_model(MC, 300, seed=0)
        r = train(model, DATA, loss_fn, CFG, folder, desc=folder.name)
    elif mode == 'resume':           # a fresh process: resume each folder named after the mode, in turn
        for f in sys.argv[2:]:
            f = Path(f); lines = []
            h = logging.Handler(); h.emit = lambda rec, lines=lines: lines.append(rec.getMessage())
            get_logger(f.name).addHandler(h)   # get_logger first: it sets the level, and prints too
            model = build_model(MC, 300, seed=1)   # another init: the resumed state must replace it entirely
            try: r = train(model, DATA, causal_lm_loss, CFG, f, desc=f.name)
            except StateError as e:
                (f.parent/f"{f.name}.json").write_text(json.dumps({'refused': str(e), 'log': lines})); continue
            torch.save(model.state_dict(), f.parent/f"{f.name}.pt")
            (f.parent/f"{f.name}.json").write_text(json.dumps({'resumed_from': r.resumed_from, 'state_dir': r.state_dir.name,
                                                               'history': r.history, 'log': lines}))
        sys.exit(0)
    torch.save(model.state_dict(), folder.parent/f"{folder.name}.pt")
    (folder.parent/f"{folder.name}.json").write_text(json.dumps({'resumed_from': r.resumed_from, 'state_dir': r.state_dir.name,
                                                                 'history': r.history, 'log': []}))
''')

KILLED = ('after_weights', 'mid_optimizer', 'before_pointer', 'between_saves')


def _py(tmp: Path, *args):
    env = {**os.environ, 'PYTHONUNBUFFERED': '1', 'OMP_NUM_THREADS': '1'}
    return subprocess.run([sys.executable, str(tmp/'script.py'), *map(str, args)], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=300)


@pytest.fixture(scope='module')
def runs(tmp_path_factory):
    "The reference run, the four killed runs, what each left, and their resumes in one fresh process."
    from wizardlearner.trainer import resume_state, state_problems, STATE_POINTER
    tmp = tmp_path_factory.mktemp('ckpt')
    (tmp/'script.py').write_text(SCRIPT)
    with ThreadPoolExecutor(2) as ex:   # two at a time: the machine has 2 cores
        procs = dict(zip(('full', *KILLED), ex.map(lambda m: _py(tmp, m, tmp/m), ('full', *KILLED))))
    assert procs['full'].returncode == 0, procs['full'].stderr[-3000:]
    left = {}
    for m in KILLED:
        assert procs[m].returncode == -9, f"{m}: the kill point was not reached (rc {procs[m].returncode}):\n{procs[m].stderr[-3000:]}"
        d = tmp/m
        left[m] = dict(pointer=json.loads((d/STATE_POINTER).read_text())['state'], states=sorted(p.name for p in d.glob('state-*')),
                       resume=resume_state(d).name, problems=state_problems(resume_state(d)))
    # (d) a published state cut short after the fact: the newest weights of a finished run lose half their bytes
    shutil.copytree(tmp/'full', tmp/'truncated')
    w = tmp/'truncated'/'state-12'/'model.safetensors'; w.write_bytes(w.read_bytes()[:w.stat().st_size // 2])
    # no usable state at all: both kept states damaged
    shutil.copytree(tmp/'full', tmp/'all_damaged')
    for s in ('state-9', 'state-12'): (tmp/'all_damaged'/s/'optimizer.bin').write_bytes(b'')
    p = _py(tmp, 'resume', *(tmp/m for m in (*KILLED, 'truncated', 'all_damaged')))
    assert p.returncode == 0, p.stderr[-3000:]
    return dict(tmp=tmp, left=left)


def _result(tmp, name):
    import torch
    r = json.loads((tmp/f"{name}.json").read_text())
    if (tmp/f"{name}.pt").exists(): r['weights'] = torch.load(tmp/f"{name}.pt")
    return r


def _same_run(tmp, name):
    "The resumed run ended bitwise on the reference run's weights and per-step losses, learning rates and gradient norms."
    import torch
    ref, got = _result(tmp, 'full'), _result(tmp, name)
    assert 'refused' not in got, got['refused']
    assert set(got['weights']) == set(ref['weights'])
    diff = [k for k in ref['weights'] if not torch.equal(ref['weights'][k], got['weights'][k])]
    assert not diff, f"{name}: {len(diff)} tensors differ from the uninterrupted run, e.g. {diff[:3]}"
    cols = ('step', 'lr', 'loss', 'grad_norm', 'tokens')
    assert [[h[c] for c in cols] for h in got['history']] == [[h[c] for c in cols] for h in ref['history']]
    return got


@pytest.mark.parametrize('mode', KILLED)
def test_a_kill_keeps_the_previous_state_and_resume_is_bitwise(runs, mode):
    tmp, left = runs['tmp'], runs['left'][mode]
    # the previous published state (step 3 for a kill during the save at step 6; step 6 between saves) is intact
    want = 'state-6' if mode == 'between_saves' else 'state-3'
    assert (left['pointer'], left['resume'], left['problems']) == (want, want, []), left
    if mode in ('after_weights', 'mid_optimizer'): assert 'state-6.tmp' in left['states'], left   # died inside the save
    if mode == 'before_pointer': assert 'state-6' in left['states'], left                        # complete, unpublished
    got = _same_run(tmp, mode)
    assert got['resumed_from'] == int(want.split('-')[1])
    assert any(f"resumed at step {got['resumed_from']} from {want}" in l for l in got['log']), got['log']
    # afterwards: the pointer names the final state, the last two published states are kept, nothing half-written is left
    d = tmp/mode
    assert json.loads((d/'latest.json').read_text()) == {'state': 'state-12'}
    assert sorted(p.name for p in d.glob('state-*')) == ['state-12', 'state-9']


def test_a_damaged_published_state_is_passed_over_for_the_one_before(runs):
    tmp = runs['tmp']
    got = _same_run(tmp, 'truncated')
    assert got['resumed_from'] == 9 and got['state_dir'] == 'state-12'
    said = ' '.join(got['log'])
    assert 'resuming from state-9' in said and 'passed over state-12 (model.safetensors has' in said, got['log']
    from wizardlearner.trainer import state_problems
    assert state_problems(tmp/'truncated'/'state-12') == []   # rewritten in full by the resumed run


def test_no_usable_state_is_a_clear_refusal_that_deletes_nothing(runs):
    tmp = runs['tmp']
    got = _result(tmp, 'all_damaged')
    msg = got.get('refused', '')
    assert 'No usable training state' in msg and str(tmp/'all_damaged') in msg and 'Delete' in msg, got
    assert 'state-12 (optimizer.bin has 0 bytes' in msg and 'state-9 (optimizer.bin has 0 bytes' in msg, msg
    assert sorted(p.name for p in (tmp/'all_damaged').glob('state-*')) == ['state-12', 'state-9']
    assert not (tmp/'all_damaged.pt').exists()


def test_prose_edit_of_the_trainer_keeps_the_resume_key_and_the_state(tmp_path):
    "Issue point 4: a docstring or comment edit in the trainer's code must not discard resumable state; a code edit must."
    import torch
    from wizardlearner.core import Settings, get_logger, get_preset, resume_key
    from wizardlearner.model import ModelConfig, build_model
    from wizardlearner.trainer import ScheduleConfig, TrainConfig, causal_lm_loss, prepare_run_dir, train
    root = tmp_path/'checkout'
    shutil.copytree(ROOT/'wizardlearner', root/'wizardlearner', ignore=shutil.ignore_patterns('__pycache__'))
    (root/'nbs').mkdir(); shutil.copy(ROOT/'nbs'/'04_pretrain.ipynb', root/'nbs')
    S = Settings(runs_dir=tmp_path/'runs', reports_dir=tmp_path/'reports', data_cards_dir=tmp_path/'cards',
                 default_preset='smoke', num_proc=1, root=root)
    P, f = get_preset('smoke'), root/'wizardlearner'/'trainer.py'
    src = f.read_text()
    k0 = resume_key(P, 'pretrain', S)
    # what a one-word prose fix in 04c_trainer.ipynb's exported cells does to trainer.py: a docstring and a comment change
    prose = src.replace('"Train `model` in place on', '"Trains `model` in place on', 1).replace('# --- resume:', '# --- resuming:', 1)
    assert prose != src and prose.count('Trains `model`') == 1
    f.write_text(prose); k1 = resume_key(P, 'pretrain', S)
    code = prose.replace('micro_done += cfg.grad_accum * world', 'micro_done += world * cfg.grad_accum', 1)
    assert code != prose
    f.write_text(code); k2 = resume_key(P, 'pretrain', S)
    assert k1 == k0 and k2['code'] != k0['code'] and {**k2, 'code': k0['code']} == k0
    # at the level of resume: a state made under k0 is resumed under k1, discarded under k2 (with a log line saying why)
    torch.set_num_threads(1)
    mc = ModelConfig(hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2)
    data = [{'input_ids': torch.randint(0, 300, (2, 16), generator=torch.Generator().manual_seed(0))}]
    cfg = lambda n: TrainConfig(max_steps=n, schedule=ScheduleConfig(peak_lr=1e-2), log_every=0)
    d = prepare_run_dir(tmp_path/'train', k0)
    train(build_model(mc, 300, seed=0), data, causal_lm_loss, cfg(3), d, desc='k0')
    assert train(build_model(mc, 300, seed=0), data, causal_lm_loss, cfg(5), prepare_run_dir(d, k1), desc='k1').resumed_from == 3
    said = []
    h = logging.Handler(); h.emit = lambda r: said.append(r.getMessage())
    get_logger('trainer').addHandler(h)
    try: d = prepare_run_dir(d, k2)
    finally: get_logger('trainer').removeHandler(h)
    assert not list(d.glob('state-*')) and not (d/'latest.json').exists()
    assert any('not resumed (changed: code)' in l for l in said), said
