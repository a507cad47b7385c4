"""fusion-ros pseudo-label / fusion_ros.pseudo_labels: thermal detections become labels of registered pairs."""
import numpy as np
import pytest

from fusion_ros import cli
from fusion_ros.detection import Detection
from fusion_ros.detection_data import read_yolo_file
from fusion_ros.pseudo_labels import pseudo_label_pairs
from test_detection import H, W, write_pairs


class FakeDetector:
    """Finds one box where the thermal image is hot (what a thermal detector would)."""
    class_names = ['person', 'bicycle', 'car']

    def __init__(self):
        self.seen = []

    def predict(self, image):
        self.seen.append(image)
        gray = image if image.ndim == 2 else image[..., 0]
        ys, xs = np.nonzero(gray > 128)  # uint8 RGB of the thermal image
        return [Detection(0, 'person', 0.9, float(xs.min()), float(ys.min()), float(xs.max() + 1), float(ys.max() + 1))]


def test_boxes_found_in_thermal_become_labels_of_the_pair_and_test_pairs_are_left_out(tmp_path):
    data = write_pairs(tmp_path / 'm3fd', ['00011', '00012', '02001'], labels=False)  # 02001: M3FD test split
    out = tmp_path / 'out'
    detector = FakeDetector()
    result = pseudo_label_pairs(data / 'vi', data / 'ir', out, detector, progress=False)
    assert (result.pairs, result.skipped_test, result.boxes['person']) == (2, 1, 2)
    assert sorted(p.name for p in (out / 'labels').iterdir()) == ['00011.txt', '00012.txt']
    rows = read_yolo_file(out / 'labels' / '00011.txt')  # 5 columns: what train-detector reads
    assert rows.shape == (1, 5) and rows[0, 0] == 0
    np.testing.assert_allclose(rows[0, 1:], [(8 + 5) / W, (10 + 8) / H, 10 / W, 16 / H], atol=1e-6)  # the warm box
    assert (out / 'vi' / '00011.png').resolve() == (data / 'vi' / '00011.png').resolve()
    assert (out / 'ir' / '00012.png').is_symlink() and not (out / 'vi' / '02001.png').exists()
    assert (out / 'images' / '00012.png').is_file()
    # the test pair is found through a linked folder too, and can be asked for explicitly
    (tmp_path / 'linked').symlink_to(data)
    again = pseudo_label_pairs(tmp_path / 'linked' / 'vi', tmp_path / 'linked' / 'ir', tmp_path / 'o2', FakeDetector(),
                               progress=False)
    assert again.skipped_test == 1
    everything = pseudo_label_pairs(data / 'vi', data / 'ir', tmp_path / 'o3', FakeDetector(), include_test=True,
                                    progress=False)
    assert (everything.pairs, everything.skipped_test) == (3, 0)


def test_command_writes_a_dataset_train_detector_can_read(tmp_path, capsys):
    pytest.importorskip('ultralytics')
    data = write_pairs(tmp_path / 'pairs', ['a', 'b'], labels=False)
    from ultralytics import YOLO
    from ultralytics.nn.tasks import DetectionModel
    model = YOLO('yolo11n.yaml')
    model.model = DetectionModel('yolo11n.yaml', nc=3, verbose=False)
    model.model.names = dict(enumerate(FakeDetector.class_names))
    model.save(str(tmp_path / 'det.pt'))
    out = tmp_path / 'out'
    assert cli.main(['pseudo-label', '--rgb-dir', str(data / 'vi'), '--ir-dir', str(data / 'ir'), '--out', str(out),
                     '--detector', str(tmp_path / 'det.pt'), '--conf', '0.0', '--imgsz', '64', '--max-det', '3',
                     '--device', 'cpu', '--quiet']) == 0
    printed = capsys.readouterr().out
    assert 'pseudo-label: 2 pairs labelled' in printed and f'--pairs {out}' in printed
    for stem in ('a', 'b'):
        rows = read_yolo_file(out / 'labels' / f'{stem}.txt')
        assert rows.shape[1] == 5 and 1 <= len(rows) <= 3 and ((rows[:, 1:] >= 0) & (rows[:, 1:] <= 1)).all()
