#!/usr/bin/env bash
# The one-command GPU check of issue 11 ("FSDP done right", "Throughput measured side by side"), for a node with >= 2 GPUs:
#   (a) benchmarks/train_throughput.py for the tiny and 500m shapes, bf16 + --compile, one GPU: tokens/s and MFU;
#   (b) PRETRAIN_STEPS steps of pretraining on 2 GPUs under FSDP (configs/fsdp.yaml) and under DDP (--multi_gpu), from
#       one corpus + dedup run; their loss curves (metrics.csv) compared; the FSDP checkpoint loaded with AutoModelForCausalLM;
#   (c) (b)'s FSDP run again with pretrain.optim.activation_checkpointing=true; peak GPU memory of each run (nvidia-smi).
# Everything goes to one JSON, benchmarks/results/gpu_check.json (OUT=...). Usage, from the repository root:
#   bash benchmarks/gpu_check.sh
# Knobs (environment): PRESET (tiny), PRETRAIN_STEPS (20), CORPUS_SETS (the smoke corpus size: the local corpus in full
# takes long on CPUs and (b) needs tokens, not breadth), DATA_FROM (a runs/<preset> folder holding corpus + dedup: skip
# making them), SKIP_THROUGHPUT=1, THROUGHPUT_ARGS (--compile), LAUNCH_FSDP / LAUNCH_DDP (the launch prefixes). FORCE=1
# runs every part without a GPU (to test the plumbing on CPUs: LAUNCH_*="... --config_file configs/cpu_2proc.yaml",
# PRESET=smoke, small THROUGHPUT_ARGS). Without CUDA each part prints 'needs a GPU' and is skipped (exit 0).
set -uo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}; ACC=${ACC:-$(dirname "$PY")/accelerate}; WL=${WL:-$(dirname "$PY")/wizardlearner}
PRESET=${PRESET:-tiny}; STEPS=${PRETRAIN_STEPS:-20}; OUT=${OUT:-benchmarks/results/gpu_check.json}
CORPUS_SETS=${CORPUS_SETS---set corpus.max_files=3000 --set corpus.max_files_per_repo=400}
LAUNCH_FSDP=${LAUNCH_FSDP:-$ACC launch --config_file configs/fsdp.yaml --num_processes 2}
LAUNCH_DDP=${LAUNCH_DDP:-$ACC launch --multi_gpu --num_processes 2 --mixed_precision bf16}
SCR=$(mktemp -d /tmp/wl_gpu_check.XXXXXX); mkdir -p "$(dirname "$OUT")"
NGPU=$($PY -c 'import torch; print(torch.cuda.device_count())' 2>/dev/null || echo 0)
echo "gpu_check: $NGPU GPU(s); scratch $SCR; results -> $OUT"
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 HF_DATASETS_OFFLINE=1 PYTHONUNBUFFERED=1

# (a) throughput, one GPU, bf16 + compile (train_throughput.py prints 'needs a GPU' and exits 0 without CUDA)
if [ "${SKIP_THROUGHPUT:-0}" != 1 ]; then
  for p in tiny 500m; do
    CUDA_VISIBLE_DEVICES=${CUDA_VISIBLE_DEVICES:-0} $PY benchmarks/train_throughput.py --preset $p \
      ${THROUGHPUT_ARGS---compile} $([ "${FORCE:-0}" = 1 ] || echo --require-gpu) --out "$SCR/throughput_$p.json" 2>&1 | tee "$SCR/throughput_$p.log" | grep -v '^{' || true
  done
fi

