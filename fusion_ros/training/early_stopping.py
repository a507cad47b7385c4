"""Early stopping on a monitored loss (lower is better), with a state dict for resumable runs."""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass


@dataclass
class EarlyStopping:
    """Stop after ``patience`` epochs without an improvement of more than ``min_delta``.

    ``patience=None`` never stops. :meth:`update` takes each epoch's monitored value (e.g. the mean
    validation loss) and returns True when it is a new best. :meth:`reset` forgets the best value,
    for when the monitored quantity changes meaning (SSVIF's switch to stage II adds ``w_csc L_csc``).

    Example:
        >>> es = EarlyStopping(patience=2)
        >>> [es.update(v, e) for e, v in enumerate([3.0, 2.0, 2.5, 2.1])], es.should_stop
        ([True, True, False, False], True)
    """
    patience: int | None = 10
    min_delta: float = 0.0
    best: float = math.inf
    best_epoch: int = -1
    bad_epochs: int = 0

    def __post_init__(self):
        if self.patience is not None and self.patience < 1:
            raise ValueError(f'EarlyStopping.patience must be >= 1 (or None to never stop), '
                             f'got {self.patience}')
        if self.min_delta < 0:
            raise ValueError(f'EarlyStopping.min_delta must be >= 0, got {self.min_delta}')

    def update(self, value: float, epoch: int) -> bool:
        """Record one epoch's value; True if it improves on the best by more than ``min_delta``."""
        value = float(value)
        if math.isfinite(value) and value < self.best - self.min_delta:
            self.best, self.best_epoch, self.bad_epochs = value, int(epoch), 0
            return True
        self.bad_epochs += 1
        return False

    @property
    def should_stop(self) -> bool:
        return self.patience is not None and self.bad_epochs >= self.patience

    def reset(self) -> None:
        """Forget the best value (the next update is an improvement); the count of bad epochs restarts."""
        self.best, self.bad_epochs = math.inf, 0

    def state_dict(self) -> dict:
        return asdict(self)

    def load_state_dict(self, state: dict) -> None:
        for key in ('best', 'best_epoch', 'bad_epochs'):
            if key in state:
                setattr(self, key, type(getattr(self, key))(state[key]))
