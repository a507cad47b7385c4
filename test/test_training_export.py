"""Exporting an SSVIF run's fusion model and self-supervised SegFormer into shippable files."""
import numpy as np
import pytest
import segmentation_models_pytorch as smp
import torch

from fusion_ros.checkpoint import load_checkpoint, save_checkpoint
from fusion_ros.engine import load_fusion_model
from fusion_ros.models import build_model
from fusion_ros.segmentation import Segmenter
from fusion_ros.training.export import export_fusion_model, export_segmenter


@pytest.fixture
def run_checkpoint(tmp_path):
    torch.manual_seed(0)
    seg = smp.Segformer(encoder_name='mit_b0', encoder_weights=None, in_channels=3, classes=5)
    objective = {f'seg_model.net.{k}': v for k, v in seg.state_dict().items()}
    objective['head.net.0.weight'] = torch.zeros(1)
    path = save_checkpoint(tmp_path / 'last.pt', build_model('ssvif'), 'ssvif', meta={'epochs': 3},
                           extra={'objective': objective, 'optimizer': {}, 'run': {'objective': {'seg_model': 'mit_b0'}}})
    return path, seg.eval()


def test_fusion_model_export_drops_training_state_and_loads_in_the_engine(run_checkpoint, tmp_path):
    path, _ = run_checkpoint
    out = export_fusion_model(path, tmp_path / 'ssvif_default.pt', meta={'card': 'models/README.md'})
    ckpt = load_checkpoint(out)
    assert 'optimizer' not in ckpt and 'objective' not in ckpt
    assert ckpt['meta'] == {'epochs': 3, 'card': 'models/README.md'}
    model = load_fusion_model('ssvif', out)
    fused = model.fuse(torch.rand(1, 3, 32, 48), torch.rand(1, 1, 32, 48))
    assert fused.shape == (1, 3, 32, 48)


def test_segmenter_export_reproduces_the_trained_segformer(run_checkpoint, tmp_path):
    path, seg = run_checkpoint
    out = export_segmenter(path, tmp_path / 'seg.pt')
    segmenter = Segmenter.from_file(out)
    assert segmenter.info.classes == 5 and segmenter.info.class_names[0] == 'region_00'
    image = np.random.default_rng(0).random((64, 96, 3), dtype=np.float32)
    with torch.inference_mode():
        expected = seg(torch.from_numpy(image.transpose(2, 0, 1))[None]).argmax(1)[0].numpy()
    assert (segmenter.predict(image) == expected).mean() > 0.99  # same net, [0, 1] input, no normalisation


def test_segmenter_export_refuses_a_run_without_csc(tmp_path):
    path = save_checkpoint(tmp_path / 'last.pt', build_model('ssvif'), 'ssvif', extra={'objective': {}})
    with pytest.raises(ValueError, match='no SSVIF segmentation model'):
        export_segmenter(path, tmp_path / 'seg.pt')
