"""``fusion-ros``: the command line. Each sub-command lives in ``fusion_ros/commands/<name>.py``.

A command module has ``register(subparsers)`` (cheap: no heavy imports at module level) that sets
``handler`` to its ``run(args) -> int``.
"""
from __future__ import annotations

import argparse
import importlib
import sys

from fusion_ros.imaging import ImageError

# Sub-command modules (fusion_ros/commands/<name>.py), in the order ``--help`` lists them.
COMMANDS = ['fuse', 'align', 'evaluate', 'train', 'run', 'play', 'demo', 'detect', 'pseudo_label', 'train_detector',
            'eval_detector']


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog='fusion-ros', description='RGB + thermal/NIR image fusion.')
    sub = parser.add_subparsers(dest='command', required=True)
    for name in COMMANDS:
        importlib.import_module(f'fusion_ros.commands.{name}').register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    from fusion_ros.checkpoint import CheckpointError

    from fusion_ros.device import keep_frame_buffers

    args = build_parser().parse_args(argv)
    keep_frame_buffers()  # every command handles frame-sized images (fusion_ros.device)
    args.argv = list(sys.argv[1:] if argv is None else argv)  # the command line, for run records
    try:
        return args.handler(args)
    except (FileNotFoundError, ImageError, CheckpointError, ValueError, KeyError) as exc:
        msg = exc.args[0] if isinstance(exc, KeyError) and exc.args else exc
        print(f'fusion-ros {args.command}: error: {msg}', file=sys.stderr)
        return 2


if __name__ == '__main__':
    sys.exit(main())
