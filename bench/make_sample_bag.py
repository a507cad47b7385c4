"""Write the bundled sample recording ``fusion_ros/samples/sample_pairs.mcap`` (a rosbag2 bag directory).

Real RGB + thermal/NIR pairs (RoadScene, EPFL RGB-NIR ``country`` and MSRS night scenes; see ``fusion_ros/samples/README.md``
for sources and terms), published as if by two cameras at 5 Hz:

* ``/rgb/image``: ``sensor_msgs/msg/Image`` ``rgb8``, 320 px wide, frame ``rgb_optical_frame``,
  stamps exactly every 200 ms;
* ``/thermal/image``: ``mono8`` at half the RGB resolution (thermal cameras are usually smaller), frame
  ``thermal_optical_frame``, stamps jittered by up to +/-8 ms around the RGB stamps (unsynchronised cameras);
* ``/thermal/image_mono16``: the same thermal frames as ``mono16`` raw counts (``7500 + 8 * value``, the
  narrow band a radiometric camera such as a FLIR Boson delivers), same stamps as ``/thermal/image``;
  for exercising 16-bit inputs (normalise them by percentiles, the default).

Log times are the stamps plus 3 ms (as if recorded on the same machine). MCAP chunks are zstd
compressed. Run from the repository root::

    .venv/bin/python bench/make_sample_bag.py            # refuses to overwrite an existing bag
    .venv/bin/python bench/make_sample_bag.py --force    # replace it
"""
from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from fusion_ros.bags import BagWriter, list_topics  # noqa: E402
from fusion_ros.io import read_image  # noqa: E402

DATA = Path('/work/shared/data')
OUT = ROOT / 'fusion_ros' / 'samples' / 'sample_pairs.mcap'
# (visible file, thermal/NIR file): 7 RoadScene road scenes, 3 EPFL RGB-NIR country scenes.
PAIRS = [(DATA / 'roadscene' / 'vi' / f'{stem}.jpg', DATA / 'roadscene' / 'ir' / f'{stem}.jpg')
         for stem in ('FLIR_00006', 'FLIR_00018', 'FLIR_00060', 'FLIR_00122', 'FLIR_00211', 'FLIR_00233',
                      'FLIR_00288')]
PAIRS += [(DATA / 'rgbnir' / 'country' / f'{n}_rgb.jpg', DATA / 'rgbnir' / 'country' / f'{n}_nir.jpg')
          for n in ('0000', '0001', '0003')]
# 4 MSRS night road scenes with people and cars, where the thermal image matters (issue 10: the demo shows
# detections at night). They are MSRS test pairs (labelled), so never used to train the shipped detector.
PAIRS += [(DATA / 'msrs' / 'test' / 'vi' / f'{stem}.png', DATA / 'msrs' / 'test' / 'ir' / f'{stem}.png')
          for stem in ('00008N', '00028N', '00036N', '00040N')]
RGB_WIDTH = 320
PERIOD_NS = 200_000_000  # 5 Hz
T0_NS = 1_700_000_000 * 1_000_000_000
JITTER_NS = 8_000_000
LATENCY_NS = 3_000_000


def resize_width(image: np.ndarray, width: int) -> np.ndarray:
    h, w = image.shape[:2]
    return cv2.resize(image, (width, int(round(h * width / w))), interpolation=cv2.INTER_AREA)


def gray(image: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(image, cv2.COLOR_RGB2GRAY) if image.ndim == 3 else image


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--out', type=Path, default=OUT)
    parser.add_argument('--force', action='store_true', help='replace an existing bag')
    args = parser.parse_args(argv)
    if args.out.exists() and args.force:
        shutil.rmtree(args.out)
    rng = np.random.default_rng(4)
    with BagWriter(args.out, 'mcap', compress=True) as bag:
        for k, (rgb_path, thermal_path) in enumerate(PAIRS):
            rgb = resize_width(read_image(rgb_path), RGB_WIDTH)
            thermal = resize_width(gray(read_image(thermal_path)), RGB_WIDTH // 2)
            raw16 = (7500 + 8 * thermal.astype(np.uint16)).astype(np.uint16)
            rgb_stamp = T0_NS + k * PERIOD_NS
            thermal_stamp = rgb_stamp + int(rng.integers(-JITTER_NS, JITTER_NS + 1))
            writes = [(rgb_stamp, 'rgb/image', rgb, 'rgb8', 'rgb_optical_frame'),
                      (thermal_stamp, 'thermal/image', thermal, 'mono8', 'thermal_optical_frame'),
                      (thermal_stamp, 'thermal/image_mono16', raw16, 'mono16', 'thermal_optical_frame')]
            for stamp, topic, pixels, encoding, frame in sorted(writes, key=lambda w: w[0]):
                bag.write_image(topic, stamp, pixels, encoding, frame_id=frame,
                                log_time_ns=stamp + LATENCY_NS)
    size = sum(f.stat().st_size for f in args.out.iterdir())
    print(f'{args.out}: {len(PAIRS)} pairs, {size / 1e6:.2f} MB')
    for t in list_topics(args.out):
        print(f'  {t.topic}: {t.msgtype}, {t.count} messages')
    return 0


if __name__ == '__main__':
    sys.exit(main())
