"""Streaming fusion speed at 640x480 on this machine: the shipped SSVIF model vs the reference methods.

    .venv/bin/python bench/bench_ssvif.py [--model models/ssvif_default.pt] [--threads N] [--record BENCHMARKS.md]

Times ``fuse(rgb, thermal)`` on one 640x480 pair (the inference the node runs per frame, colour output
included) for the shipped SSVIF model through each inference backend (torch NCHW as before, torch
channels_last = the node's torch backend, onnxruntime with ``--threads`` intra-op threads), the average
baseline and a trained per-scene model (inference only), after warm-up, and prints frames/s, median and
p90 latency and the MACs per frame. ``--threads`` sets torch's threads and onnxruntime's alike. Then the
torch rows again after :func:`fusion_ros.device.keep_frame_buffers` (what the node and the CLI set: freed
frame buffers reused instead of fresh page-faulting ``mmap`` s), unless ``--default-allocator``.
"""
from __future__ import annotations

import argparse
import datetime
import statistics
import time
from pathlib import Path

import numpy as np
import torch

from benchlib import append_record
from fusion_ros.device import keep_frame_buffers
from fusion_ros.engine import load_fusion_model, scene_fusion_model
from fusion_ros.imaging import image_to_tensor
from fusion_ros.engine import _SSVIFFuse, FusionModel
from fusion_ros.models import build_model
from fusion_ros.models.ssvif import count_macs
from fusion_ros.scene import fit_scene

ROOT = Path(__file__).resolve().parents[1]


def time_fn(fn, repeats: int) -> list[float]:
    for _ in range(3):
        fn()
    out = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t0)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--model', type=Path, default=ROOT / 'models' / 'ssvif_default.pt')
    ap.add_argument('--threads', type=int, default=0, help='torch threads (0: torch default)')
    ap.add_argument('--repeats', type=int, default=50)
    ap.add_argument('--compare-arch', default='ssvif_blend', help='streaming architecture timed beside the shipped '
                    'model with random weights (fusion_ros.models name; default ssvif_blend)')
    ap.add_argument('--default-allocator', action='store_true',
                    help="skip the second pass with fusion_ros.device.keep_frame_buffers() (the node's setting)")
    ap.add_argument('--record', type=Path)
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    rng = np.random.default_rng(0)
    rgb_np = rng.random((480, 640, 3), dtype=np.float32)
    th_np = rng.random((480, 640), dtype=np.float32)
    rgb, th = image_to_tensor(rgb_np), image_to_tensor(th_np)

    ssvif = load_fusion_model('ssvif', args.model, 'cpu', backend='torch')  # channels_last unless the net declines
    ssvif_nchw = load_fusion_model('ssvif', args.model, 'cpu', backend='torch')
    ssvif_nchw.fuse.net = ssvif_nchw.fuse.net.to(memory_format=torch.contiguous_format)  # torch as it was before
    ssvif_ort = load_fusion_model('ssvif', args.model, 'cpu', backend='auto',  # a net ONNX cannot hold: torch
                                  threads=torch.get_num_threads())
    average = load_fusion_model('average')
    fit = fit_scene(rgb_np[:120, :160], th_np[:120, :160])  # any trained per-scene net: inference cost only
    scene = scene_fusion_model(fit.model.fusion, None)
    # Another streaming architecture (default: the blend net, a candidate replacement) with random weights from
    # its default config, timed side by side with the shipped model: speed does not depend on the weights.
    previous = FusionModel('ssvif', _SSVIFFuse(build_model(args.compare_arch)), 'comparison architecture')
    max_rule = load_fusion_model('max')
    rows = []

    def timed(name, model):
        ts = time_fn(lambda: model.fuse(rgb, th), args.repeats)
        med = statistics.median(ts)
        rows.append((name, 1.0 / med, 1000 * med, 1000 * float(np.percentile(ts, 90))))
    node_side = [(f'ssvif (shipped), {ssvif.fuse.backend_label} (the node\'s)', ssvif),
                 (f'ssvif (shipped), auto -> {ssvif_ort.fuse.backend_label.split(" (")[0]}', ssvif_ort),
                 ('max', max_rule), ('average', average)]  # timed again with the node's allocator setting
    runs = [('ssvif (shipped), torch NCHW', ssvif_nchw), *node_side[:2],
            (f'{args.compare_arch} (default config, random weights; torch channels_last)', previous),
            *node_side[2:], ('scene (per-scene net)', scene)]
    with torch.inference_mode():
        for name, model in runs:
            timed(name, model)
        if not args.default_allocator:  # the same again with the allocator as the node and the CLI set it
            note = keep_frame_buffers()
            for name, model in node_side:
                timed(f'{name}, {note.split(": ")[0]} as in the node (freed buffers reused)', model)
    import onnxruntime
    ort_version = onnxruntime.__version__
    macs = count_macs(ssvif.fuse.net, 480, 640) / 1e9
    prev_macs = count_macs(previous.fuse.net, 480, 640) / 1e9
    lines = [f'### Streaming fusion at 640x480, CPU ({datetime.date.today()})', '',
             f'Command: `.venv/bin/python bench/bench_ssvif.py{" --threads " + str(args.threads) if args.threads else ""}`;'
             f' {torch.get_num_threads()} torch threads, torch {torch.__version__}, onnxruntime {ort_version}. shipped SSVIF model ({ssvif.fuse.net.__class__.__name__}): {macs:.3f} GMAC per frame, {args.compare_arch}: {prev_macs:.3f}.',
             '', '| method | frames/s | median ms | p90 ms |', '|---|---|---|---|']
    lines += [f'| {n} | {fps:.1f} | {med:.1f} | {p90:.1f} |' for n, fps, med, p90 in rows]
    text = '\n'.join(lines) + '\n'
    print(text)
    append_record(args.record, text)


if __name__ == '__main__':
    main()
