"""Training on several processes, as a cook on a multi-GPU node does it, here on 2 CPU processes (gloo):

- `cook --processes 2` makes the pretrain chapter launch itself under `accelerate launch` (2 processes) from its
  papermill kernel, stream the run's log into the executed notebook, and train the same steps as one process with
  `grad_accum` 2 (the same global batch, so the same loss curve up to the order of floating-point sums);
- FSDP's sharded weights are gathered whole for `save_pretrained` (torch's `fully_shard` on 2 CPU processes: accelerate
  runs FSDP only on GPUs, so this checks the book's gather-and-save path directly).
"""
import csv, json, shutil, subprocess, sys, textwrap
from pathlib import Path
import pytest
from conftest import ROOT, WL, cook_env

STEPS = 24        # enough steps for the curves to move off their start; a few seconds each on 2 cores
LOSS_TOL = 2e-3   # stated tolerance: gloo's all-reduce sums two gradients in another order than accumulation in one process


def losses(runs: Path) -> dict[int, float]:
    with open(runs/'smoke'/'pretrain'/'train'/'metrics.csv') as f:
        return {int(r['step']): float(r['loss']) for r in csv.DictReader(f)}


@pytest.fixture(scope='module')
def two_runs(smoke_book, tmp_path_factory):
    "The pretrain chapter cooked twice from the smoke book's dedup output: on 2 processes, and on 1 with grad_accum 2."
    out = {}
    for name, extra in (('two', ['--processes', '2']), ('one', ['--set', 'pretrain.optim.grad_accum=2'])):
        tmp = tmp_path_factory.mktemp(f'mp_{name}')
        (tmp/'runs').mkdir()
        shutil.copytree(smoke_book['runs'], tmp/'runs'/'smoke', symlinks=True)
        p = subprocess.run([WL, 'cook', '--preset', 'smoke', '--only', 'pretrain', '--set', f'pretrain.max_steps={STEPS}', *extra],
                           cwd=ROOT, env=cook_env(tmp), capture_output=True, text=True, timeout=1200)
        assert p.returncode == 0, f"cook {name} failed:\n{p.stdout[-3000:]}\n{p.stderr[-3000:]}"
        out[name] = tmp
    return out


def test_cook_trains_pretrain_on_two_processes_visibly_in_the_notebook(two_runs):
    nb = (two_runs['two']/'reports'/'smoke'/'04_pretrain.ipynb').read_text()
    assert 'pretrain: launching 2 processes' in nb
    assert 'pretrain: 2 processes (DDP, cpu' in nb      # the engine's own line, from inside the launched run
    m = json.loads((two_runs['two']/'runs'/'smoke'/'pretrain'/'manifest.json').read_text())
    assert m['status'] == 'ok' and m['summary']['steps'] == STEPS
    assert m['batches']['micro_batches'] == STEPS * 2    # two processes, one micro-batch each per step


def test_two_processes_match_one_process_with_grad_accum_2(two_runs):
    two, one = losses(two_runs['two']/'runs'), losses(two_runs['one']/'runs')
    assert sorted(two) == sorted(one) == list(range(1, STEPS + 1))
    worst = max(abs(two[s] - one[s]) for s in two)
    assert worst <= LOSS_TOL, f"largest per-step loss gap {worst:.2e} > {LOSS_TOL}"
    assert one[STEPS] < one[1] - 0.5                     # and both runs actually learned
    val = [json.loads((t/'runs'/'smoke'/'pretrain'/'manifest.json').read_text())['summary']['val_loss'] for t in (two_runs['two'], two_runs['one'])]
    assert abs(val[0] - val[1]) <= LOSS_TOL, val


FSDP_SAVE = textwrap.dedent('''
    import os, sys, torch, torch.distributed as dist
    from torch.distributed.device_mesh import init_device_mesh
    from torch.distributed.fsdp import fully_shard
    from wizardlearner.model import ModelConfig, build_model
    from wizardlearner.trainer import save_checkpoint
    dist.init_process_group('gloo')
    m = build_model(ModelConfig(hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4,
                                num_key_value_heads=2), 300, seed=0)
    torch.save(m.state_dict(), sys.argv[1] + '/before.pt')
    mesh = init_device_mesh('cpu', (int(os.environ['WORLD_SIZE']),))
    for layer in m.model.layers: fully_shard(layer, mesh=mesh)
    fully_shard(m, mesh=mesh)
    assert type(m.model.layers[0].mlp.up_proj.weight).__name__ == 'DTensor'   # each process holds half of each matrix
    save_checkpoint(m, None, sys.argv[1] + '/ck')
    dist.destroy_process_group()
''')


def test_fsdp_sharded_weights_are_saved_whole(tmp_path):
    (tmp_path/'save.py').write_text(FSDP_SAVE)
    p = subprocess.run([sys.executable, '-m', 'torch.distributed.run', '--nproc_per_node', '2', str(tmp_path/'save.py'), str(tmp_path)],
                       capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stderr[-3000:]
    import torch
    from transformers import AutoModelForCausalLM
    before = torch.load(tmp_path/'before.pt')
    after = AutoModelForCausalLM.from_pretrained(tmp_path/'ck').state_dict()
    assert set(after) == set(before)
    assert max((after[k] - before[k]).abs().max().item() for k in before) == 0.0


def _tiny_run(tmp, **switches):
    "Loss per step of 4 steps of a tiny model on fixed random tokens, with the engine's switches set."
    import torch
    from wizardlearner.model import ModelConfig, build_model
    from wizardlearner.trainer import ScheduleConfig, TrainConfig, causal_lm_loss, train
    g = torch.Generator().manual_seed(0)
    data = [{'input_ids': torch.randint(0, 300, (2, 16), generator=g)} for _ in range(4)]
    m = build_model(ModelConfig(hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4,
                                num_key_value_heads=2), 300, seed=0)
    r = train(m, data, causal_lm_loss, TrainConfig(max_steps=4, schedule=ScheduleConfig(peak_lr=1e-2), log_every=0, **switches),
              tmp, resume=False)
    return [h['loss'] for h in r.history]


def test_activation_checkpointing_trains_the_same_steps(tmp_path):
    "Recomputing activations in the backward pass changes memory, not the result."
    plain, ckpt = _tiny_run(tmp_path/'plain'), _tiny_run(tmp_path/'ckpt', activation_checkpointing=True)
    assert max(abs(a - b) for a, b in zip(plain, ckpt)) < 1e-5, (plain, ckpt)


@pytest.mark.slow
def test_compiled_layers_train_the_same_steps(tmp_path):
    "torch.compile of every decoder layer (minutes of compiling on a CPU) gives the same losses."
    plain, comp = _tiny_run(tmp_path/'plain'), _tiny_run(tmp_path/'comp', compile=True)
    assert max(abs(a - b) for a, b in zip(plain, comp)) < 1e-4, (plain, comp)
