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
