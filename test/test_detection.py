"""Detection around the fusion (issue 10): YOLO files, the training dataset, mAP with known answers, the detect
and eval-detector commands, and a train-detector smoke run. Tiny synthetic images; random-weight YOLO models
built from configs; nothing is downloaded."""
import json
import os
import socket

import cv2
import numpy as np
import pytest

from fusion_ros import cli
from fusion_ros.detection import Detection
from fusion_ros.detection_data import (DatasetConfig, LabelError, _val_stems, build_dataset, detections_to_yolo,
                                       load_detector_input, read_class_names, read_yolo_file, write_yolo_file)
from fusion_ros.imaging import ThermalNormConfig, normalize_thermal
from fusion_ros.detection_eval import match_image, score_detections, score_folders

NAMES = ['person', 'bicycle', 'car']
W, H = 64, 48


def write_pairs(root, stems, *, labels=True, label_set='fusion'):
    """``root/{vi,ir}/STEM.png`` (a warm box on a dark background) and ``root/labels/<set>/STEM.txt``."""
    rng = np.random.default_rng(0)
    for i, stem in enumerate(stems):
        x0, y0 = 8 + 3 * i, 10 + 2 * i
        vi = np.clip(rng.normal(90, 20, (H, W, 3)), 0, 255).astype(np.uint8)
        ir = np.full((H, W), 30, np.uint8)
        ir[y0:y0 + 16, x0:x0 + 10] = 220
        vi[y0:y0 + 16, x0:x0 + 10] = (200, 120, 60)
        for folder, image in (('vi', vi[..., ::-1]), ('ir', ir)):
            (root / folder).mkdir(parents=True, exist_ok=True)
            cv2.imwrite(str(root / folder / f'{stem}.png'), image)
        if labels:
            write_yolo_file(root / 'labels' / label_set / f'{stem}.txt',
                            np.array([[i % 3, (x0 + 5) / W, (y0 + 8) / H, 10 / W, 16 / H]]))
    return root


# --------------------------------------------------------------------------- files


def test_yolo_files_round_trip_and_refusals(tmp_path):
    boxes = np.array([[0, 0.5, 0.5, 0.2, 0.4], [2, 0.1, 0.9, 0.05, 0.1]])
    path = write_yolo_file(tmp_path / 'a.txt', boxes)
    assert path.read_text().splitlines()[0] == '0 0.500000 0.500000 0.200000 0.400000'
    assert np.allclose(read_yolo_file(path), boxes)
    assert read_yolo_file(write_yolo_file(tmp_path / 'empty.txt', np.zeros((0, 5)))).shape == (0, 5)
    for text, match in (('0 0.5 0.5 0.2\n', '4 values'), ('x 0.5 0.5 0.2 0.2\n', 'not numbers'),
                        ('1.5 0.5 0.5 0.2 0.2\n', 'not a class id'), ('0 0.5 0.5 0 0.2\n', 'width and height')):
        (tmp_path / 'bad.txt').write_text(text)
        with pytest.raises(LabelError, match=match):
            read_yolo_file(tmp_path / 'bad.txt')
    (tmp_path / 'c.txt').write_text('3 0.5 0.5 0.2 0.2\n')
    with pytest.raises(LabelError, match='in 0..2'):
        read_yolo_file(tmp_path / 'c.txt', num_classes=3)
    (tmp_path / 'classes.txt').write_text('0 person\n1 bicycle\n2 car\n')
    assert read_class_names(tmp_path / 'classes.txt') == NAMES


def test_prediction_file_format(tmp_path):
    """`class cx cy w h confidence`, normalised to the image, most confident first."""
    found = [Detection(2, 'car', 0.4, 10, 20, 30, 60), Detection(0, 'person', 0.9, 0, 0, 64, 48)]
    rows = detections_to_yolo(found, (64, 48))
    assert np.allclose(rows, [[0, 0.5, 0.5, 1.0, 1.0, 0.9], [2, 20 / 64, 40 / 48, 20 / 64, 40 / 48, 0.4]])
    path = write_yolo_file(tmp_path / 'p.txt', rows)
    assert path.read_text().splitlines()[0] == '0 0.500000 0.500000 1.000000 1.000000 0.900000'
    assert np.allclose(read_yolo_file(path, confidence=True), rows, atol=1e-6)


