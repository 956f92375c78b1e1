"""Training throughput side by side: the book's engine (`wizardlearner.trainer.train`) against a bare PyTorch loop (the
baseline: the fastest the same model can step) and `transformers.Trainer`, on a preset's model shape, in one process,
on the same random token batches, the same AdamW (betas, eps, weight-decay groups), clipping at 1.0 and precision
(fp32 on CPU, bf16 autocast on GPU), with `--compile` / `--activation-checkpointing` applied to every side alike.

    python benchmarks/train_throughput.py [--preset smoke] [--layers N] [--seq-len T] [--batch-size B] [--steps 20]
                                          [--warmup 3] [--rounds 3] [--compile] [--threads N] [--fresh-process] [--out results.json]

The sides run interleaved for `--rounds` rounds, the order rotated each round (engine, bare, Trainer; bare, Trainer,
engine; ...) so that no side always runs first after a model build (with `--fresh-process`, each in a new process, so
that nothing one side leaves behind in threads, allocator or libraries reaches the next); each run builds the model afresh
from the same seed, trains `--warmup` untimed steps, then `--steps` timed ones. What is timed: from the end of the last
warm-up step to the end of the last step, the device synchronised at both ends. For the engine this is read from its
own per-step `wall_s` column (metrics.csv), so it includes what the engine does every step (the CSV append, logging
bookkeeping) and leaves out its setup and the training state it saves at the end. Reports tokens/s per side (median and
spread over rounds; also the median single step over all rounds, which a burst of load from other jobs moves less),
the ratios engine/bare and engine/Trainer, and FLOP/s from `trainer.model_flops_per_token`: MFU
against the GPU's data-sheet bf16 peak (`trainer.device_peak_flops`), or on CPU GFLOP/s against a measured fp32 matmul.
`--require-gpu` prints 'needs a GPU' and exits 0 on a machine without CUDA (benchmarks/gpu_check.sh uses it).
On a CPU shared with other jobs run it as the book's cook runs training there, `OMP_WAIT_POLICY=PASSIVE` (recorded in the
JSON; `cook.omp_wait_policy`): spinning OpenMP threads on oversubscribed cores made every side ~10x slower here.
"""
import argparse, datetime, gc, json, math, os, statistics, tempfile, time
from dataclasses import replace
from pathlib import Path

SIDES = ('engine', 'bare', 'trainer')
LABELS = {'engine': 'wizardlearner engine', 'bare': 'bare PyTorch loop', 'trainer': 'transformers.Trainer'}
BASELINE = 'bare'


def shape_and_config(a):
    "(PretrainConfig of the preset, its ModelConfig cut to `--layers`, seq_len, batch size) for this run."
    from wizardlearner.core import get_preset, stage_config
    from wizardlearner.pretrain import PretrainConfig, model_config
    cfg = stage_config(PretrainConfig, get_preset(a.preset), 'pretrain')
    seq, bs = a.seq_len or cfg.seq_len, a.batch_size or cfg.optim.batch_size
    mcfg = replace(model_config(replace(cfg, seq_len=seq)), **({'num_hidden_layers': a.layers} if a.layers else {}))
    return cfg, mcfg, seq, bs


def _in_fresh_process(side: str, argv) -> dict:
    "One run of `side` in a new Python process with this command's arguments; its tokens/s, step times and mean loss."
    import subprocess, sys
    args = list(sys.argv[1:] if argv is None else argv)
    drop = {'--fresh-process'}; keep = []
    it = iter(args)
    for x in it:   # the child gets the same shape and steps, one side, one round, its own record file
        if x in drop: continue
        if x in ('--sides', '--rounds', '--out'): next(it, None); continue
        if x.startswith(('--sides=', '--rounds=', '--out=')): continue
        keep.append(x)
    with tempfile.TemporaryDirectory() as d:
        out = Path(d)/'side.json'
        subprocess.run([sys.executable, __file__, *keep, '--sides', side, '--rounds', '1', '--out', str(out)],
                       check=True, capture_output=True, text=True)
        n = json.loads(out.read_text())['notes']
    res = dict(tokens_per_s=n['tokens_per_s_rounds'][side][0], step_s=n['step_s_rounds'][side][0], loss_mean=n['loss_mean_rounds'][side][0])
    if n.get('engine_step_only_tokens_per_s'): res['engine_step_only_tokens_per_s'] = n['engine_step_only_tokens_per_s'][0]
    return res


