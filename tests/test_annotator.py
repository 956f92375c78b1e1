"""Fast checks of the annotator's pure pieces (no embedder loaded): chunk spans, per-language selection by tokens or
files within a budget, the counts table, the variant choice, file vectors, outliers and padding counts, and the steps
of `run` that need no embedder (sampling and roles, stream padding, the length baseline, selection with its ledger)."""
import math
import numpy as np
import pytest

from wizardlearner.annotator import (AnnotatorConfig, StreamItems, choose_variant, length_baseline, outlier_mask, pick_variant,
                                     sample_files, select_files, select_top, selection_counts, stream_padding, stream_texts)
from wizardlearner.embedder import chunk_spans, file_embeddings, padded_tokens
from wizardlearner.core import Ledger, chapter
from wizardlearner.stages import AnnotatorOutputs


def test_chunk_spans_cover_top_middle_bottom():
    assert chunk_spans(10, 254) == [(0, 10)]
    assert chunk_spans(300, 254) == [(0, 254), (46, 300)]
    for n in (509, 1000, 12345):
        (a, b), (c, d), (e, f) = chunk_spans(n, 254)
        assert (a, f) == (0, n) and b - a == d - c == f - e == 254 and a <= c <= e


@pytest.mark.parametrize('by', ['tokens', 'files'])
def test_select_top_keeps_each_language_share(by):
    rng = np.random.default_rng(0)
    langs = ['Python']*400 + ['C']*100 + ['Go']*3
    scores = rng.random(len(langs)).tolist()
    toks = rng.integers(50, 2000, len(langs)).tolist()
    r = select_top(langs, scores, toks, top_fraction=0.1, by=by)
    assert set(r) <= {None, 'below_percentile'}
    rows = {x['language']: x for x in selection_counts(langs, toks, r, repeats=4)}
    for l in ('Python', 'C'):
        x = rows[l]
        kept = [i for i, (ll, why) in enumerate(zip(langs, r)) if ll == l and why is None]
        # kept files are the language's best: every kept score beats every dropped one
        dropped = [scores[i] for i, (ll, why) in enumerate(zip(langs, r)) if ll == l and why is not None]
        assert min(scores[i] for i in kept) > max(dropped)
        share = x['kept_tokens']/x['candidate_tokens'] if by == 'tokens' else x['kept_files']/x['candidate_files']
        assert abs(share - 0.1) < 0.02, (l, share)
        assert x['tokens_after_repeats'] == 4*x['kept_tokens']
    assert sum(x['candidate_files'] for x in rows.values()) == len(langs)


def test_select_top_token_budget_is_split_by_language_share():
    langs = ['A']*50 + ['B']*50
    toks = [100]*50 + [300]*50                      # B holds 3/4 of the tokens
    r = select_top(langs, list(range(100)), toks, top_fraction=1.0, token_budget=4000)
    rows = {x['language']: x for x in selection_counts(langs, toks, r)}
    assert rows['A']['kept_tokens'] <= 1000 and rows['B']['kept_tokens'] <= 3000
    assert rows['A']['kept_tokens'] > 900 and rows['B']['kept_tokens'] > 2700
    assert 'over_token_budget' in r


def test_choose_variant_ties_go_to_preference():
    assert choose_variant({'hq': .7, 'ins': .9, 'hqins': .8})[0] == 'ins'
    assert choose_variant({'hq': .7, 'ins': .9, 'hqins': .898}, tie=0.005)[0] == 'hqins'
    assert choose_variant({'hq': .7, 'ins': .9, 'hqins': .898}, tie=0.0)[0] == 'ins'
    assert choose_variant({'hq': .95, 'ins': math.nan, 'hqins': .9})[0] == 'hq'


def test_config_validates():
    with pytest.raises(ValueError, match='variant'): AnnotatorConfig(variant='edu')
    with pytest.raises(ValueError, match='validation'): AnnotatorConfig(validation=('mbpp',))
    with pytest.raises(ValueError, match='repeats'): AnnotatorConfig(repeats=0)
    assert AnnotatorConfig().repeats == 4 and AnnotatorConfig().variant == 'auto'


def test_file_embeddings_and_outliers():
    X = np.eye(4, dtype=np.float32)[[0, 0, 1, 2]]
    E = file_embeddings(X, np.array([0, 0, 1, 1]), 3)
    assert np.allclose(E[0], [1, 0, 0, 0]) and np.allclose(E[1], [0, 1/np.sqrt(2), 1/np.sqrt(2), 0]) and not E[2].any()
    rng = np.random.default_rng(1)
    pts = np.concatenate([rng.normal(0, .1, (200, 8)), [[5.0]*8, [-5.0]*8]])
    assert np.flatnonzero(outlier_mask(pts, 20, share=2/202)).tolist() == [200, 201]
    assert not outlier_mask(pts, 20, share=0).any()


