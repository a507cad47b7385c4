"""The command line, run in-process: `fusion-ros fuse` and `fusion-ros align` on small synthetic files, the
demo's wiring, errors."""
import json

import cv2
import numpy as np
import pytest

from fusion_ros.checkpoint import load_model
from fusion_ros.cli import build_parser, main
from fusion_ros.commands.scene_options import scene_config_from_args
from fusion_ros.io import read_image
from fusion_ros.models.scene import SceneFusionModel


@pytest.fixture
def files(tmp_path, make_pair):
    """An 8-bit RGB PNG and an 8-bit thermal PNG of half the resolution."""
    rgb, thermal = make_pair(40, 48, thermal_size=(20, 24))
    rgb_path, ir_path = tmp_path / 'pair_rgb.png', tmp_path / 'pair_ir.png'
    cv2.imwrite(str(rgb_path), np.round(rgb[..., ::-1] * 255).astype(np.uint8))
    cv2.imwrite(str(ir_path), np.round(thermal * 255).astype(np.uint8))
    return rgb_path, ir_path


def _fuse(rgb, ir, out, *extra):
    return main(['fuse', '--rgb', str(rgb), '--ir', str(ir), '--out', str(out), '--quiet', *extra])


def test_fuse_scene_writes_the_fusion_and_a_summary(files, tmp_path, capsys):
    rgb, ir = files
    out = tmp_path / 'out' / 'fused.png'
    assert _fuse(rgb, ir, out, '--method', 'scene', '--epochs', '5', '--device', 'cpu') == 0
    image = read_image(out)
    assert image.shape == (40, 48, 3) and image.dtype == np.uint8
    stdout = capsys.readouterr().out
    assert 'SSIM score' in stdout and '(5 epochs)' in stdout and str(out) in stdout


def test_fuse_average(files, tmp_path, capsys):
    rgb, ir = files
    out = tmp_path / 'avg.jpg'
    assert _fuse(rgb, ir, out, '--method', 'average') == 0
    assert read_image(out).shape == (40, 48, 3)
    stdout = capsys.readouterr().out
    assert stdout.startswith('average: SSIM score') and 'epochs' not in stdout


def test_fuse_normalises_thermal_as_the_node_unless_dtype(tmp_path, make_pair):
    """A dark 8-bit thermal file (values 0..40) is stretched by default, as the node stretches its thermal
    stream; with --thermal-norm dtype the max rule keeps the visible image where it is brighter."""
    rgb, thermal = make_pair(32, 40)
    rgb_path, ir_path = tmp_path / 'rgb.png', tmp_path / 'dark.png'
    cv2.imwrite(str(rgb_path), np.full((32, 40, 3), 100, np.uint8))
    cv2.imwrite(str(ir_path), np.round(thermal * 40).astype(np.uint8))
    out = {}
    for norm in ('percentile', 'dtype'):
        assert _fuse(rgb_path, ir_path, tmp_path / f'{norm}.png', '--method', 'max', '--thermal-norm', norm) == 0
        out[norm] = read_image(tmp_path / f'{norm}.png')
    assert out['dtype'].max() == 100 and out['percentile'].max() == 255


def test_fuse_16bit_thermal(tmp_path, make_pair, capsys):
    rgb, thermal = make_pair(32, 40)
    rgb_path, ir_path = tmp_path / 'rgb.png', tmp_path / 'ir16.png'
    cv2.imwrite(str(rgb_path), np.round(rgb[..., ::-1] * 255).astype(np.uint8))
    cv2.imwrite(str(ir_path), (20000 + 5000 * thermal).astype(np.uint16))  # raw counts in a narrow band
    out = tmp_path / 'f.png'
    assert _fuse(rgb_path, ir_path, out, '--method', 'scene', '--epochs', '2') == 0
    assert read_image(out).shape == (32, 40, 3)
    assert 'SSIM score' in capsys.readouterr().out


def test_fuse_save_model_writes_a_loadable_checkpoint(files, tmp_path):
    rgb, ir = files
    ckpt_path = tmp_path / 'models' / 'scene.pt'
    assert _fuse(rgb, ir, tmp_path / 'f.png', '--method', 'scene', '--epochs', '3',
                 '--save-model', str(ckpt_path)) == 0
    model, ckpt = load_model(ckpt_path)
    assert isinstance(model, SceneFusionModel)
    assert ckpt['model'] == 'scene' and ckpt['meta']['rgb'] == str(rgb)
    assert np.asarray(ckpt['meta']['thermal_from_rgb']).shape == (2, 3)


