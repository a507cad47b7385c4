"""Model factory: ``build_model(name, config)``; each model has one config dataclass."""
from __future__ import annotations

from dataclasses import asdict, is_dataclass

from torch import nn

from fusion_ros.models.blend import BlendFusionNet, BlendModelConfig
from fusion_ros.models.compact import CompactFusionConfig, CompactFusionNet
from fusion_ros.models.scene import SceneFusionModel, SceneModelConfig
from fusion_ros.models.ssvif import SSVIFFusionNet, SSVIFModelConfig
from fusion_ros.models.texmax import TexMaxFusionNet, TexMaxModelConfig

# name -> (config class, model class); configs build from plain dicts via ``from_dict`` or ``**``.
MODELS = {
    'scene': (SceneModelConfig, SceneFusionModel),
    'compact': (CompactFusionConfig, CompactFusionNet),
    'ssvif': (SSVIFModelConfig, SSVIFFusionNet),
    'ssvif_blend': (BlendModelConfig, BlendFusionNet),
    'ssvif_texmax': (TexMaxModelConfig, TexMaxFusionNet),
}


def config_from_dict(name: str, config: dict):
    config_cls, _ = _lookup(name)
    if hasattr(config_cls, 'from_dict'):
        return config_cls.from_dict(config)
    return config_cls(**config)


def build_model(name: str, config=None) -> nn.Module:
    """Build model ``name`` from a config dataclass, a plain dict, or None (defaults). Random weights."""
    config_cls, model_cls = _lookup(name)
    if config is None:
        config = config_cls()
    elif isinstance(config, dict):
        config = config_from_dict(name, config)
    return model_cls(config)


def config_to_dict(config) -> dict:
    return asdict(config) if is_dataclass(config) else dict(config)


def _lookup(name: str):
    try:
        return MODELS[name]
    except KeyError:
        raise KeyError(f'unknown model {name!r}; valid names: {", ".join(sorted(MODELS))}') from None


__all__ = ['BlendFusionNet', 'BlendModelConfig', 'MODELS', 'build_model', 'config_from_dict', 'config_to_dict', 'CompactFusionConfig',
           'CompactFusionNet', 'SceneFusionModel', 'SceneModelConfig', 'TexMaxFusionNet', 'TexMaxModelConfig']