def random_batches(n: int, bs: int, seq: int, vocab: int, seed: int) -> list[dict]:
    "`n` batches of uniform random token ids (a fixed shape is all the timing needs), on the CPU like a data loader's."
    import torch
    g = torch.Generator().manual_seed(seed)
    return [{'input_ids': torch.randint(0, vocab, (bs, seq), generator=g)} for _ in range(n)]


def sync(dev):
    import torch
    if dev.type == 'cuda': torch.cuda.synchronize(dev)


def matmul_peak(dev, n: int, reps: int = 5) -> float:
    "Best FLOP/s of an n x n matmul: fp32 on CPU (on torch's threads), bf16 on GPU."
    import torch
    dt = torch.bfloat16 if dev.type == 'cuda' else torch.float32
    x, y = torch.randn(n, n, device=dev, dtype=dt), torch.randn(n, n, device=dev, dtype=dt)
    torch.matmul(x, y); sync(dev)
    best = math.inf
    for _ in range(reps):
        t = time.perf_counter(); torch.matmul(x, y); sync(dev); best = min(best, time.perf_counter() - t)
    return 2 * n**3 / best


class Bench:
    "One side's run: a fresh model (same seed), `warmup + steps` steps on `batches`; returns timed tokens/s and mean loss."
    def __init__(self, a, mcfg, vocab, batches, dev, tcfg):
        self.a, self.mcfg, self.vocab, self.batches, self.dev, self.tcfg = a, mcfg, vocab, batches, dev, tcfg
        self.total = a.warmup + a.steps
        self.tokens = a.steps * batches[0]['input_ids'].numel()

    def model(self):
        import torch
        from wizardlearner.model import build_model
        with torch.device(self.dev): return build_model(self.mcfg, self.vocab, seed=self.a.seed)

    def engine(self):
        from wizardlearner.trainer import causal_lm_loss, train
        m = self.model()
        with tempfile.TemporaryDirectory(prefix='wl_tput_') as d:
            res = train(m, self.batches, causal_lm_loss, self.tcfg, d, resume=False, desc='bench')
        h = res.history   # wall_s: since the start of the loop, after each step's bookkeeping (CSV row written)
        timed = h[self.a.warmup:]
        dt = h[-1]['wall_s'] - h[self.a.warmup - 1]['wall_s']
        compute = sum(r['tokens'] - p['tokens'] for p, r in zip(h[self.a.warmup - 1:], timed)) / \
                  sum((r['tokens'] - p['tokens']) / r['tokens_per_s'] for p, r in zip(h[self.a.warmup - 1:], timed))
        return dict(tokens_per_s=self.tokens / dt, loss_mean=sum(r['loss'] for r in h) / len(h),
                    step_s=[r['wall_s'] - p['wall_s'] for p, r in zip(h[self.a.warmup - 1:], timed)],
                    engine_step_only_tokens_per_s=compute)   # the engine's own per-step tok/s: step time without bookkeeping

    def bare(self):
        import torch, torch.nn.functional as F
        from wizardlearner.trainer import apply_switches, decay_param_groups, fused_adamw_ok
        c, m = self.tcfg, self.model()
        torch.manual_seed(c.seed)
        apply_switches(m, c); m.train()
        opt = torch.optim.AdamW(decay_param_groups(m.parameters(), c.weight_decay), lr=c.schedule.peak_lr,
                                betas=tuple(c.betas), eps=c.eps, fused=fused_adamw_ok(list(m.parameters())))   # its fastest AdamW
        bf16, losses, marks = self.dev.type == 'cuda', [], []
        for i, b in enumerate(self.batches[:self.total]):
            if i == self.a.warmup: sync(self.dev); t0 = time.perf_counter()
            if i > self.a.warmup: marks.append(time.perf_counter())   # unsynced: exact on CPU, queue time on GPU
            ids = b['input_ids'].to(self.dev, non_blocking=True)
            with torch.autocast(self.dev.type, dtype=torch.bfloat16, enabled=bf16):
                logits = m(input_ids=ids).logits
            tgt = F.pad(ids[:, 1:], (0, 1), value=-100)   # the same cross-entropy as trainer.causal_lm_nll (labels shifted,
            loss = F.cross_entropy(logits.flatten(0, 1).float(), tgt.flatten(), ignore_index=-100,   # logits not copied),
                                   reduction='sum') / (tgt.shape[0] * (tgt.shape[1] - 1))            # a mean over the targets
            loss.backward()
            torch.nn.utils.clip_grad_norm_(m.parameters(), c.max_grad_norm)
            opt.step(); opt.zero_grad(set_to_none=True)
            losses.append(loss.detach())
        sync(self.dev); t1 = time.perf_counter(); dt = t1 - t0
        return dict(tokens_per_s=self.tokens / dt, loss_mean=float(torch.stack(losses).float().mean()),
                    step_s=[b - a for a, b in zip([t0] + marks, marks + [t1])])

    def trainer(self):
        import torch
        from accelerate.state import AcceleratorState
        from transformers import Trainer, TrainerCallback, TrainingArguments
        from transformers.utils import logging as hf_logging
        from wizardlearner.trainer import apply_switches
        c, m, a, dev = self.tcfg, self.model(), self.a, self.dev
        apply_switches(m, c)
        AcceleratorState._reset_state(True)   # the engine's Accelerator of the last run must not pin this one's settings
        rows = [{'input_ids': r, 'labels': r} for b in self.batches[:self.total] for r in b['input_ids']]

        class Rows(torch.utils.data.IterableDataset):   # iterable: read in order (the same batches as the other sides)
            def __iter__(self): return iter(rows)

        marks = {}
        class Clock(TrainerCallback):
            def on_step_end(self, args, state, control, **kw):
                if state.global_step in (a.warmup, total): sync(dev)
                marks[state.global_step] = time.perf_counter()
        total = self.total
        with tempfile.TemporaryDirectory(prefix='wl_tput_hf_') as d:
            args = TrainingArguments(
                output_dir=d, max_steps=self.total, per_device_train_batch_size=self.batches[0]['input_ids'].shape[0],
                learning_rate=c.schedule.peak_lr, lr_scheduler_type='constant', warmup_steps=0,
                adam_beta1=c.betas[0], adam_beta2=c.betas[1], adam_epsilon=c.eps, weight_decay=c.weight_decay,
                max_grad_norm=c.max_grad_norm, bf16=dev.type == 'cuda', use_cpu=dev.type != 'cuda',
                **({'optim': a.trainer_optim} if a.trainer_optim else {}),
                eval_strategy='no', save_strategy='no', logging_strategy='no', report_to='none', disable_tqdm=True,
                dataloader_num_workers=0, seed=c.seed)
            verb = hf_logging.get_verbosity(); hf_logging.set_verbosity_error()
            try:
                tr = Trainer(model=m, args=args, train_dataset=Rows(), callbacks=[Clock()])
                out = tr.train()
            finally: hf_logging.set_verbosity(verb)
            opt = tr.optimizer.optimizer if hasattr(tr.optimizer, 'optimizer') else tr.optimizer
            self.trainer_optim = dict(name=args.optim if isinstance(args.optim, str) else args.optim.value,
                                      cls=type(opt).__name__, fused=bool(opt.defaults.get('fused')),
                                      decayed=sum(p.numel() for g in opt.param_groups if g['weight_decay'] > 0 for p in g['params']))
        dt = marks[self.total] - marks[a.warmup]
        return dict(tokens_per_s=self.tokens / dt, loss_mean=out.training_loss,
                    step_s=[marks[i + 1] - marks[i] for i in range(a.warmup, self.total)])


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.split('\n\n')[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--preset', default='smoke', choices=('smoke', 'tiny', '500m', '1b'), help="whose pretrain model shape, seq_len, batch")
    ap.add_argument('--layers', type=int, default=None, help='cut the model to N decoder layers (a quick run of a big shape)')
    ap.add_argument('--seq-len', type=int, default=None, help="tokens per sequence (default: the preset's pretrain.seq_len)")
    ap.add_argument('--batch-size', type=int, default=None, help="sequences per step (default: the preset's pretrain.optim.batch_size)")
    ap.add_argument('--steps', type=int, default=20, help='timed steps per run')
    ap.add_argument('--warmup', type=int, default=3, help='untimed steps first (compile, allocator, caches)')
    ap.add_argument('--rounds', type=int, default=3, help='interleaved rounds of every side')
    ap.add_argument('--sides', default=','.join(SIDES), help=f"comma-separated, from {', '.join(SIDES)}")
    ap.add_argument('--compile', action='store_true', help='torch.compile every decoder layer (trainer.apply_switches) on every side')
    ap.add_argument('--activation-checkpointing', action='store_true', help='on every side (trainer.apply_switches)')
    ap.add_argument('--trainer-optim', default=None, help="TrainingArguments.optim (default: the Trainer's own default)")
    ap.add_argument('--threads', type=int, default=None, help='torch threads for every side (default: torch\'s)')
    ap.add_argument('--matmul-n', type=int, default=None, help='size of the peak-FLOP/s matmul (default: 2048 CPU, 8192 GPU)')
    ap.add_argument('--device', default='auto', choices=('auto', 'cpu', 'cuda'))
    ap.add_argument('--require-gpu', action='store_true', help="without CUDA: print 'needs a GPU' and exit 0")
    ap.add_argument('--seed', type=int, default=0)
    ap.add_argument('--out', type=Path, default=None, help='JSON record (default: benchmarks/results/train_throughput_<preset>.json)')
    ap.add_argument('--fresh-process', action='store_true',
                    help="run every side of every round in a new process (no thread, allocator or library state carried from the side before)")
    a = ap.parse_args(argv)
    import torch
    if a.require_gpu and not torch.cuda.is_available():
        print(f"train_throughput --preset {a.preset}: needs a GPU (torch.cuda.is_available() is False): skipped.")
        return {'skipped': 'needs a GPU'}
    if a.threads: torch.set_num_threads(a.threads)
    sides = [s.strip() for s in a.sides.split(',') if s.strip()]
    if bad := [s for s in sides if s not in SIDES]: ap.error(f"--sides: unknown {bad}; choose from {SIDES}")
    if a.warmup < 1: ap.error('--warmup: at least 1 (the timed window starts after a warm-up step)')
    dev = torch.device('cuda' if a.device == 'cuda' or (a.device == 'auto' and torch.cuda.is_available()) else 'cpu')
    if a.compile:   # every run builds a fresh model: room for its recompiles, on every side alike
        import torch._dynamo
        torch._dynamo.config.cache_size_limit = max(torch._dynamo.config.cache_size_limit, 64)
    from wizardlearner.core import benchmark_result, machine_info, machine_line
    from wizardlearner.trainer import (ScheduleConfig, TrainConfig, device_peak_flops, model_flops_per_token)
    from wizardlearner.model import count_params
    cfg, mcfg, seq, bs = shape_and_config(a)
    n = a.warmup + a.steps
    tcfg = TrainConfig(max_steps=n, schedule=ScheduleConfig(peak_lr=cfg.peak_lr, stable_steps=n), grad_accum=1,
                       max_grad_norm=cfg.optim.max_grad_norm, weight_decay=cfg.optim.weight_decay,
                       mixed_precision='bf16' if dev.type == 'cuda' else 'no', log_every=0, save_every=0, seed=a.seed,
                       activation_checkpointing=a.activation_checkpointing, compile=a.compile)
    batches = random_batches(n, bs, seq, cfg.vocab_size, a.seed)
    b = Bench(a, mcfg, cfg.vocab_size, batches, dev, tcfg)
    with torch.device('meta'):
        from wizardlearner.model import build_model
        meta = build_model(mcfg, cfg.vocab_size)
    n_params, flops_tok = count_params(meta), model_flops_per_token(meta, seq)
    head = 6 * cfg.vocab_size * mcfg.hidden_size   # the LM head's matmul, per token
    head_counted = flops_tok >= 6 * n_params if mcfg.tie_word_embeddings else True   # tied: is the table counted as the head?
    del meta
    mm_n = a.matmul_n or (8192 if dev.type == 'cuda' else 2048)
    mm_peak = matmul_peak(dev, mm_n)
    gpu = dict(name=torch.cuda.get_device_name(dev), peak_bf16_flops=device_peak_flops(dev)) if dev.type == 'cuda' else None
    env = {k: os.environ.get(k) for k in ('OMP_WAIT_POLICY', 'OMP_NUM_THREADS', 'MKL_NUM_THREADS', 'KMP_BLOCKTIME')
           if os.environ.get(k) is not None}
    print(f"{a.preset} shape{f' cut to {a.layers} layers' if a.layers else ''}: {n_params / 1e6:.2f}M params "
          f"(hidden {mcfg.hidden_size}, {mcfg.num_hidden_layers} layers, vocab {cfg.vocab_size}), batch {bs} x {seq} tokens, "
          f"{dev.type}{' ' + gpu['name'] if gpu else ''}, {'bf16 autocast' if dev.type == 'cuda' else 'fp32'}"
          f"{', compiled' if a.compile else ''}{', activation checkpointing' if a.activation_checkpointing else ''}; "
          f"{torch.get_num_threads()} threads{', ' + ' '.join(f'{k}={v}' for k, v in env.items()) if env else ''}")
    print(f"{a.warmup} warm-up + {a.steps} timed steps x {a.rounds} rounds, interleaved (order rotated each round): {', '.join(sides)}")

    runs = {s: [] for s in sides}
    t_all = time.time()
    for r in range(a.rounds):
        for s in sides[r % len(sides):] + sides[:r % len(sides)]:   # rotated: each side takes each place in a round
            res = _in_fresh_process(s, argv) if a.fresh_process else getattr(b, s)()
            runs[s].append(res)
            print(f"  round {r + 1} {LABELS[s]:<22} {res['tokens_per_s']:>12,.0f} tok/s  mean loss {res['loss_mean']:.5f}", flush=True)
            gc.collect()
            if dev.type == 'cuda': torch.cuda.empty_cache()

    tps = {s: [x['tokens_per_s'] for x in runs[s]] for s in sides}
    tok_step = bs * seq   # median over every timed step of every round: robust to bursts of load from other jobs
    step_tps = {s: tok_step / statistics.median(t for x in runs[s] for t in x['step_s']) for s in sides}
    med = {s: statistics.median(v) for s, v in tps.items()}
    spread = {s: (max(v) - min(v)) / med[s] for s, v in tps.items()}
    flop_s = {s: med[s] * flops_tok for s in sides}
    peak, peak_name = (gpu['peak_bf16_flops'], 'data-sheet bf16 peak') if gpu and gpu['peak_bf16_flops'] else (mm_peak, f"measured {'bf16' if gpu else 'fp32'} matmul {mm_n}")
    util = {s: flop_s[s] / peak for s in sides}
    ratios = {f"engine/{o}": round(med['engine'] / med[o], 4) for o in ('bare', 'trainer') if 'engine' in sides and o in sides}
    step_ratios = {f"engine/{o}": round(step_tps['engine'] / step_tps[o], 4) for o in ('bare', 'trainer') if 'engine' in sides and o in sides}
    loss = {s: [round(x['loss_mean'], 6) for x in runs[s]] for s in sides}

    print(f"\n{machine_line()}; torch {torch.__version__}; {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC")
    print(f"FLOPs/token {flops_tok / 1e6:.2f}M (trainer.model_flops_per_token; LM head {head / 1e6:.2f}M of it"
          f"{'' if head_counted else ' NOT counted: the tied table is left out'}); "
          f"{'MFU against' if gpu else 'utilisation against'} {peak_name} {peak / 1e9:,.0f} GFLOP/s (measured matmul {mm_peak / 1e9:,.0f})")
    w = max(len(LABELS[s]) for s in sides)
    print(f"{'side':<{w}}  {'tok/s median':>12}  {'spread':>7}  {'x bare':>7}  {'GFLOP/s':>8}  {'MFU' if gpu else 'of peak':>7}"
          f"  {'median-step tok/s':>17}  {'x bare':>7}")
    for s in sides:
        xb = f"{med[s] / med['bare']:7.3f}" if 'bare' in med else '      -'
        xs = f"{step_tps[s] / step_tps['bare']:7.3f}" if 'bare' in med else '      -'
        print(f"{LABELS[s]:<{w}}  {med[s]:12,.0f}  {spread[s]:7.1%}  {xb}  {flop_s[s] / 1e9:8.1f}  {util[s]:7.1%}"
              f"  {step_tps[s]:17,.0f}  {xs}")
    if ratios: print('ratios (medians of rounds): ' + ', '.join(f"{k} {v:.3f}" for k, v in ratios.items())
                     + '; of median steps: ' + ', '.join(f"{k} {v:.3f}" for k, v in step_ratios.items()))
    if 'engine' in sides:
        e = statistics.median(x['engine_step_only_tokens_per_s'] for x in runs['engine'])
        print(f"engine per-step bookkeeping (metrics.csv row, etc.): {1 - med['engine'] / e:.1%} of its step time "
              f"(step alone: {e:,.0f} tok/s)")

    notes = dict(preset=a.preset, layers=mcfg.num_hidden_layers, cut=bool(a.layers), n_params=n_params, hidden=mcfg.hidden_size,
                 vocab=cfg.vocab_size, seq_len=seq, batch_size=bs, tokens_per_step=bs * seq, steps=a.steps, warmup=a.warmup,
                 rounds=a.rounds, device=dev.type, gpu=gpu, precision='bf16 autocast' if dev.type == 'cuda' else 'fp32',
                 compile=a.compile, activation_checkpointing=a.activation_checkpointing,
                 optimizer=dict(lr=cfg.peak_lr, betas=list(tcfg.betas), eps=tcfg.eps, weight_decay=tcfg.weight_decay,
                                max_grad_norm=tcfg.max_grad_norm),
                 trainer_optimizer=getattr(b, 'trainer_optim', None),
                 timing="engine: per-step wall_s of its history (CSV bookkeeping in, setup and final save out); bare and "
                        "Trainer: perf_counter from the end of the last warm-up step to the end of the last step; device synced at both ends",
                 tokens_per_s_rounds={s: [round(v, 1) for v in tps[s]] for s in sides},
                 tokens_per_s_median={s: round(med[s], 1) for s in sides},
                 spread_rel={s: round(spread[s], 4) for s in sides}, ratios=ratios,
                 median_step_tokens_per_s={s: round(step_tps[s], 1) for s in sides}, median_step_ratios=step_ratios,
                 step_s_rounds={s: [[round(t, 4) for t in x['step_s']] for x in runs[s]] for s in sides},
                 engine_step_only_tokens_per_s=[round(x['engine_step_only_tokens_per_s'], 1) for x in runs.get('engine', [])],
                 loss_mean_rounds=loss, fresh_process=a.fresh_process, flops_per_token=flops_tok, flops_per_token_lm_head=head, lm_head_counted=head_counted,
                 gflops_per_s={s: round(flop_s[s] / 1e9, 2) for s in sides},
                 peak_flops=peak, peak_kind=peak_name, matmul_flops_measured=round(mm_peak), matmul_n=mm_n,
                 utilisation={s: round(util[s], 4) for s in sides}, mfu=({s: round(util[s], 4) for s in sides} if gpu else None),
                 torch=torch.__version__, threads=torch.get_num_threads(), env=env,
                 date=datetime.datetime.now(datetime.timezone.utc).isoformat(timespec='seconds'),
                 machine=machine_line(), wall_s=round(time.time() - t_all, 1))
    if BASELINE not in med:   # no baseline measured (e.g. one side of --fresh-process): the notes alone, no ratio
        if a.out: a.out.write_text(json.dumps({'notes': notes}, indent=1, default=str))
        return notes
    only = '' if set(SIDES) <= set(sides) else ', only ' + ' and '.join(LABELS[x] for x in sides)   # fewer sides: say so in the name
    only += ', a fresh process per side and round' if a.fresh_process else ''
    rec = benchmark_result(f'training throughput ({a.preset} shape{only})', unit='tokens/s', baseline=LABELS[BASELINE],
                           results={LABELS[s]: med[s] for s in sides}, script='benchmarks/train_throughput.py', **notes)
    rec['host'] = {**machine_info(), **rec['host']}
    out = a.out or Path(__file__).parent/'results'/f'train_throughput_{a.preset}.json'
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(rec, indent=1, default=str))
    print(f"wrote {out}")
    return rec


if __name__ == '__main__':
    main()
