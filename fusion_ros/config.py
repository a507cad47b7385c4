"""Config dataclasses from plain dicts (YAML, checkpoints, ROS parameters) at the edge."""
from __future__ import annotations

from dataclasses import fields


def dataclass_from_dict(cls, d: dict):
    """``cls(**d)`` for a config dataclass, refusing unknown keys with the list of valid ones."""
    valid = {f.name for f in fields(cls)}
    unknown = set(d) - valid
    if unknown:
        raise KeyError(f'{cls.__name__}: unknown keys {sorted(unknown)}; valid keys: {sorted(valid)}')
    return cls(**d)