# --------------------------------------------------------------------------- dataset


def test_validation_blocks_spread_and_keep_training_stems():
    stems = [f'{i:05d}' for i in range(100)]
    val = _val_stems(stems, 0.1, 10)
    assert len(val) == 10 and len(set(stems) - val) == 90
    assert sorted(val) == stems[50:60]  # one block of 10 consecutive stems, in the middle
    assert len(_val_stems(stems, 0.2, 5)) == 20 and not _val_stems(stems, 0.0, 10)
    assert 0 < len(_val_stems(stems[:3], 0.5, 20)) < 3  # tiny sets still keep a training stem


def test_dataset_builder_layout(tmp_path):
    stems = [f'{i:03d}' for i in range(6)]
    pairs = write_pairs(tmp_path / 'data', stems)
    (pairs / 'labels' / 'fusion' / '005.txt').unlink()  # an image without labels is skipped
    thermal_labels = tmp_path / 'ir_labels'
    for stem in stems[:5]:
        write_yolo_file(thermal_labels / f'{stem}.txt', np.array([[0, 0.5, 0.5, 0.2, 0.3]]))
    config = DatasetConfig(thermal=((pairs / 'ir', thermal_labels),), pairs=((pairs, pairs / 'labels' / 'fusion'),),
                           methods=('average', 'max'), names=NAMES, val_fraction=0.2, val_block=1)
    info = build_dataset(config, tmp_path / 'ds', progress=False)
    root = tmp_path / 'ds'
    text = (root / 'data.yaml').read_text()
    assert 'train: images/train' in text and 'val: images/val' in text and '2: "car"' in text
    train = sorted(p.name for p in (root / 'images' / 'train').iterdir())
    val = sorted(p.name for p in (root / 'images' / 'val').iterdir())
    assert len(train) + len(val) == 15  # 5 labelled stems x (thermal + 2 fused)
    assert val == ['average_002.png', 'ir_002.png', 'max_002.png']  # one stem: all its images in one split
    # thermal images are normalised as the node does (per-image percentiles): written, not linked
    ir_img = root / 'images' / 'train' / 'ir_000.png'
    assert not ir_img.is_symlink()
    assert cv2.imread(str(ir_img), cv2.IMREAD_UNCHANGED).max() == 255  # the 220 box, stretched
    for split, names in (('train', train), ('val', val)):
        labels = sorted(p.stem for p in (root / 'labels' / split).glob('*.txt'))
        assert labels == sorted(n.rsplit('.', 1)[0] for n in names)
    fused = cv2.imread(str(root / 'images' / 'train' / 'average_000.png'))
    assert fused.shape == (H, W, 3)
    manifest = json.loads((root / 'manifest.json').read_text())
    assert manifest['counts']['val'] == {'ir': 1, 'average': 1, 'max': 1}
    assert len(info.skipped) == 2 and all('005' in s for s in info.skipped)  # thermal and pair
    assert sum(manifest['boxes']['train'].values()) == 12
    with pytest.raises(FileExistsError):
        build_dataset(config, root, progress=False)


def test_dataset_dtype_links_8bit_thermal_files(tmp_path):
    pairs = write_pairs(tmp_path / 'data', ['000'])
    config = DatasetConfig(thermal=((pairs / 'ir', pairs / 'labels' / 'fusion'),), names=NAMES, val_fraction=0.0,
                           thermal_norm=ThermalNormConfig('dtype'))
    build_dataset(config, tmp_path / 'ds', progress=False)
    linked = tmp_path / 'ds' / 'images' / 'train' / 'ir_000.png'
    assert linked.is_symlink() and cv2.imread(str(linked), cv2.IMREAD_UNCHANGED).max() == 220
    manifest = json.loads((tmp_path / 'ds' / 'manifest.json').read_text())
    assert manifest['config']['thermal_norm']['mode'] == 'dtype'
    assert DatasetConfig(thermal=config.thermal, thermal_norm={'mode': 'dtype'}).thermal_norm.mode == 'dtype'