# (b, c) pretraining on 2 processes: each run in its own runs dir, from the same corpus + dedup
envs() { echo "WIZARDLEARNER_RUNS_DIR=$SCR/$1/runs WIZARDLEARNER_REPORTS_DIR=$SCR/$1/reports WIZARDLEARNER_DATA_CARDS_DIR=$SCR/$1/cards"; }
if [ "$NGPU" -ge 2 ] || [ "${FORCE:-0}" = 1 ]; then
  if [ -n "${DATA_FROM:-}" ]; then mkdir -p "$SCR/data/runs/$PRESET" && cp -a "$DATA_FROM"/corpus* "$DATA_FROM"/dedup* "$SCR/data/runs/$PRESET/"
  else
    for s in corpus dedup; do
      echo "== $s --preset $PRESET (CPU work)"
      env $(envs data) $WL launch $s --preset $PRESET $CORPUS_SETS > "$SCR/data_$s.log" 2>&1 || { echo "$s failed: $SCR/data_$s.log"; tail -5 "$SCR/data_$s.log"; }
    done
  fi
  for run in fsdp ddp fsdp_ac; do
    mkdir -p "$SCR/$run/runs" && cp -a "$SCR/data/runs/$PRESET" "$SCR/$run/runs/"
    extra=""; launch=$LAUNCH_FSDP
    [ $run = ddp ] && launch=$LAUNCH_DDP
    [ $run = fsdp_ac ] && extra="--set pretrain.optim.activation_checkpointing=true"
    echo "== pretrain $run: $launch ... $STEPS steps"
    smi=""
    if command -v nvidia-smi >/dev/null && [ "$NGPU" -ge 1 ]; then   # peak memory per GPU as the driver sees it (incl. the CUDA context)
      nvidia-smi --query-gpu=index,memory.used --format=csv,noheader,nounits -lms 250 > "$SCR/$run.smi" & smi=$!
    fi
    t0=$(date +%s)
    env $(envs $run) $launch -m wizardlearner.cook launch pretrain --preset $PRESET --set pretrain.max_steps=$STEPS \
      $CORPUS_SETS $extra > "$SCR/$run.log" 2>&1
    echo "rc=$? wall_s=$(( $(date +%s) - t0 ))" > "$SCR/$run.rc"
    [ -n "$smi" ] && kill "$smi" 2>/dev/null
    cat "$SCR/$run.rc"; grep -E "pretrain: 2 process|steps, .* tokens|Error|error" "$SCR/$run.log" | tail -4
  done
else
  echo "pretrain on 2 GPUs (FSDP, DDP, activation checkpointing): needs 2 GPUs, found $NGPU: skipped."
fi

# one JSON: throughput records, loss curves compared, the FSDP checkpoint loaded, peak memory
SCR=$SCR PRESET=$PRESET NGPU=$NGPU OUT=$OUT LOSS_TOL=${LOSS_TOL:-0.05} $PY - <<'EOF'
import csv, datetime, json, os
from pathlib import Path
scr, preset, out, tol = Path(os.environ['SCR']), os.environ['PRESET'], Path(os.environ['OUT']), float(os.environ['LOSS_TOL'])
rec = dict(date=datetime.datetime.now(datetime.timezone.utc).isoformat(timespec='seconds'), preset=preset,
           gpus=int(os.environ['NGPU']), scratch=str(scr), throughput={}, pretrain={})
try:
    import torch; rec['torch'] = torch.__version__
    rec['device'] = torch.cuda.get_device_name(0) if torch.cuda.is_available() else 'no CUDA'
except Exception as e: rec['device'] = f'torch not importable: {e}'
for p in ('tiny', '500m'):
    f = scr/f'throughput_{p}.json'
    if not f.exists(): rec['throughput'][p] = 'skipped (needs a GPU) or failed: see throughput_*.log'; continue
    t = json.loads(f.read_text()); n = t['notes']; n.pop('step_s_rounds', None)
    rec['throughput'][p] = t   # the whole record of benchmarks/train_throughput.py but the per-step times
    print(f"{p} shape: " + ', '.join(f"{k} {v:,.0f} tok/s" + (f" (MFU {n['mfu'][k]:.1%})" if n['mfu'] else '')
                                     for k, v in n['tokens_per_s_median'].items()) + f"; {n['ratios']}")
