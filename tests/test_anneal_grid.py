"""The `cpu` preset runs the annealing grid issue 12 asks for, and any cell of it is one `--set` away."""
from wizardlearner.anneal import AnnealConfig, grid_arms
from wizardlearner.core import get_preset, stage_config


def arms_of(preset, overrides=None):
    return grid_arms(stage_config(AnnealConfig, get_preset(preset, overrides), 'anneal'))


def test_cpu_grid_has_every_factor():
    "Shapes, lengths of ~5/10/20% of the run, the three decay-data mixes, re-warmup, 1x vs 4x HQ, the probe; 3+ seeds."
    P = get_preset('cpu')
    arms, steps = arms_of('cpu'), P.pretrain['max_steps']
    assert P.anneal['seeds'] >= 3
    assert {a['shape'] for a in arms.values()} == {'linear', 'cosine', '1-sqrt', 'exp'}
    assert sorted({round(a['decay_steps'] / steps, 2) for a in arms.values()}) == [0.05, 0.1, 0.2]
    assert {a['data'] for a in arms.values()} == {'original', 'original+hq', 'original+hq+sft', 'probe:hq'}
    assert {a['rewarm_steps'] > 0 for a in arms.values()} == {True, False}
    assert {a['hq_repeats'] for a in arms.values()} == {1, 4}
    assert P.anneal['sft_probe_steps'] > 0
    # one factor at a time: every arm but the base differs from it in exactly one field
    base = arms['base']
    assert all(sum(a[k] != base[k] for k in base) == 1 for n, a in arms.items() if n != 'base')


def test_a_cell_of_the_grid_is_one_set_away():
    "`--set anneal.grid={} --set anneal.shape=exp` runs the exp arm alone, as its own base (what `cook --set` passes)."
    arms = arms_of('cpu', {'anneal.grid': {}, 'anneal.probe_data': None, 'anneal.shape': 'exp'})
    assert list(arms) == ['base'] and arms['base'] == {**arms_of('cpu')['shape=exp']}
