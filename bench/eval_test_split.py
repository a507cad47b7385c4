"""Every registered fusion method on the fixed fusion test split (fusion_ros.splits), field conventions.

    .venv/bin/python bench/eval_test_split.py [--methods baselines ssvif] [--model CKPT] [--every N]
        [--max-size 1024] [--out out/test_split] [--record BENCHMARKS.md]

The test split (m3fd ids >= 02000, roadscene FLIR_08000+ and FLIR_video_*, tno 21-25, msrs test) is
never seen by training or model selection (fusion_ros.data excludes it by default). Pairs are fused at
their own size (at most ``--max-size`` px on the long side) and scored as CDDFuse's evaluator does (README,
"Metric conventions"): MI (nats), VIF, Qabf, SSIM (skimage's, summed over both sources), Delta-E (mean
CIEDE2000 between visible and fused RGB; lower is better), plus EN and the Gaussian SSIM. Prints one table
per dataset and the mean over all pairs, and whether each learned method beats every baseline.
"""
from __future__ import annotations

import argparse
from pathlib import Path

from benchlib import append_record, machine
from fusion_ros import registry
from fusion_ros.evaluate import EvalConfig, build_methods, make_pair, run_methods, summarize, write_tables
from fusion_ros.imaging import ThermalNormConfig
from fusion_ros.io import read_pair
from fusion_ros.splits import TEST_SPLIT_DESCRIPTION, held_out_pairs

ROOT = Path(__file__).resolve().parents[1]
METRICS = ['MI', 'VIF', 'Qabf', 'SSIM', 'DeltaE', 'EN', 'SSIM_gauss']
#: Issue 8's bar: the learned model beats each baseline on these (higher), Delta-E lower, and
#: MI >= guided's and >= 0.6 x max's.
HIGHER = ('VIF', 'Qabf', 'SSIM')
#: The baselines issue 8 names (texmax, added later, is compared with but is not part of the issue's bar).
ISSUE8_BASELINES = ('average', 'max', 'pca', 'laplacian', 'wavelet', 'guided')


def verdict(overall: dict[str, dict[str, float]], learned: str) -> list[str]:
    """Lines saying, metric by metric, whether ``learned`` clears issue 8's bar against every baseline."""
    baselines = [b for b in ISSUE8_BASELINES if b in overall and b != learned]
    me = overall[learned]
    lines = []
    for m in HIGHER:
        worse = [b for b in baselines if overall[b][m] >= me[m]]
        lines.append(f'- {m}: {me[m]:.4f} ' + ('beats every baseline' if not worse else
                                                f'does NOT beat {", ".join(worse)}'))
    worse = [b for b in baselines if overall[b]['DeltaE'] <= me['DeltaE']]
    lines.append(f'- DeltaE: {me["DeltaE"]:.4f} ' + ('lower than every baseline' if not worse else
                                                    f'NOT lower than {", ".join(worse)}'))
    if 'guided' in overall and 'max' in overall:
        ok = me['MI'] >= overall['guided']['MI'] and me['MI'] >= 0.6 * overall['max']['MI']
        lines.append(f'- MI: {me["MI"]:.4f} vs guided {overall["guided"]["MI"]:.4f} and 0.6 x max '
                     f'{0.6 * overall["max"]["MI"]:.4f}: ' + ('met' if ok else 'NOT met'))
    return lines


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--data-root', type=Path, default=ROOT.parent / 'shared' / 'data')
    ap.add_argument('--methods', nargs='+', default=['baselines', 'ssvif'])
    ap.add_argument('--model', type=Path, help='checkpoint of the ssvif method (default: the shipped one)')
    ap.add_argument('--every', type=int, default=1, help='score every N-th test pair (quick looks)')
    ap.add_argument('--max-size', type=int, default=1024)
    ap.add_argument('--out', type=Path, default=Path('out/test_split'))
    ap.add_argument('--record', type=Path, help='append the table to this markdown file')
    ap.add_argument('--thermal-norm', choices=('auto', 'percentile'), default='auto',
                    help="'auto' (default): 8-bit thermal files as they are, the field's protocol; 'percentile': "
                         "stretched to 0.5-99.5 %% per image, as the node feeds its thermal stream (sources are "
                         "then scored as stretched too)")
    ap.add_argument('--verdict', nargs='+', help="methods checked against issue 8's bar (default: every "
                    'non-baseline method run)')
    args = ap.parse_args()

    files = held_out_pairs(args.data_root)[::args.every]
    config = EvalConfig(methods=tuple(args.methods), metrics=tuple(METRICS), model_path=args.model)
    methods, skipped = build_methods(config.methods, config)
    for s in skipped:
        print(s)

    def pairs():
        for p in files:
            arr = read_pair(p.rgb, p.thermal, ThermalNormConfig() if args.thermal_norm == 'percentile' else None)
            yield make_pair(f'{p.scene}/{p.stem}', p.scene, arr.rgb, arr.thermal, args.max_size)

    result = run_methods(pairs(), methods, METRICS, total=len(files))
    summary = summarize(result.rows, METRICS, overall=True)
    cats = {r['category'] for r in summary}
    overall = {r['method']: {m: r[f'{m}_mean'] for m in METRICS} for r in summary
               if r['category'] == ('all' if 'all' in cats else next(iter(cats)))}
    learned = args.verdict or ([m.name for m in methods if registry.get(m.name).kind != 'baseline'] if methods else [])
    lines = []
    for name in learned:
        if name in overall:
            lines += [f'\n{name} against issue 8\'s bar (mean over all pairs):'] + verdict(overall, name)
    command = '.venv/bin/python bench/eval_test_split.py --methods ' + ' '.join(args.methods) + (
        ' --verdict ' + ' '.join(args.verdict) if args.verdict else '') + ''.join(
        f' --{k.replace("_", "-")} {v}' for k, v in (('every', args.every), ('max_size', args.max_size))) + (
        ' --thermal-norm percentile' if args.thermal_norm == 'percentile' else '')
    header = (f'### Fusion methods on the fixed test split ({len(files)} pairs)\n\n'
              f'Command: `{command}`{" --model " + str(args.model) if args.model else ""}. '
              f'Split: {TEST_SPLIT_DESCRIPTION}; never used for training or model selection. Pairs at most '
              f'{args.max_size} px on the long side. Scored as CDDFuse\'s evaluator does (README, Metric '
              'conventions): MI in nats, VIF and SSIM (skimage\'s) summed over both sources, Delta-E = mean '
              'CIEDE2000 between visible and fused RGB (lower is better), SSIM_gauss = Gaussian 11x11 SSIM. '
              f'Machine: {machine()}. Per dataset, then all pairs.\n\n')
    paths = write_tables(result, METRICS, args.out, header=header)
    text = paths['summary_md'].read_text() + '\n'.join(lines) + '\n'
    paths['summary_md'].write_text(text)
    print(text)
    append_record(args.record, text)


if __name__ == '__main__':
    main()
