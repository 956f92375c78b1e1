"""Fast checks of the annotator's pure pieces (no embedder loaded): chunk spans, per-language selection by tokens or
files within a budget, the counts table, the variant choice, file vectors, outliers and padding counts."""
import math
import numpy as np
import pytest

from wizardlearner.annotator import (AnnotatorConfig, chunk_spans, choose_variant, file_embeddings, outlier_mask,
                                     padded_tokens, select_top, selection_counts)


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