def test_missing_file_gives_code_2_and_names_it(files, tmp_path, capsys):
    rgb, _ = files
    code = _fuse(rgb, tmp_path / 'missing_ir.png', tmp_path / 'f.png', '--method', 'average')
    assert code == 2
    err = capsys.readouterr().err
    assert err.startswith('fusion-ros fuse: error:') and 'missing_ir.png: no such file' in err
    assert not (tmp_path / 'f.png').exists()


def test_not_an_image_gives_code_2(files, tmp_path, capsys):
    _, ir = files
    fake = tmp_path / 'notes.png'
    fake.write_text('not an image')
    assert _fuse(fake, ir, tmp_path / 'f.png', '--method', 'average') == 2
    assert 'notes.png: not a readable image' in capsys.readouterr().err


def test_unknown_method_gives_code_2_with_valid_names(files, tmp_path, capsys):
    rgb, ir = files
    assert _fuse(rgb, ir, tmp_path / 'f.png', '--method', 'median') == 2
    err = capsys.readouterr().err
    assert "unknown fusion method 'median'; valid: ssvif, scene, average" in err
    assert not err.count('"')  # the KeyError's message, not its repr


@pytest.mark.parametrize('extra, message', [
    (['--epochs', '0'], 'epochs must be >= 1, got 0'),
    (['--device', 'tpu'], "device must be 'auto', 'cpu', 'cuda' or 'cuda:N'"),
    (['--work-size', '8'], 'work_size must be >= 32 pixels'),
])
def test_bad_scene_options_give_code_2(files, tmp_path, capsys, extra, message):
    rgb, ir = files
    assert _fuse(rgb, ir, tmp_path / 'f.png', '--method', 'scene', *extra) == 2
    assert message in capsys.readouterr().err


def test_unwritable_output_gives_code_2(files, tmp_path, capsys):
    rgb, ir = files
    assert _fuse(rgb, ir, tmp_path / 'f.unknownext', '--method', 'average') == 2
    assert 'f.unknownext: could not write the image' in capsys.readouterr().err


def test_missing_required_argument_is_a_usage_error(capsys):
    with pytest.raises(SystemExit) as exc:
        main(['fuse', '--rgb', 'a.png'])
    assert exc.value.code == 2
    assert 'the following arguments are required: --ir/--thermal, --out' in capsys.readouterr().err


# --------------------------------------------------------------------------- scene options


def _config(*argv):
    args = build_parser().parse_args(['fuse', '--rgb', 'a', '--ir', 'b', '--out', 'c', *argv])
    return scene_config_from_args(args)


def test_scene_options_default_recipe():
    c = _config()
    assert c.init == 'average' and c.schedule == 'cosine' and c.work_size == 256
    assert c.model.stn is False and c.model.fusion.unet is False and c.device == 'auto' and c.seed == 0


def test_scene_options_paper_recipe_with_overrides():
    c = _config('--recipe', 'paper', '--epochs', '7', '--align', 'stn', '--variant', 'unet', '--seed', '3',
                '--time-budget', '2.5', '--device', 'cpu')
    assert (c.init, c.schedule, c.work_size, c.align_epochs, c.epochs) == ('random', 'constant', None, 0, 7)
    assert c.model.stn is True and c.model.fusion.unet is True
    assert (c.seed, c.time_budget_s, c.device) == (3, 2.5, 'cpu')


def test_scene_options_work_size_zero_means_full_size():
    assert _config('--work-size', '0').work_size is None
    assert _config('--work-size', '64').work_size == 64


def test_demo_command_passes_its_options(monkeypatch, tmp_path):
    import fusion_ros.demo
    calls = []
    monkeypatch.setattr(fusion_ros.demo, 'run_demo',
                        lambda out, config, progress: calls.append((out, config, progress)))
    assert main(['demo', '--out', str(tmp_path / 'd'), '--epochs', '4', '--quiet']) == 0
    (out, config, progress), = calls
    assert out == tmp_path / 'd' and config.epochs == 4 and progress is False