def test_detector_input_normalises_thermal_as_the_node_does(tmp_path):
    """A dark 8-bit thermal image (MSRS at night: mean gray about 15) reaches the detector stretched, as the
    node's default thermal_normalization stretches it, in the thermal and the fused input; 'dtype' keeps it."""
    data = write_pairs(tmp_path / 'p', ['a'])
    dark = (cv2.imread(str(data / 'ir' / 'a.png'), cv2.IMREAD_UNCHANGED) // 8).astype(np.uint8)  # 3 .. 27
    cv2.imwrite(str(data / 'ir' / 'a.png'), dark)
    node = np.round(normalize_thermal(dark, ThermalNormConfig()) * 255).astype(np.uint8)
    thermal = load_detector_input('thermal', None, data / 'ir' / 'a.png')
    assert thermal.shape == (H, W, 3) and np.array_equal(thermal[..., 0], node) and thermal.max() == 255
    kept = load_detector_input('thermal', None, data / 'ir' / 'a.png', thermal_norm=ThermalNormConfig('dtype'))
    assert np.array_equal(kept[..., 0], dark)
    # fused by max: the stretched box wins over the visible image only with the node's normalisation
    box = (slice(10, 26), slice(8, 18))
    fused = load_detector_input('fused', data / 'vi' / 'a.png', data / 'ir' / 'a.png', method='max')
    fused_dtype = load_detector_input('fused', data / 'vi' / 'a.png', data / 'ir' / 'a.png', method='max',
                                      thermal_norm=ThermalNormConfig('dtype'))
    assert fused[box].mean() > fused_dtype[box].mean() + 20


def test_dataset_refuses_test_folders_and_bad_labels(tmp_path):
    pairs = write_pairs(tmp_path / 'msrs' / 'test', ['a', 'b'])
    with pytest.raises(ValueError, match='test'):
        build_dataset(DatasetConfig(pairs=((pairs, pairs / 'labels' / 'fusion'),), methods=('average',)),
                      tmp_path / 'ds', progress=False)
    other = write_pairs(tmp_path / 'train', ['a', 'b'])
    (other / 'labels' / 'fusion' / 'a.txt').write_text('7 0.5 0.5 0.1 0.1\n')  # class 7 of 3
    with pytest.raises(LabelError, match='a.txt:1'):
        build_dataset(DatasetConfig(pairs=((other, other / 'labels' / 'fusion'),), methods=('average',)),
                      tmp_path / 'ds2', progress=False)


# --------------------------------------------------------------------------- mAP (ultralytics' metrics)

TARGETS = {'a': np.array([[0, 0.3, 0.3, 0.2, 0.4], [2, 0.7, 0.6, 0.2, 0.2]]),
           'b': np.array([[0, 0.5, 0.5, 0.1, 0.1], [1, 0.2, 0.8, 0.1, 0.2]])}


def perfect(targets, conf=0.9):
    return {k: np.c_[v, np.full(len(v), conf)] for k, v in targets.items()}


def test_map_of_perfect_predictions():
    """ultralytics' AP (COCO 101-point interpolation): a perfect detector scores 0.995 at every IoU."""
    s = score_detections(perfect(TARGETS), TARGETS, NAMES)
    assert s.ap50 == pytest.approx({'person': 0.995, 'bicycle': 0.995, 'car': 0.995})
    assert s.map50 == pytest.approx(0.995) and s.map == pytest.approx(0.995)
    assert s.targets == {'person': 2, 'bicycle': 1, 'car': 1} and s.images == 2 and s.predictions == 4


def test_map_of_shifted_boxes():
    """Boxes shifted by 20 % of their width overlap by IoU 0.8 / 1.2 = 0.667: right at IoU 0.50-0.65 (4 of the 10
    thresholds), wrong above: AP50 stays 0.995, AP50-95 falls to 0.995 * 4 / 10."""
    shifted = perfect(TARGETS)
    for boxes in shifted.values():
        boxes[:, 1] += 0.2 * boxes[:, 3]
    correct = match_image(shifted['a'], TARGETS['a'])
    assert correct.tolist() == [[True] * 4 + [False] * 6] * 2
    s = score_detections(shifted, TARGETS, NAMES)
    assert s.map50 == pytest.approx(0.995) and s.map == pytest.approx(0.398)
    half = perfect(TARGETS)
    half['a'][:, 1] += 0.5  # far away: misses
    assert score_detections(half, TARGETS, NAMES).map50 < 0.995


def test_missing_classes_and_false_positives():
    no_bicycle = {k: v[v[:, 0] != 1] for k, v in TARGETS.items()}
    s = score_detections(perfect(TARGETS), no_bicycle, NAMES)  # bicycle predicted but never labelled
    assert s.ap50['bicycle'] is None and s.ap['bicycle'] is None
    assert s.map50 == pytest.approx(0.995)  # the mean over the labelled classes, untouched
    preds = perfect(TARGETS)
    preds['b'] = preds['b'][preds['b'][:, 0] != 1]  # bicycle labelled but never predicted
    s = score_detections(preds, TARGETS, NAMES)
    assert s.ap50['bicycle'] == 0.0 and s.map50 == pytest.approx(2 * 0.995 / 3)
    extra = perfect(TARGETS, conf=0.5)
    extra['a'] = np.vstack([[0, 0.9, 0.1, 0.1, 0.1, 0.95], extra['a']])  # a confident false person
    s = score_detections(extra, TARGETS, NAMES)
    assert s.ap50['person'] < 0.9 and s.ap50['car'] == pytest.approx(0.995)
    assert score_detections({}, TARGETS, NAMES).map50 == 0.0
    assert score_detections({}, {'a': np.zeros((0, 5))}, NAMES).map50 is None


def test_score_folders(tmp_path):
    for stem, boxes in TARGETS.items():
        write_yolo_file(tmp_path / 'labels' / f'{stem}.txt', boxes)
    write_yolo_file(tmp_path / 'pred' / 'a.txt', perfect(TARGETS)['a'])  # no file for b: all of b missed
    s = score_folders(tmp_path / 'pred', tmp_path / 'labels', NAMES)
    assert s.images == 2 and s.ap50['car'] == pytest.approx(0.995) and s.ap50['bicycle'] == 0.0


# --------------------------------------------------------------------------- commands with a random-weight YOLO


@pytest.fixture(scope='module')
def random_yolo(tmp_path_factory):
    """A yolo11n with random weights and the three MSRS classes, built from its config."""
    pytest.importorskip('ultralytics')
    os.environ.setdefault('YOLO_OFFLINE', '1')
    from ultralytics import YOLO
    from ultralytics.nn.tasks import DetectionModel
    model = YOLO('yolo11n.yaml')
    model.model = DetectionModel('yolo11n.yaml', nc=3, verbose=False)
    model.model.names = dict(enumerate(NAMES))
    path = tmp_path_factory.mktemp('yolo') / 'yolo11n_random.pt'
    model.save(str(path))
    return path


def test_detect_command_end_to_end(tmp_path, random_yolo, capsys):
    data = write_pairs(tmp_path / 'pairs', ['p1', 'p2'])
    out = tmp_path / 'out'
    assert cli.main(['detect', '--rgb-dir', str(data / 'vi'), '--ir-dir', str(data / 'ir'), '--out', str(out),
                     '--method', 'average', '--detector', str(random_yolo), '--conf', '0.0', '--imgsz', '64',
                     '--max-det', '5', '--device', 'cpu', '--quiet']) == 0
    assert 'detect: 2 fused (average) images' in capsys.readouterr().out
    for stem in ('p1', 'p2'):
        rows = read_yolo_file(out / 'labels' / f'{stem}.txt', confidence=True)
        assert rows.shape[1] == 6 and 1 <= len(rows) <= 5
        assert ((rows[:, 1:] >= 0) & (rows[:, 1:] <= 1)).all() and (np.diff(rows[:, 5]) <= 0).all()
        assert cv2.imread(str(out / 'images' / f'{stem}.png')).shape == (H, W, 3)
    assert cli.main(['detect', '--ir-dir', str(data / 'ir'), '--out', str(tmp_path / 'th'), '--input', 'thermal',
                     '--detector', str(random_yolo), '--imgsz', '64', '--device', 'cpu', '--quiet']) == 0
    assert len(list((tmp_path / 'th' / 'labels').glob('*.txt'))) == 2
    # --thermal-norm: the detector's input (drawn without boxes at --conf 1) is stretched by default, as in the node
    seen = {}
    for norm in ('percentile', 'dtype'):
        assert cli.main(['detect', '--ir-dir', str(data / 'ir'), '--out', str(tmp_path / norm), '--input', 'thermal',
                         '--detector', str(random_yolo), '--imgsz', '64', '--conf', '1', '--device', 'cpu',
                         '--thermal-norm', norm, '--quiet']) == 0
        seen[norm] = cv2.imread(str(tmp_path / norm / 'images' / 'p1.png'), cv2.IMREAD_GRAYSCALE)
    assert seen['dtype'].max() == 220 and seen['percentile'].max() == 255 and seen['percentile'].min() == 0
    assert cli.main(['detect', '--ir-dir', str(data / 'ir'), '--out', str(tmp_path / 'x'), '--detector',
                     str(random_yolo)]) == 2  # fused input without the visible folder
    assert '--rgb-dir' in capsys.readouterr().err


def test_eval_detector_command(tmp_path, random_yolo, capsys):
    data = write_pairs(tmp_path / 'pairs', ['p1', 'p2'], label_set='fusion')
    for kind in ('infrared', 'visible'):
        for stem in ('p1', 'p2'):
            write_yolo_file(data / 'labels' / kind / 'test' / f'{stem}.txt', np.array([[0, 0.5, 0.5, 0.3, 0.3]]))
        (data / 'labels' / 'fusion' / 'test').mkdir(exist_ok=True)
    for stem in ('p1', 'p2'):
        os.replace(data / 'labels' / 'fusion' / f'{stem}.txt', data / 'labels' / 'fusion' / 'test' / f'{stem}.txt')
    assert cli.main(['eval-detector', '--detector', str(random_yolo), '--rgb-dir', str(data / 'vi'), '--ir-dir',
                     str(data / 'ir'), '--labels-root', str(data / 'labels'), '--methods', 'average,max',
                     '--imgsz', '64', '--device', 'cpu', '--out', str(tmp_path / 'eval'), '--quiet']) == 0
    table = (tmp_path / 'eval' / 'detection_eval.md').read_text()
    for row in ('| thermal | infrared |', '| visible | visible |', '| fused (average) | fusion |',
                '| fused (max) | fusion |'):
        assert row in table
    rows = json.loads((tmp_path / 'eval' / 'detection_eval.json').read_text())
    assert [r['images'] for r in rows] == [2, 2, 2, 2] and rows[0]['AP50']['bicycle'] is None
    capsys.readouterr()


# --------------------------------------------------------------------------- train-detector smoke run


@pytest.fixture
def no_network(monkeypatch):
    """Every attempt to open a network connection is recorded and refused."""
    attempts = []

    def refuse(self, address, *args, **kwargs):
        attempts.append(address)
        raise OSError(f'network disabled in tests ({address})')
    monkeypatch.setattr(socket.socket, 'connect', refuse)
    monkeypatch.setattr(socket, 'getaddrinfo', lambda *a, **k: attempts.append(a) or (_ for _ in ()).throw(
        OSError('network disabled in tests')))
    return attempts


def test_train_detector_smoke_time_budget_sitting_and_resume(tmp_path, no_network, capsys):
    """Four tiny images at imgsz 64: a --time budget ends the run after one epoch (finished, exported); a --sitting
    budget ends a sitting after one epoch with last.pt resumable, and --resume finishes the schedule. No network
    call (no weights, no font download), contrast jitter in the training pipeline."""
    pytest.importorskip('ultralytics')
    from fusion_ros.training.detector import RandomContrast, train_detector

    data = write_pairs(tmp_path / 'data', ['a', 'b', 'c', 'd'])
    common = ['train-detector', '--pairs', str(data), str(data / 'labels' / 'fusion'), '--methods', 'average',
              '--imgsz', '64', '--batch', '2', '--workers', '0', '--device', 'cpu', '--val-fraction', '0.25',
              '--val-block', '1', '--quiet']
    assert cli.main(common + ['--out', str(tmp_path / 'timed'), '--epochs', '5', '--time', '0.00001',
                              '--no-plots']) == 0
    out = capsys.readouterr().out
    assert 'finished after 1 epochs' in out, out
    card = json.loads((tmp_path / 'timed' / 'detector.json').read_text())
    assert card['epochs'] == 1 and card['classes'] == NAMES and card['recipe']['augment']['hsv_s'] == 0.0
    assert card['commands'][0].startswith('fusion-ros train-detector') and card['hardware']
    assert (tmp_path / 'timed' / 'detector.pt').is_file() and (tmp_path / 'timed' / 'curves.png').is_file()

    from fusion_ros.commands.train_detector import config_from_args
    seen = {}
    config = config_from_args(cli.build_parser().parse_args(
        common + ['--out', str(tmp_path / 'run'), '--epochs', '2', '--sitting', '0.000001']))
    result = train_detector(config, log=lambda *a: None, callbacks={'on_train_start': lambda t: seen.update(
        contrast=any(isinstance(x, RandomContrast) for x in t.train_loader.dataset.transforms.transforms))})
    assert seen['contrast'] and result.stopped == 'sitting' and result.epochs_done == 1 and result.exported is None
    assert (tmp_path / 'run' / 'train' / 'weights' / 'last.pt').is_file()
    assert cli.main(['train-detector', '--out', str(tmp_path / 'run'), '--resume', '--workers', '0', '--device',
                     'cpu', '--export', str(tmp_path / 'models' / 'detector_default.pt')]) == 0
    out = capsys.readouterr().out
    assert 'finished after 2 epochs' in out, out
    state = json.loads((tmp_path / 'run' / 'run.json').read_text())
    assert [s['stopped'] for s in state['sittings']] == ['sitting', 'finished'] and state['finished']
    card = json.loads((tmp_path / 'models' / 'detector_default.json').read_text())
    assert card['epochs'] == 2 and len(card['sittings']) == 2 and card['file'] == 'detector_default.pt'
    assert (tmp_path / 'run' / 'train' / 'results.png').is_file()  # ultralytics' plots, with the local font
    assert no_network == []
    assert cli.main(['train-detector', '--out', str(tmp_path / 'run'), '--resume']) == 2  # finished: refused
    assert 'finished' in capsys.readouterr().err


def test_train_detector_refuses_weights_and_full_folders(tmp_path, capsys):
    data = write_pairs(tmp_path / 'data', ['a', 'b'])
    args = ['train-detector', '--pairs', str(data), str(data / 'labels' / 'fusion'), '--methods', 'average']
    assert cli.main(args + ['--out', str(tmp_path / 'r'), '--model', 'yolo11n.pt']) == 2
    assert 'random weights' in capsys.readouterr().err
    (tmp_path / 'full').mkdir()
    (tmp_path / 'full' / 'x').write_text('')
    assert cli.main(args + ['--out', str(tmp_path / 'full')]) == 2
    assert 'not empty' in capsys.readouterr().err
    assert cli.main(['train-detector', '--out', str(tmp_path / 'none'), '--resume']) == 2
    assert 'nothing to resume' in capsys.readouterr().err


def test_ultralytics_font_is_local(tmp_path, monkeypatch, no_network):
    """ultralytics downloads Arial.ttf for its plots when its settings folder lacks it; ensure_local_font puts
    matplotlib's DejaVu Sans there, so its font check finds a file and never goes online."""
    pytest.importorskip('ultralytics')
    import ultralytics.utils
    import ultralytics.utils.checks as checks
    from fusion_ros.training.detector import ensure_local_font

    monkeypatch.setattr(ultralytics.utils, 'USER_CONFIG_DIR', tmp_path)
    monkeypatch.setattr(checks, 'USER_CONFIG_DIR', tmp_path)
    cached = getattr(checks.check_font, '__wrapped__', checks.check_font)  # lru_cache under a lock wrapper
    cached.cache_clear()
    try:
        assert ensure_local_font() == tmp_path / 'Arial.ttf' and (tmp_path / 'Arial.ttf').stat().st_size > 10000
        assert checks.check_font('Arial.ttf') == tmp_path / 'Arial.ttf'
    finally:
        cached.cache_clear()
    assert no_network == []


def test_train_detector_init_fine_tunes_from_local_weights(tmp_path, capsys):
    """--init: the run starts from that file's weights (not random ones); a missing file is refused clearly."""
    pytest.importorskip('ultralytics')
    import torch
    from fusion_ros.commands.train_detector import config_from_args
    from fusion_ros.training.detector import train_detector

    data = write_pairs(tmp_path / 'data', ['a', 'b', 'c', 'd'])
    common = ['train-detector', '--pairs', str(data), str(data / 'labels' / 'fusion'), '--methods', 'average',
              '--imgsz', '64', '--batch', '2', '--workers', '0', '--device', 'cpu', '--val-fraction', '0.25',
              '--val-block', '1', '--quiet', '--no-plots', '--epochs', '1']
    assert cli.main(common + ['--out', str(tmp_path / 'first')]) == 0
    init = tmp_path / 'first' / 'detector.pt'
    reference = torch.load(init, map_location='cpu', weights_only=False)['model'].float().state_dict()
    seen = {}

    def at_start(trainer):
        start = trainer.model.state_dict()
        same = [torch.equal(start[k].float(), v) for k, v in reference.items() if k in start and v.is_floating_point()]
        seen.update(n=len(same), same=all(same))
    config = config_from_args(cli.build_parser().parse_args(common + ['--out', str(tmp_path / 'tuned'),
                                                                      '--init', str(init)]))
    train_detector(config, log=lambda *a: None, callbacks={'on_train_start': at_start})
    assert seen['n'] > 50 and seen['same']  # every tensor, the classes head included
    seen.clear()
    config = config_from_args(cli.build_parser().parse_args(common + ['--out', str(tmp_path / 'random')]))
    train_detector(config, log=lambda *a: None, callbacks={'on_train_start': at_start})
    assert not seen['same']  # without --init: random weights
    assert cli.main(common + ['--out', str(tmp_path / 'x'), '--init', str(tmp_path / 'nope.pt')]) == 2
    assert 'init weights' in capsys.readouterr().err


def test_detector_gray_input_feeds_the_luma_in_three_channels(random_yolo):
    import cv2
    from fusion_ros.detection import Detector, DetectorConfig
    rgb = np.random.default_rng(0).integers(0, 256, (64, 96, 3), dtype=np.uint8)
    seen = {}
    for gray in (False, True):
        detector = Detector(random_yolo, 'cpu', DetectorConfig(image_size=64, gray=gray))
        real = detector.model.predict
        detector.model.predict = lambda image, **kw: (seen.__setitem__(gray, image), real(image, **kw))[1]
        detector.predict(rgb)
    assert np.array_equal(seen[False], rgb[..., ::-1])  # colour: BGR for ultralytics
    luma = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
    assert seen[True].shape == (64, 96, 3) and all(np.array_equal(seen[True][..., c], luma) for c in range(3))
