"""The training loop: epoch counts, per-epoch means, stopping (budget, callback), divergence, clipping."""
import time

import pytest
import torch

from fusion_ros.training.loop import DivergedError, LoopConfig, LoopResult, train_loop


def _quadratic(target=3.0):
    """One parameter p and ``loss = (p - target)^2``."""
    p = torch.nn.Parameter(torch.zeros(()))

    def objective(_batch):
        return {'loss': (p - target) ** 2}
    return p, objective


def test_runs_max_epochs_and_converges():
    p, objective = _quadratic()
    opt = torch.optim.SGD([p], lr=0.25)
    result = train_loop(objective, opt, lambda epoch: [None], LoopConfig(max_epochs=20))
    assert isinstance(result, LoopResult)
    assert (result.epochs, result.steps, result.stopped) == (20, 20, 'max_epochs')
    assert len(result.history) == 20 and result.elapsed_s >= 0
    # Gradient descent on (p - 3)^2 with lr 0.25: p_k = 3 (1 - 0.5^k).
    assert float(p.detach()) == pytest.approx(3 * (1 - 0.5 ** 20), abs=1e-6)
    assert result.history[0]['loss'] == pytest.approx(9.0)  # the loss before the first step
    assert result.history[1]['loss'] == pytest.approx(2.25)


def test_history_holds_per_epoch_means_of_every_named_loss():
    p = torch.nn.Parameter(torch.zeros(()))

    def objective(batch):
        return {'loss': p * 0 + batch, 'aux': torch.tensor(2.0 * batch), 'plain': 1.0}

    result = train_loop(objective, torch.optim.SGD([p], lr=0.1),
                        lambda epoch: [1.0 + epoch, 2.0 + epoch, 6.0], LoopConfig(max_epochs=2))
    assert result.steps == 6
    assert result.history[0] == pytest.approx({'loss': 3.0, 'aux': 6.0, 'plain': 1.0})
    assert result.history[1] == pytest.approx({'loss': 11 / 3, 'aux': 22 / 3, 'plain': 1.0})


def test_time_budget_stops_the_run():
    p, objective = _quadratic()

    def slow(batch):
        time.sleep(0.01)
        return objective(batch)

    result = train_loop(slow, torch.optim.SGD([p], lr=0.01), lambda epoch: [None, None],
                        LoopConfig(max_epochs=10 ** 6, time_budget_s=0.05))
    assert result.stopped == 'time_budget'
    assert 1 <= result.steps < 10 ** 6
    assert len(result.history) == result.epochs  # the epoch cut short is still recorded


def test_callback_stops_after_the_epoch_it_says_so():
    p, objective = _quadratic()
    seen = []

    def on_epoch_end(epoch, means):
        seen.append((epoch, set(means)))
        return epoch == 2

    result = train_loop(objective, torch.optim.SGD([p], lr=0.1), lambda epoch: [None],
                        LoopConfig(max_epochs=10), on_epoch_end=on_epoch_end)
    assert (result.epochs, result.stopped) == (3, 'callback')
    assert seen == [(0, {'loss'}), (1, {'loss'}), (2, {'loss'})]


def test_start_epoch_resumes_the_count():
    p, objective = _quadratic()
    epochs_seen = []

    def batches(epoch):
        epochs_seen.append(epoch)
        return [None]

    result = train_loop(objective, torch.optim.SGD([p], lr=0.1), batches, LoopConfig(max_epochs=5),
                        start_epoch=3)
    assert epochs_seen == [3, 4] and result.epochs == 5 and result.steps == 2


def test_nan_loss_raises_and_takes_no_step():
    p = torch.nn.Parameter(torch.tensor([1.0, 2.0]))
    opt = torch.optim.SGD([p], lr=0.25)
    snapshots = []

    def objective(_batch):
        snapshots.append(p.detach().clone())
        if len(snapshots) == 3:
            return {'loss': (p * float('nan')).sum()}
        return {'loss': (p ** 2).sum()}

    with pytest.raises(DivergedError, match=r'loss became nan at epoch 2, step 2; lower the learning rate'):
        train_loop(objective, opt, lambda epoch: [None], LoopConfig(max_epochs=5))
    # Two good steps of SGD on |p|^2 with lr 0.25 halve p twice; the NaN step changed nothing.
    torch.testing.assert_close(snapshots[2], torch.tensor([0.25, 0.5]))
    assert torch.equal(p.detach(), snapshots[2])
    assert p.grad is None or torch.isfinite(p.grad).all()  # the NaN never reached the gradients


def test_inf_loss_at_the_first_step_leaves_parameters_unchanged():
    p = torch.nn.Parameter(torch.tensor([1.0, -1.0]))
    before = p.detach().clone()
    with pytest.raises(DivergedError, match='loss became inf'):
        train_loop(lambda b: {'loss': p.sum() + float('inf')}, torch.optim.SGD([p], lr=1.0), lambda e: [None],
                   LoopConfig(max_epochs=3))
    assert torch.equal(p.detach(), before)


def test_grad_clip_bounds_the_step():
    p = torch.nn.Parameter(torch.zeros(2))
    # loss = 100 (p0 + p1): gradient (100, 100), clipped to norm 0.5; SGD lr 1 steps by the clipped one.
    train_loop(lambda b: {'loss': 100 * p.sum()}, torch.optim.SGD([p], lr=1.0), lambda e: [None],
               LoopConfig(max_epochs=1, grad_clip=0.5))
    torch.testing.assert_close(p.detach(), torch.full((2,), -0.5 / 2 ** 0.5), atol=1e-5, rtol=0)


def test_scheduler_steps_once_per_optimiser_step():
    p, objective = _quadratic()
    opt = torch.optim.SGD([p], lr=1.0)
    scheduler = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: 0.5 ** s)
    train_loop(objective, opt, lambda epoch: [None] * 3, LoopConfig(max_epochs=2), scheduler=scheduler)
    assert opt.param_groups[0]['lr'] == pytest.approx(0.5 ** 6)


@pytest.mark.parametrize('kwargs, message', [
    (dict(max_epochs=0), 'max_epochs must be >= 1, got 0'),
    (dict(time_budget_s=0.0), r'time_budget_s must be > 0 \(or None for no limit\), got 0.0'),
])
def test_config_validation(kwargs, message):
    with pytest.raises(ValueError, match=message):
        LoopConfig(**kwargs)


def test_pace_is_called_after_every_optimiser_step():
    p, objective = _quadratic()
    calls = []
    result = train_loop(objective, torch.optim.SGD([p], lr=0.1), lambda epoch: [None, None],
                        LoopConfig(max_epochs=3), pace=lambda: calls.append(float(p.detach())))
    assert result.steps == 6 and len(calls) == 6 and calls[0] != 0.0  # after the step, not before