def curve(run):
    f = scr/run/'runs'/preset/'pretrain'/'train'/'metrics.csv'
    return {int(r['step']): float(r['loss']) for r in csv.DictReader(open(f))} if f.exists() else None
def peak_mib(run):
    f = scr/f'{run}.smi'
    if not f.exists() or not f.stat().st_size: return None
    peak = {}
    for line in f.read_text().splitlines():
        try: i, m = (int(x) for x in line.split(','))
        except ValueError: continue
        peak[i] = max(peak.get(i, 0), m)
    return peak
for run in ('fsdp', 'ddp', 'fsdp_ac'):
    rc = (scr/f'{run}.rc').read_text().split() if (scr/f'{run}.rc').exists() else None
    if rc is None: rec['pretrain'][run] = 'skipped: needs 2 GPUs'; continue
    c, m = curve(run), scr/run/'runs'/preset/'pretrain'/'manifest.json'
    man = json.loads(m.read_text()) if m.exists() else {}
    rec['pretrain'][run] = dict(**{k: int(v) for k, v in (x.split('=') for x in rc)}, steps=len(c or {}),
                                final_loss=c[max(c)] if c else None, summary=man.get('summary'),
                                peak_gpu_mib_nvidia_smi=peak_mib(run),
                                engine_line=next((l.strip() for l in open(scr/f'{run}.log') if 'pretrain: 2 process' in l), None))
def compare(a, b):
    ca, cb = curve(a), curve(b)
    if not ca or not cb: return 'skipped: a run is missing'
    common = sorted(set(ca) & set(cb)); d = [abs(ca[s] - cb[s]) for s in common]
    return dict(steps=len(common), max_abs_diff=round(max(d), 5), mean_abs_diff=round(sum(d) / len(d), 5), tol=tol,
                ok=len(common) == len(ca) == len(cb) and max(d) <= tol)
# stated tolerance: FSDP 2 casts the weights to bf16, DDP autocasts op by op, so bf16 rounding differs step by step
rec['fsdp_vs_ddp'], rec['fsdp_ac_vs_fsdp'] = compare('fsdp', 'ddp'), compare('fsdp_ac', 'fsdp')
ck = scr/'fsdp'/'runs'/preset/'pretrain'/'checkpoint'
if ck.exists():
    import torch
    from transformers import AutoModelForCausalLM
    from transformers.utils import logging as hf_logging
    hf_logging.disable_progress_bar()
    m, info = AutoModelForCausalLM.from_pretrained(ck, output_loading_info=True)
    ref = scr/'ddp'/'runs'/preset/'pretrain'/'checkpoint'
    r = AutoModelForCausalLM.from_pretrained(ref) if ref.exists() else None
    sd, rsd = m.state_dict(), (r.state_dict() if r is not None else {})
    rec['fsdp_checkpoint'] = dict(path=str(ck), loads=True, **{k: sorted(map(str, v)) for k, v in info.items()},
        params=sum(p.numel() for p in m.parameters()), finite=all(bool(torch.isfinite(p).all()) for p in m.parameters()),
        max_abs_weight_diff_vs_ddp=max((float((sd[k] - rsd[k]).abs().max()) for k in sd if k in rsd), default=None))
    rec['fsdp_checkpoint']['ok'] = rec['fsdp_checkpoint']['finite'] and not any(info.values())
else: rec['fsdp_checkpoint'] = 'skipped: no FSDP run' if not (scr/'fsdp.rc').exists() else 'missing: the FSDP run wrote no checkpoint'
out.write_text(json.dumps(rec, indent=1, default=str))
for k in ('fsdp_vs_ddp', 'fsdp_ac_vs_fsdp', 'fsdp_checkpoint'): print(f"{k}: {rec[k]}")
for run, v in rec['pretrain'].items():
    print(f"{run}: {v if isinstance(v, str) else {k: v[k] for k in ('rc', 'wall_s', 'steps', 'final_loss', 'peak_gpu_mib_nvidia_smi')}}")
print(f"wrote {out}")
EOF