def test_save_model_with_a_method_that_trains_nothing_is_refused(files, tmp_path, capsys):
    rgb, ir = files
    code = _fuse(rgb, ir, tmp_path / 'f.png', '--method', 'average', '--save-model', str(tmp_path / 'm.pt'))
    assert code == 2
    assert '--save-model' in capsys.readouterr().err and not (tmp_path / 'm.pt').exists()


def test_scene_options_are_ignored_by_baselines(files, tmp_path):
    rgb, ir = files
    assert _fuse(rgb, ir, tmp_path / 'f.png', '--method', 'average', '--epochs', '0') == 0


def test_default_method_is_the_shipped_ssvif_model(files, tmp_path, capsys):
    rgb, ir = files
    assert _fuse(rgb, ir, tmp_path / 'f.png') == 0
    assert capsys.readouterr().out.startswith('ssvif in ')


# --------------------------------------------------------------------------- align


def _align(rgb, ir, *extra):
    return main(['align', '--rgb', str(rgb), '--ir', str(ir), *extra])


def test_align_prints_and_writes_the_rgb_from_thermal_json(tmp_path, make_texture, capsys):
    h, w = 120, 160
    gray = make_texture(h, w, seed=31)
    m = np.vstack([cv2.getRotationMatrix2D((w / 2, h / 2), 6.0, 1.05), [0, 0, 1]])  # thermal_from_rgb
    m[:2, 2] += (7.0, -4.0)
    thermal = cv2.warpAffine(1.0 - gray, m[:2], (w, h), flags=cv2.INTER_LINEAR)  # inverted, black corners
    rgb_path, ir_path = tmp_path / 'a_rgb.png', tmp_path / 'a_ir.png'
    cv2.imwrite(str(rgb_path), np.round(np.repeat(gray[..., None], 3, axis=2) * 255).astype(np.uint8))
    cv2.imwrite(str(ir_path), np.round(thermal * 255).astype(np.uint8))
    out = tmp_path / 'sub' / 'T.json'
    assert _align(rgb_path, ir_path, '--out', str(out)) == 0
    captured = capsys.readouterr()
    printed = json.loads(captured.out)
    assert list(printed) == ['rgb_from_thermal'] and np.shape(printed['rgb_from_thermal']) == (2, 3)
    assert json.loads(out.read_text()) == printed
    assert captured.err.startswith('align: transform found') and str(out) in captured.err
    # cv2.warpAffine(thermal, M, (W, H)) registers the thermal image: the corners land where the truth puts them.
    est = np.vstack([printed['rgb_from_thermal'], [0, 0, 1]])
    corners = np.array([[0, 0, 1], [w - 1, 0, 1], [0, h - 1, 1], [w - 1, h - 1, 1]], float).T
    assert np.abs(est @ m @ corners - corners)[:2].max() < 1.0


def test_align_keeps_a_registered_pair_in_place(files, capsys):
    rgb, ir = files  # registered; the thermal file has half the resolution
    assert _align(rgb, ir, '--quiet') == 0
    captured = capsys.readouterr()
    # Identity between a 20x24 thermal and a 40x48 RGB grid of one field of view: x_rgb = 2 x_th + 0.5.
    np.testing.assert_allclose(json.loads(captured.out)['rgb_from_thermal'], [[2, 0, 0.5], [0, 2, 0.5]], atol=1e-6)
    assert captured.err == ''


def test_align_bad_inputs_give_code_2(files, tmp_path, capsys):
    rgb, ir = files
    assert _align(rgb, tmp_path / 'missing_ir.png') == 2
    err = capsys.readouterr().err
    assert err.startswith('fusion-ros align: error:') and 'missing_ir.png: no such file' in err
    fake = tmp_path / 'notes.png'
    fake.write_text('not an image')
    assert _align(fake, ir, '--out', str(tmp_path / 'T.json')) == 2
    captured = capsys.readouterr()
    assert 'notes.png: not a readable image' in captured.err and captured.out == ''
    assert not (tmp_path / 'T.json').exists()
    with pytest.raises(SystemExit) as exc:
        main(['align', '--rgb', str(rgb)])
    assert exc.value.code == 2
    assert 'the following arguments are required: --ir/--thermal' in capsys.readouterr().err
