"""`wizardlearner.plan`: the parameter count matches the model the book builds, the big presets are the size their names
say, the memory model orders its setups as it must, and the README's presets table is the one the plan generates."""
from pathlib import Path

import pytest
from conftest import readme_block

from wizardlearner.presets import PRESETS
from wizardlearner.model import build_model, count_params
from wizardlearner.plan import (PLAN_END, PLAN_START, format_plan, param_counts, plan, presets_markdown, stage_configs,
                                train_flops_per_token)
from wizardlearner.trainer import model_flops_per_token
from wizardlearner.pretrain import model_config

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize('preset', ['smoke', 'tiny'])
def test_meta_count_is_the_built_models_count(preset):
    "The plan's parameters (meta device) are those of the model chapter 04 builds, really built on the CPU."
    pc = stage_configs(preset)['pretrain']
    mcfg = model_config(pc)
    model = build_model(mcfg, pc.vocab_size, seed=0)
    counted = param_counts(mcfg, pc.vocab_size)
    assert counted['total'] == count_params(model)
    assert counted['non_embedding'] == count_params(model, exclude_embeddings=True)
    assert plan(preset)['params']['total'] == count_params(model)
    # and the FLOPs the plan prices are those the engine's MFU divides by (tied output head included)
    assert model_flops_per_token(model, pc.seq_len) == train_flops_per_token(mcfg, counted, pc.seq_len)


@pytest.mark.parametrize('preset,size', [('500m', 500e6), ('1b', 1e9)])
def test_big_presets_are_the_size_of_their_names(preset, size):
    n = plan(preset)['params']['total']
    assert abs(n / size - 1) <= 0.10, f"{preset}: {n / 1e6:.0f}M parameters"


@pytest.mark.parametrize('preset', ['500m', '1b'])
def test_fsdp_and_checkpointing_lower_memory_and_the_preset_fits(preset):
    "Over 8 GPUs FSDP needs less memory per GPU than DDP, checkpointing less than keeping every activation, and every stage fits 80 GB."
    p = plan(preset, gpus=8, gpu_mem_gb=80)
    for r in p['stages']:
        tot = {k: sum(v.values()) for k, v in r['memory'].items()}
        assert tot['FSDP'] < tot['DDP'] and tot['FSDP+ckpt'] < tot['DDP+ckpt'], (r['stage'], tot)
        assert tot['DDP+ckpt'] < tot['DDP'] and tot['FSDP+ckpt'] < tot['FSDP'], (r['stage'], tot)
        assert r['setup'] is not None, f"{preset}.{r['stage']} fits no setup on 8 x 80 GB: {tot}"
    txt = format_plan(preset, gpus=8, gpu_mem_gb=80)
    assert 'FSDP GB' in txt and 'FSDP+ckpt GB' in txt and 'DOES NOT FIT' not in txt


def test_decay_keeps_pretrainings_global_batch():
    "WSD: the decay continues the stable run, so every preset's anneal trains at pretraining's tokens per step."
    for name in PRESETS:
        pre, ann = plan(name)['stages'][:2]
        assert pre['seqs_per_step'] * pre['seq_len'] == ann['seqs_per_step'] * ann['seq_len'], name


def test_readme_presets_table_is_not_stale():
    "nbs/index.ipynb (the README's source) holds exactly the table `presets_markdown()` generates, between the plan markers."
    table = readme_block(PLAN_START, PLAN_END)
    assert table == presets_markdown(), 'the presets table is stale: put presets_markdown() between the markers (fill_plan_table)'
