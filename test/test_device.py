"""Device choice from a user string, with the fix in every error."""
import pytest
import torch

from fusion_ros.device import resolve_device


def test_auto_picks_cuda_only_when_usable(monkeypatch):
    expected = 'cuda' if torch.cuda.is_available() else 'cpu'
    assert resolve_device('auto') == torch.device(expected)
    assert resolve_device() == torch.device(expected)
    monkeypatch.setattr(torch.cuda, 'is_available', lambda: False)
    assert resolve_device('auto') == torch.device('cpu')


def test_cpu_and_spelling_tolerance():
    assert resolve_device('cpu') == torch.device('cpu')
    assert resolve_device('  CPU ') == torch.device('cpu')


@pytest.mark.parametrize('name', ['cuda', 'cuda:0'])
def test_cuda_without_a_gpu_says_what_to_use(monkeypatch, name):
    monkeypatch.setattr(torch.cuda, 'is_available', lambda: False)
    with pytest.raises(ValueError, match=f"device '{name}' asked for, but no CUDA GPU is usable here") as exc:
        resolve_device(name)
    assert "use 'auto' or 'cpu'" in str(exc.value)


def test_cuda_index_beyond_the_gpus_present(monkeypatch):
    monkeypatch.setattr(torch.cuda, 'is_available', lambda: True)
    monkeypatch.setattr(torch.cuda, 'device_count', lambda: 1)
    assert resolve_device('cuda:0') == torch.device('cuda:0')
    assert resolve_device('cuda') == torch.device('cuda')
    with pytest.raises(ValueError, match=r"device 'cuda:3' asked for, but only 1 GPU\(s\) exist"):
        resolve_device('cuda:3')


@pytest.mark.parametrize('name', ['gpu', 'cuda:', 'cuda:x', 'mps', '', 'cpu:0'])
def test_unknown_strings_are_refused(name):
    with pytest.raises(ValueError, match="device must be 'auto', 'cpu', 'cuda' or 'cuda:N', got"):
        resolve_device(name)


@pytest.mark.parametrize('cores, threads', [(1, 1), (2, 1), (3, 2), (4, 3), (16, 15), (64, 63)])
def test_auto_cpu_threads_leaves_a_core_to_ros(cores, threads):
    """Issue 12: on 2 cores torch's default (2 threads) gave 5.5 Hz against 14.0 Hz with 1."""
    from fusion_ros.device import auto_cpu_threads, cpu_threads_for
    assert auto_cpu_threads(cores) == threads
    assert cpu_threads_for(0, cores) == threads  # 0 means auto
    assert cpu_threads_for(3, cores) == 3  # an explicit count is kept
    with pytest.raises(ValueError, match='cpu_threads'):
        cpu_threads_for(-1, cores)


def test_available_cores_respects_affinity_and_cgroup_quota(monkeypatch):
    import os

    from fusion_ros import device
    monkeypatch.setattr(os, 'sched_getaffinity', lambda pid: {0, 1, 2, 3})
    monkeypatch.setattr(device, '_cgroup_cpu_quota', lambda: None)
    assert device.available_cores() == 4
    monkeypatch.setattr(device, '_cgroup_cpu_quota', lambda: 1.5)  # docker --cpus 1.5
    assert device.available_cores() == 2


def test_apply_cpu_threads_sets_torch(monkeypatch):
    from fusion_ros.device import apply_cpu_threads
    before = torch.get_num_threads()
    try:
        text = apply_cpu_threads(0, cores=3)
        assert torch.get_num_threads() == 2 and 'auto' in text and '3 cores' in text
        apply_cpu_threads(1, cores=3)
        assert torch.get_num_threads() == 1
    finally:
        torch.set_num_threads(before)


def test_keep_frame_buffers_sets_glibc_thresholds_once(monkeypatch):
    import ctypes
    from fusion_ros import device
    calls = []

    class FakeLibc:
        def mallopt(self, param, value):
            calls.append((param, value))
            return 1
    monkeypatch.setattr(device, '_allocator_state', None)
    monkeypatch.setattr(ctypes, 'CDLL', lambda name: FakeLibc())
    text = device.keep_frame_buffers(64)
    assert 'reused' in text and '64 MB' in text
    assert dict(calls) == {device._M_MMAP_THRESHOLD: 64 << 20, device._M_TRIM_THRESHOLD: 128 << 20,
                           device._M_TOP_PAD: 64 << 20}
    assert device.keep_frame_buffers(64) == text and len(calls) == 3  # process-wide: set once


def test_keep_frame_buffers_without_glibc_says_so(monkeypatch):
    import ctypes
    from fusion_ros import device

    def no_libc(name):
        raise OSError('not found')
    monkeypatch.setattr(device, '_allocator_state', None)
    monkeypatch.setattr(ctypes, 'CDLL', no_libc)
    assert 'default' in device.keep_frame_buffers()


def test_keep_frame_buffers_refused_says_so(monkeypatch):
    import ctypes
    from fusion_ros import device

    class Refusing:
        def mallopt(self, param, value):
            return 0
    monkeypatch.setattr(device, '_allocator_state', None)
    monkeypatch.setattr(ctypes, 'CDLL', lambda name: Refusing())
    assert 'refused' in device.keep_frame_buffers()
