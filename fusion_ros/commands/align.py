"""``fusion-ros align``: the affine transform that puts a thermal/NIR image onto the RGB grid, as JSON."""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def register(sub) -> None:
    align = sub.add_parser(
        'align', help='register a thermal/NIR image onto an RGB image; prints the rgb_from_thermal matrix',
        description='Find the affine transform that maps thermal pixels onto the RGB grid (global rotation x '
                    'scale x translation search, ECC refinement, identity kept unless clearly better; '
                    "fusion_ros.registration, as the node's stn mode). Prints "
                    '{"rgb_from_thermal": [[a, b, c], [d, e, f]]}: cv2.warpAffine(thermal, M, (W, H)) '
                    'registers the thermal image.')
    align.add_argument('--rgb', required=True, type=Path, help='visible image file (colour or mono)')
    align.add_argument('--ir', '--thermal', dest='ir', required=True, type=Path,
                       help='thermal/NIR image file (8/16-bit or float; any resolution)')
    align.add_argument('--out', type=Path, metavar='JSON', help='also write the JSON to this file')
    align.add_argument('--quiet', action='store_true', help='no summary line on stderr')
    align.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from fusion_ros.io import read_pair
    from fusion_ros.registration import register as register_pair

    pair = read_pair(args.rgb, args.ir)
    result = register_pair(pair.rgb, pair.thermal)
    if args.out:
        result.write_json(args.out)
    print(json.dumps(result.to_json()))
    if not args.quiet:
        (h, w), (th, tw) = result.sizes['rgb'], result.sizes['thermal']
        where = f' -> {args.out}' if args.out else ''
        what = 'identity kept' if result.kept_identity else 'transform found'
        print(f'align: {what} in {result.seconds:.2f} s (thermal {tw}x{th} onto RGB {w}x{h}): '
              f'{result.reason}{where}', file=sys.stderr)
    return 0
