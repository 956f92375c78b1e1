"""What the annotator's compute dtype costs in quality: chapter 03 run once per dtype (float32, dynamic int8, and bf16
where the CPU has it natively) on the same dedup output, with its ROC-AUCs (Arctic's protocol and against
length-matched negatives), the head it chose, its embedding speed, and how much of float32's selected HQ set each
dtype selects too. float32 is the baseline: the reference vectors, sentence-transformers' own precision.

    python benchmarks/annotator_dtype.py [--preset smoke] [--dtypes float32,int8,bfloat16] [--json out.json]

Reads `runs/<preset>/dedup` (cook the preset up to dedup first); the annotator runs write to a temporary folder, so the
book's own runs are untouched. `--emulate-avx2` caps the math libraries at AVX2 (`core.AVX2_ONLY_ENV`) to time the
dtypes as an AVX2-only CPU would run them; the ROC-AUCs do not depend on it.
"""
import argparse, json, os, sys, tempfile
from pathlib import Path

from avx2_cap import rerun_capped


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.split('\n\n')[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--preset', default='smoke')
    ap.add_argument('--dtypes', default='float32,int8,bfloat16', help="comma list; bfloat16 is skipped where the CPU has no native bf16")
    ap.add_argument('--emulate-avx2', action='store_true', help='cap the math libraries at AVX2 (core.AVX2_ONLY_ENV)')
    ap.add_argument('--json', default=None, help='write the record here')
    a = ap.parse_args(argv)
    if a.emulate_avx2: rerun_capped(argv)   # a new process: the kernels read the caps when they load
    from wizardlearner.core import benchmark_result, cpu_has_native_bf16, get_settings, machine_line
    real = get_settings()
    dedup = real.runs_dir/a.preset/'dedup'
    if not (dedup/'manifest.json').exists():
        sys.exit(f"{dedup} has no dedup output: run `wizardlearner cook --preset {a.preset} --only corpus,dedup` first.")
    dtypes = [d for d in a.dtypes.split(',') if d != 'bfloat16' or cpu_has_native_bf16()]
    with tempfile.TemporaryDirectory(prefix='annotator-dtype-') as tmp:
        for k in ('runs', 'reports', 'data_cards'): os.environ[f'WIZARDLEARNER_{k.upper()}_DIR'] = str(Path(tmp)/k)
        (Path(tmp)/'runs'/a.preset).mkdir(parents=True)
        for stage in ('corpus', 'dedup'): (Path(tmp)/'runs'/a.preset/stage).symlink_to(real.runs_dir/a.preset/stage)
        from wizardlearner import annotator
        from wizardlearner.store import iter_rows
        rows = {}
        for d in dtypes:
            o = annotator.run(a.preset, {'annotator.dtype': d})
            m = json.loads(Path(o.manifest).read_text())
            hq = {r['id']: r.get('n_tokens', 0) for r in iter_rows(o.hq)}
            rows[d] = dict(chunks_per_s=m['summary']['chunks_per_s'], variant=m['summary']['variant'],
                           roc_auc=m['summary']['roc_auc'], roc_auc_length_matched=m['summary']['roc_auc_length_matched'],
                           by_head={r['variant']: [r['roc_auc'], r['roc_auc_length_matched']] for r in m['variants']},
                           embed_s=m['timings']['embed_s'], hq=hq)
            print(f"{d}: {rows[d]['variant']} ROC-AUC {rows[d]['roc_auc']:.4f}, length-matched {rows[d]['roc_auc_length_matched']:.4f}, "
                  f"{rows[d]['chunks_per_s']:.1f} chunks/s", flush=True)
    base = rows['float32']['hq'] if 'float32' in rows else None
    for d, r in rows.items():
        hq = r.pop('hq')
        r['hq_files'] = len(hq)
        if base is not None:   # how much of float32's selection this dtype selects too
            r['hq_files_shared_with_float32'] = len(set(hq) & set(base))
            r['hq_tokens_shared_with_float32'] = round(sum(base[i] for i in set(hq) & set(base)) / max(sum(base.values()), 1), 4)
    label = lambda d: {'int8': 'int8 dynamic'}.get(d, d)
    b = benchmark_result('annotator compute dtype', unit='chunks/s', baseline='float32', script='benchmarks/annotator_dtype.py',
                         results={label(d): r['chunks_per_s'] for d, r in rows.items()}, preset=a.preset,
                         quality={label(d): r for d, r in rows.items()}, emulated_avx2=a.emulate_avx2, machine=machine_line())
    if a.json: Path(a.json).write_text(json.dumps(b, indent=1) + '\n')
    return b


if __name__ == '__main__':
    main()
