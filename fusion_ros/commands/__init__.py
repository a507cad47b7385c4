"""One module per ``fusion-ros`` sub-command: ``register(subparsers)`` and ``run(args)``."""
