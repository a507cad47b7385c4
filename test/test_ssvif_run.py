"""Tests of the offline SSVIF run: the loss goes down, runs resume exactly and load, early stopping, DDP."""
import os
import subprocess
import sys
import time
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from fusion_ros import bags
from fusion_ros.checkpoint import load_checkpoint, load_model
from fusion_ros.cli import main as cli_main
from fusion_ros.data import DataConfig
from fusion_ros.models.ssvif import SSVIFFusionNet, SSVIFModelConfig
from fusion_ros.ssvif import SSVIFConfig
from fusion_ros.training.ssvif_run import SSVIFRunConfig, run_ssvif

ROOT = Path(__file__).resolve().parents[1]
TINY_MODEL = SSVIFModelConfig(width=8, depth=1, stem_width=4, full_res_width=4)


@pytest.fixture(autouse=True)
def one_thread():
    """Tiny convolutions on a busy 2-core machine: one thread avoids OpenMP spin-waiting (10x faster)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture
def pair_folder(tmp_path, make_pair):
    """10 synthetic pairs ``NNN_rgb.png`` / ``NNN_thermal.png`` of 40x48 (thermal at half resolution)."""
    root = tmp_path / 'pairs'
    root.mkdir()
    for i in range(10):
        rgb, thermal = make_pair(40, 48, seed=i, thermal_size=(20, 24))
        cv2.imwrite(str(root / f'{i:03d}_rgb.png'), np.round(rgb[..., ::-1] * 255).astype(np.uint8))
        cv2.imwrite(str(root / f'{i:03d}_thermal.png'), np.round(thermal * 255).astype(np.uint8))
    return root


def config(data_path, out, **overrides) -> SSVIFRunConfig:
    data = DataConfig(paths=(str(data_path),), crop_size=32, **overrides.pop('data', {}))
    base = dict(data=data, out_dir=str(out), model=TINY_MODEL, objective=SSVIFConfig(use_csc=False), lr=3e-3,
                batch_size=4, max_epochs=3, progress=False, n_samples=2)
    base.update(overrides)
    return SSVIFRunConfig(**base)


def test_a_few_steps_lower_the_loss_and_leave_logs(pair_folder, tmp_path):
    result = run_ssvif(config(pair_folder, tmp_path / 'run', max_epochs=4))
    assert result.stopped == 'max_epochs' and result.epochs == 4
    history = result.history
    assert history[-1]['val_loss'] < history[0]['val_loss']
    assert history[-1]['train_loss'] < history[0]['train_loss']
    out = tmp_path / 'run'
    for name in ('best.pt', 'last.pt', 'log.csv', 'curves.png', 'samples.png'):
        assert (out / name).stat().st_size > 0, name
    lines = (out / 'log.csv').read_text().splitlines()
    assert lines[0].startswith('epoch,stage,steps,train_loss') and 'val_loss' in lines[0] and len(lines) == 5
    assert all(cv2.imread(str(out / name)) is not None for name in ('curves.png', 'samples.png'))
    assert 'contiguous block' in result.split


def test_resume_continues_exactly_and_checkpoints_load(pair_folder, tmp_path):
    straight = run_ssvif(config(pair_folder, tmp_path / 'a', max_epochs=3))
    first = run_ssvif(config(pair_folder, tmp_path / 'b', max_epochs=2))
    assert first.epochs == 2
    resumed = run_ssvif(config(pair_folder, tmp_path / 'b', max_epochs=3, resume=True))
    assert resumed.start_epoch == 2 and resumed.epochs == 3
    for a, b in zip(straight.history, resumed.history):
        assert a['val_loss'] == pytest.approx(b['val_loss'], rel=1e-5)
        assert a['train_loss'] == pytest.approx(b['train_loss'], rel=1e-5)

    last = load_checkpoint(tmp_path / 'b' / 'last.pt')
    assert last['model'] == 'ssvif' and last['format_version'] == 1 and last['epoch'] == 3
    assert SSVIFModelConfig.from_dict(last['config']) == TINY_MODEL
    assert {'optimizer', 'objective', 'history', 'early_stopping', 'rng', 'run'} <= set(last)
    assert len(last['objective']['_extra_state']['stage_switch']['history']) == 3  # the stage switch resumes
    assert len(last['history']) == 3 and last['meta']['data'] == [str(pair_folder)]
    model, ckpt = load_model(tmp_path / 'b' / 'best.pt')
    assert isinstance(model, SSVIFFusionNet) and not model.training
    assert ckpt['meta']['best_epoch'] == resumed.best_epoch
    with torch.no_grad():
        fused = model(torch.rand(1, 3, 24, 40), torch.rand(1, 1, 24, 40))['fused']
    assert fused.shape == (1, 3, 24, 40)
    lines = (tmp_path / 'b' / 'log.csv').read_text().splitlines()
    assert [line.split(',')[0] for line in lines[1:]] == ['0', '1', '2']


def test_a_run_is_never_overwritten_and_resume_needs_the_same_model(pair_folder, tmp_path):
    run_ssvif(config(pair_folder, tmp_path / 'run', max_epochs=1))
    with pytest.raises(ValueError, match='already holds a training run.*--resume'):
        run_ssvif(config(pair_folder, tmp_path / 'run', max_epochs=2))
    other = SSVIFModelConfig(width=8, depth=2, stem_width=4, full_res_width=4)
    with pytest.raises(ValueError, match='started with model config'):
        run_ssvif(config(pair_folder, tmp_path / 'run', max_epochs=2, resume=True, model=other))
    init = run_ssvif(config(pair_folder, tmp_path / 'init', max_epochs=1,
                            init_from=str(tmp_path / 'run' / 'best.pt')))
    assert init.epochs == 1


def test_early_stopping_and_time_budget(pair_folder, tmp_path):
    result = run_ssvif(config(pair_folder, tmp_path / 'es', max_epochs=6, patience=2, min_delta=1e9))
    assert result.stopped == 'early_stopping' and result.epochs == 3 and result.best_epoch == 0
    again = run_ssvif(config(pair_folder, tmp_path / 'es', max_epochs=6, patience=2, min_delta=1e9,
                             resume=True))
    assert again.stopped == 'early_stopping' and again.epochs == 3  # nothing left to do
    out = tmp_path / 'budget'
    quick = run_ssvif(config(pair_folder, out, max_epochs=5, time_budget_s=1e-3))
    assert quick.stopped == 'time_budget' and quick.epochs == 0 and not (out / 'last.pt').exists()


def test_ssvif_with_the_csc_branch_runs_and_resumes_in_stage_two(pair_folder, tmp_path):
    objective = SSVIFConfig.from_dict({'two_stage': False, 'head': {'width': 8, 'n_classes': 3},
                                       'n_classes': 3})
    result = run_ssvif(config(pair_folder, tmp_path / 'csc', max_epochs=1, objective=objective,
                              steps_per_epoch=2, batch_size=2, val_batches=1))
    row = result.history[0]
    assert row['stage'] == 2 and row['train_csc'] > 0 and row['val_csc'] > 0
    assert 0 <= row['val_agreement'] <= 1
    state = load_checkpoint(tmp_path / 'csc' / 'last.pt')['objective']
    assert any(k.startswith('seg_model.') for k in state) and any(k.startswith('head.') for k in state)
    assert state['_extra_state']['weighting']['csc_history'] == [pytest.approx(row['train_csc'])]
    more = run_ssvif(config(pair_folder, tmp_path / 'csc', max_epochs=2, objective=objective,
                            steps_per_epoch=2, batch_size=2, val_batches=1, resume=True))
    assert more.epochs == 2 and more.stage == 2


def test_training_from_a_bag_streams_pairs(tmp_path, make_pair):
    path = tmp_path / 'rec'
    pairs = []
    for k in range(12):
        rgb, thermal = make_pair(40, 48, seed=k)
        pairs.append((1_700_000_000 * 10**9 + k * 10**8, np.round(rgb * 255).astype(np.uint8),
                      np.round(thermal * 65535).astype(np.uint16)))
    bags.write_pairs(path, pairs)
    result = run_ssvif(config(path, tmp_path / 'run', max_epochs=2))
    assert result.epochs == 2 and result.history[0]['steps'] == 3  # 11 training pairs (1 in the 10 % window)
    assert 'log time' in result.split and result.history[-1]['val_loss'] > 0


def test_cli_train(pair_folder, tmp_path, capsys):
    out = tmp_path / 'cli'
    args = ['train', '--data', str(pair_folder), '--out', str(out), '--epochs', '1', '--crop', '32',
            '--batch-size', '4', '--no-csc', '--width', '8', '--depth', '1', '--quiet']
    assert cli_main(args) == 0
    assert 'train: 1 epochs (max_epochs' in capsys.readouterr().out
    model, _ = load_model(out / 'best.pt')
    assert model.config.width == 8
    assert cli_main(args) == 2
    assert 'already holds a training run' in capsys.readouterr().err
    assert cli_main(args + ['--resume', '--epochs', '2']) == 0


def _torchrun(args, tmp_path, timeout=120):
    env = {**os.environ, 'OMP_NUM_THREADS': '1', 'PYTHONPATH': str(ROOT)}
    cmd = [sys.executable, '-m', 'torch.distributed.run', '--standalone', '--nproc_per_node', '2',
           '-m', 'fusion_ros.cli', 'train', *args]
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=timeout)
    return proc, time.perf_counter() - t0


@pytest.mark.slow
def test_ddp_with_two_cpu_processes(pair_folder, tmp_path, make_pair):
    """torchrun, 2 processes, gloo: a folder (DistributedSampler) and a bag (sharded stream) in one run."""
    path = tmp_path / 'rec'
    arrays = [make_pair(40, 48, seed=k) for k in range(6)]
    bags.write_pairs(path, [(10**18 + k * 10**8, np.round(rgb * 255).astype(np.uint8),
                             np.round(thermal * 255).astype(np.uint8))
                            for k, (rgb, thermal) in enumerate(arrays)])
    out = tmp_path / 'ddp'
    common = ['--out', str(out), '--crop', '32', '--batch-size', '2', '--no-csc', '--width', '8', '--depth',
              '1', '--quiet', '--device', 'cpu', '--lr', '3e-3']
    proc, elapsed = _torchrun(['--data', str(pair_folder), '--epochs', '2', *common], tmp_path)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-4000:]
    assert elapsed < 60
    assert proc.stdout.count('train: 2 epochs') == 1  # only rank 0 reports
    last = load_checkpoint(out / 'last.pt')
    assert last['meta']['world_size'] == 2 and last['epoch'] == 2
    # 9 training pairs, 2 ranks x batch 2: ceil(9 / 2) = 5 samples per rank -> 3 steps per rank
    assert [row['steps'] for row in last['history']] == [3, 3]
    assert last['history'][-1]['val_loss'] > 0

    proc, elapsed = _torchrun(['--data', str(path), '--epochs', '1', *common[2:],
                               '--out', str(tmp_path / 'ddp_bag')], tmp_path)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-4000:]
    assert elapsed < 60
    history = load_checkpoint(tmp_path / 'ddp_bag' / 'last.pt')['history']
    assert history[0]['steps'] >= 1 and history[0]['val_loss'] > 0


def test_cli_loss_weights_override_the_chosen_loss():
    """--loss-weight NAME=VALUE changes one weight of --loss (issue 8: SSIM and Qabf weights of the field loss)."""
    import argparse

    from fusion_ros.commands import train as train_cmd
    from fusion_ros.losses.fusion import FIELD_LOSS
    parser = argparse.ArgumentParser()
    train_cmd.register(parser.add_subparsers())
    base = ['train', '--data', 'x', '--out', 'y', '--loss', 'field']
    args = parser.parse_args(base + ['--loss-weight', 'w_field_ssim=6', '--loss-weight', 'w_vif=1'])
    loss = train_cmd.config_from_args(args).objective.fusion_loss
    assert loss.w_field_ssim == 6.0 and loss.w_vif == 1.0 and loss.w_qabf == FIELD_LOSS['w_qabf']
    with pytest.raises(ValueError, match='expected NAME=VALUE with NAME one of w_int'):
        train_cmd.config_from_args(parser.parse_args(base + ['--loss-weight', 'field_ssim=6']))
    # thermal normalised as the node does unless --thermal-norm dtype (how the shipped model's data was read)
    assert train_cmd.config_from_args(parser.parse_args(base)).data.thermal_norm == 'percentile'
    assert train_cmd.config_from_args(parser.parse_args(base + ['--thermal-norm', 'dtype'])).data.thermal_norm == 'dtype'
