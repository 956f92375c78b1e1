"""`wizardlearner cook --preset smoke` end to end: every chapter runs, accounts for its items, and a rerun skips."""
import json, subprocess, sys, time
from pathlib import Path
import pytest
from conftest import ROOT, run_cook

DATA_STAGES = ('corpus', 'dedup', 'annotator')


def manifest(book, stage):
    return json.loads((book['runs']/stage/'manifest.json').read_text())


def test_cook_runs_every_chapter_within_budget(smoke_book):
    from wizardlearner.core import STAGES
    for stage in STAGES:
        m = manifest(smoke_book, stage)
        assert m['status'] == 'ok' and m['preset'] == 'smoke', stage
        assert m['config_hash'] and m['package_versions']['torch'] and m['wall_time_s'] >= 0
    assert smoke_book['seconds'] < 15 * 60, f"smoke cook took {smoke_book['seconds']:.0f} s (budget 15 min)"


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


def test_every_checkpoint_loads_with_auto_classes(smoke_book):
    from transformers import AutoModelForCausalLM, AutoTokenizer
    ckpts = {f"{s}.{k}": v for s in ('pretrain', 'anneal', 'sft', 'dpo')
             for k, v in manifest(smoke_book, s)['outputs'].items() if k.startswith('checkpoint')}
    assert {'pretrain.checkpoint', 'anneal.checkpoint', 'sft.checkpoint', 'dpo.checkpoint'} <= set(ckpts)
    for name, path in ckpts.items():
        model = AutoModelForCausalLM.from_pretrained(path)
        tok = AutoTokenizer.from_pretrained(path)
        ids = tok('def add(a, b):\n    return a + b\n', return_tensors='pt').input_ids
        assert model(ids).logits.shape[-1] >= len(tok) - 1, name
    sft_tok = AutoTokenizer.from_pretrained(ckpts['sft.checkpoint'])
    assert sft_tok.chat_template, 'the SFT tokenizer has no chat template'
    text = sft_tok.apply_chat_template([{'role': 'user', 'content': 'hi'}], tokenize=False, add_generation_prompt=True)
    assert '<|im_start|>user\nhi<|im_end|>' in text and text.endswith('<|im_start|>assistant\n')


def test_eval_reports_pass_at_1_and_perplexity_for_every_checkpoint(smoke_book):
    import math
    rows = json.loads(Path(manifest(smoke_book, 'eval')['outputs']['results']).read_text())
    rows = rows if isinstance(rows, list) else rows['checkpoints']
    assert {r['stage'] for r in rows} == {'pretrain', 'anneal', 'sft', 'dpo'}
    for r in rows:
        assert 0.0 <= r['pass@1'] <= 1.0 and sum(r['status_counts'].values()) == 164, r['label']
        assert math.isfinite(r['ppl']) and r['ppl'] > 1 and r['ppl_tokens'] > 1000, r['label']
    # annealing from the stable checkpoint lowers held-out perplexity (MiniCPM's loss drop in the decay)
    ppl = {r['label']: r['ppl'] for r in rows}
    assert ppl['anneal/linear'] < ppl['pretrain'], ppl


def test_second_cook_skips_everything_quickly(smoke_book):
    p, secs = run_cook(smoke_book['tmp'])
    assert p.returncode == 0, p.stdout + p.stderr
    assert secs < 60, f"a no-op cook took {secs:.0f} s"
    assert p.stdout.count(' skipped (') == 8 and ' running ' not in p.stdout, p.stdout
    status = json.loads((smoke_book['reports']/'cook_status.json').read_text())
    assert [r['status'] for r in status] == ['skipped'] * 8


def test_changed_parameter_reruns_that_chapter_and_downstream_only(smoke_book):
    "Changing eval's field reruns eval alone (the last chapter, so it is the cheapest real rerun)."
    p, _ = run_cook(smoke_book['tmp'], '--set', 'eval.max_problems=3', '--only', 'dpo,eval')
    assert p.returncode == 0, p.stdout + p.stderr
    assert 'dpo        skipped' in p.stdout and 'eval       running' in p.stdout, p.stdout


def test_import_does_no_work():
    "`import wizardlearner.pretrain` costs at most 1 s more than torch, transformers and accelerate alone."
    def t(code):
        best = 1e9
        for _ in range(3):
            t0 = time.time(); subprocess.run([sys.executable, '-c', code], check=True, timeout=120); best = min(best, time.time() - t0)
        return best
    base = t('import torch, transformers, accelerate')
    ours = t('import torch, transformers, accelerate; import wizardlearner.pretrain, wizardlearner.eval, wizardlearner.dedup')
    assert ours - base <= 1.0, f"importing wizardlearner costs {ours - base:.2f} s over its dependencies"
