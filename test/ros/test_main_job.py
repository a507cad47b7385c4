"""The main job (``fusion-ros demo --ros``) end to end on a tiny recording: player in another process, DDS."""
import json

import pytest

pytest.importorskip('rclpy', reason='ROS 2 (rclpy) is not installed')
pytest.importorskip('rosbags')

from fusion_ros.bags import write_pairs  # noqa: E402
from fusion_ros.ros.main_job import SAMPLE_BAG, run_main_job  # noqa: E402
from node_harness import rgb_image, thermal_image  # noqa: E402

pytestmark = [pytest.mark.ros, pytest.mark.slow]


def test_sample_recording_is_bundled():
    assert SAMPLE_BAG.is_dir() and (SAMPLE_BAG / 'metadata.yaml').is_file()


def test_main_job_on_a_tiny_recording(tmp_path, ros_context):
    bag = tmp_path / 'tiny'
    period = 200_000_000
    write_pairs(bag, [(10**9 + i * period, rgb_image(seed=i), thermal_image(24, 32, 'mono8')) for i in range(5)])
    summary = run_main_job(tmp_path / 'out', bag=bag, device='cpu', train_epochs=3, train_time_budget_s=30.0,
                           domain_id=ros_context.get_domain_id(), timeout_s=120.0, log=lambda *a: None)
    out = tmp_path / 'out'
    assert json.loads((out / 'summary.json').read_text())['frames_out'] == summary['frames_out'] >= 8
    assert (out / 'summary.md').is_file() and (out / 'contact_sheet.png').stat().st_size > 0
    frames = {p.name for p in (out / 'frames').iterdir()}
    before = {name for name in frames if name.endswith('_before.png')}
    assert len(before) >= 4 and {name.replace('_before', '_after') for name in before} <= frames
    assert summary['frames_in']['rgb'] >= 8 and summary['pairs_made'] >= 8
    training = summary['training']  # the default mode, adapt: judged on frames it did not train on
    assert training['mode'] == 'adapt' and 'held-out' in training['message'].lower(), training['message']
    assert training['scores']['on'] == 'held-out recent pairs' and set(training['scores']['before']) == {
        'VIF', 'Qabf', 'SSIM'}
    assert summary['quality_mean']['shipped_model']['ssim_score'] > 0
    assert summary['latency_ms']['end_to_end_mean_max'] is not None


def test_main_job_starts_the_node_from_the_shipped_defaults():
    """Issue 12: `make demo`, `fusion-ros run` and the launch file start from the same defaults (config/fuse.yaml =
    the dataclass defaults, checked in test_bringup): the main job overrides only what it must, not cpu_threads."""
    from fusion_ros.ros.main_job import node_parameters
    assert set(node_parameters()) == {'use_sim_time', 'device', 'train_epochs', 'train_time_budget_s',
                                      'adapt_pair_interval_s'}
    assert node_parameters(segmentation_model='seg.pt')['segmentation_model_path'] == 'seg.pt'
    # issue 10: the degenerate SSVIF segmenter is never switched on by default; detection (the shipped detector
    # when installed, or a given model) is
    assert node_parameters(detection=True) == {**node_parameters(), 'detection_enabled': True,
                                               'detection_model_path': ''}
    assert node_parameters(detection_model='det.pt')['detection_model_path'] == 'det.pt'
    assert node_parameters()['device'] == 'auto'