def test_padded_tokens():
    assert padded_tokens([5, 100, 6, 90], 2, sort=False) == 2*100 + 2*90
    assert padded_tokens([5, 100, 6, 90], 2, sort=True) == 2*100 + 2*6


def test_run_declares_dedup_as_its_only_input():
    import inspect
    from wizardlearner.annotator import run
    assert chapter('annotator').inputs == ('dedup',)
    assert inspect.signature(run).return_annotation in (AnnotatorOutputs, 'AnnotatorOutputs')


def _fake_files(n=60):
    return [dict(id=f"r{k % 3}/f{k}.py", repo='python-stdlib' if k % 3 == 0 else f"r{k % 3}", language='Python' if k % 4 else 'C',
                 content='' if k == 7 else f"x = {k}") for k in range(n)]


def test_sample_files_gives_disjoint_roles_and_a_balanced_ledger():
    files = _fake_files()
    ins = [dict(id=f"i{k}", response='return 1', source_id=f"r1/f{k}.py") for k in range(1, 60, 3)]
    cfg = AnnotatorConfig(max_files=40, n_hq=6, n_holdout=8, n_negatives=10, n_ins=5, map_files=12)
    led = Ledger('files')
    smp = sample_files(files, ins, cfg, led)
    assert led.n_in == 60 and len(smp.scored) + led.n_dropped == 60 and led.dropped['not_scored_over_max_files'] == 20
    assert len(smp.hq) == 6 and all(files[i]['repo'] == 'python-stdlib' for i in smp.hq)
    assert not set(smp.negatives) & set(smp.holdout) and set(smp.negatives + smp.holdout) <= set(smp.scored)
    assert not {r['source_id'] for r in smp.ins} & {files[i]['id'] for i in smp.holdout}
    assert smp.map_set == set(smp.scored[:12])
    assert smp == sample_files(files, ins, cfg, Ledger('again'))                 # same seed, same sample
    assert smp.scored != sample_files(files, ins, AnnotatorConfig(max_files=40, seed=1), Ledger('x')).scored
    texts, it = stream_texts(files, smp, {'humaneval': ['def f(): pass']})
    assert [texts[it.pos[i]] for i in smp.holdout] == [files[i]['content'] for i in smp.holdout]
    assert texts[it.he[0]] == 'def f(): pass' and it.positives['hqins'] == it.hq + it.ins
    assert set(it.held_py) <= set(it.held)


def test_stream_padding_counts_chunks_from_file_lengths():
    sp = stream_padding(np.array([10, 300, 600]), chunk_len=256, n_special=2, batch_size=2)
    assert (sp['chunks'], sp['real_tokens']) == (6, 12 + 5*256)                   # 1 short, 2 full, 3 full chunks
    assert sp['padded_sorted'] == 4*256 + 2*256 and sp['padded_random_order'] >= sp['padded_sorted']


def test_length_baseline_and_pick_variant():
    it = StreamItems(pos={}, hq=[], ins=[], neg=[], held=[2, 3], held_py=[3], val={'humaneval': [0, 1]})
    row, curves = length_baseline(np.array([50, 80, 400, 600]), it, np.array([60, 70]))
    assert (row['roc_auc'], row['roc_auc_python'], row['roc_auc_length_matched']) == (1.0, 1.0, 0.5)
    assert set(curves['roc_auc']) == set(curves['roc_auc_length_matched']) == {'length'}
    rows = [dict(variant='ANN-HQ', roc_auc=.99, roc_auc_length_matched=.6), dict(variant='ANN-INS', roc_auc=.9, roc_auc_length_matched=.8)]
    assert pick_variant(rows, AnnotatorConfig())[0] == 'ins'                       # length-matched column by default
    assert pick_variant(rows, AnnotatorConfig(choose_by='files'))[0] == 'hq'
    assert pick_variant(rows, AnnotatorConfig(variant='hqins'))[0] == 'hqins'


def test_select_files_writes_scores_and_repeats_and_balances_the_ledger():
    files = [dict(id=f"f{k}", language=('Python', 'C')[k % 2], content='x') for k in range(20)]
    led = Ledger('files'); led.add_in(20)
    reasons, kept, rows, total = select_files(files, list(range(20)), {k: k/20 for k in range(20)}, {k: 100 for k in range(20)},
                                              AnnotatorConfig(top_fraction=0.2, repeats=3), led)
    assert [r['id'] for r in kept] == ['f19', 'f18', 'f17', 'f16'] and all(r['repeats'] == 3 for r in kept)
    assert led.n_kept == 4 and led.dropped == {'below_percentile': 16}
    assert total['tokens_after_repeats'] == 3*total['kept_tokens'] == 1200
