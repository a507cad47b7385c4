"""The fusion node's parameters, declared in one place: one dataclass, one field per ROS parameter.

Each field of :class:`FusionNodeConfig` is a parameter of the same name; its metadata
(:class:`ParamSpec`) gives the description, range or choices and whether it can change at run time
(``read_only``: fixed at start, e.g. model paths, which are loaded once). The dataclass validates
itself (``__post_init__``), so the same checks run when the node starts, when a parameter is set at
run time (:func:`watch_config` rejects a bad value with the reason) and in tests without ROS.
``config/fuse.yaml`` lists every parameter with its default (a test checks they agree).

Numbers: a double parameter must be written with a decimal point in YAML (``60.0``, not ``60``); ROS 2
refuses an integer for a double parameter.
"""
from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass, field, fields
from typing import Any, Callable

from fusion_ros import heads, registry
from fusion_ros.detection import DETECTION_SOURCES
from fusion_ros.pairing import PairingConfig

TRANSPORTS = ('raw', 'compressed')
QOS_NAMES = ('reliable', 'best_effort', 'match')  # fusion_ros.ros.qos.QOS_NAMES, without importing rclpy here
OUTPUT_QOS_NAMES = ('reliable', 'best_effort')
EXECUTORS = ('events', 'multi_threaded')
THERMAL_NORMALIZATIONS = ('percentile', 'range', 'dtype')
STORAGES = ('mcap', 'sqlite3')
# fusion_ros.engine's, repeated so that this module (and the player) load without torch; a test checks they agree
ALIGN_MODES = ('none', 'fixed', 'stn')
INFERENCE_BACKENDS = ('auto', 'torch', 'onnxruntime')  # fusion_ros.engine.BACKENDS
TRAIN_SCENE_MODES = ('adapt', 'scene')
IDENTITY_HOMOGRAPHY = (1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0)
EXACT_SYNC_TOLERANCE_S = 1e-9  # approximate_sync false: stamps must be equal (to the nanosecond)
_DEVICE = re.compile(r'^(auto|cpu|cuda(:\d+)?)$')


@dataclass(frozen=True)
class ParamSpec:
    """How a field is exposed as a ROS parameter.

    range: inclusive ``(low, high)`` for numbers; choices: valid strings; read_only: set at start only.
    """
    description: str
    read_only: bool = False
    range: tuple[float, float] | None = None
    step: float = 0
    choices: tuple[str, ...] | None = None
    constraints: str = ''

    def constraint_text(self) -> str:
        parts = [self.constraints] if self.constraints else []
        if self.choices:
            parts.append('one of: ' + ', '.join(self.choices))
        if self.read_only:
            parts.append('read-only: set at start (launch/YAML)')
        return '; '.join(parts)


def param(default: Any, description: str, **spec) -> Any:
    """A dataclass field that is a ROS parameter (see :class:`ParamSpec` for ``spec``)."""
    meta = {'param': ParamSpec(description, **spec)}
    if isinstance(default, (list, tuple)):
        return field(default_factory=lambda: tuple(default), metadata=meta)
    return field(default=default, metadata=meta)


def _fusion_models() -> tuple[str, ...]:
    return tuple(registry.names())  # looked up when validating: methods registered later count too


class ParamConfig:
    """Base of the parameter dataclasses: specs, and the checks every spec implies."""

    @classmethod
    def specs(cls) -> dict[str, tuple[Any, ParamSpec]]:
        """``{name: (default, spec)}`` of every parameter, in declaration order."""
        out = {}
        for f in fields(cls):
            default = f.default_factory() if f.default_factory is not dataclasses.MISSING else f.default
            out[f.name] = (default, f.metadata['param'])
        return out

    def check_specs(self) -> None:
        """Choices and ranges (ROS checks ranges too; this covers YAML read without ROS and tests)."""
        for f in fields(self):
            spec: ParamSpec = f.metadata['param']
            value = getattr(self, f.name)
            if spec.choices and value not in spec.choices:
                raise ValueError(f'parameter {f.name}: {value!r} is not one of {", ".join(spec.choices)}')
            if spec.range and not (spec.range[0] <= value <= spec.range[1]):
                raise ValueError(f'parameter {f.name}: {value!r} is outside [{spec.range[0]}, {spec.range[1]}]')


@dataclass
class FusionNodeConfig(ParamConfig):
    """Parameters of ``fusion_node`` (see each field's description, or ``ros2 param describe``)."""
    # -- inputs
    rgb_transport: str = param('raw', "'raw': sensor_msgs/Image on rgb/image; 'compressed': CompressedImage on "
                               'rgb/image/compressed (image_transport naming)', choices=TRANSPORTS, read_only=True)
    thermal_transport: str = param('raw', "'raw': Image on thermal/image (mono8, mono16 or 32FC1); 'compressed': "
                                   'CompressedImage on thermal/image/compressed', choices=TRANSPORTS, read_only=True)
    input_qos: str = param('reliable', "input QoS: 'reliable' (full-size images across processes), 'best_effort' "
                           "(sensor data) or 'match' (copy the publishers')", choices=QOS_NAMES, read_only=True)
    queue_size: int = param(10, 'frames kept per input while waiting for a partner (and the subscription depth)',
                            range=(1, 1000), step=1)
    worker_queue_size: int = param(2, 'synchronised pairs waiting for the fusion worker; when more come, the oldest '
                                   'is skipped (counted as worker_busy): 1 keeps only the newest (lowest latency), '
                                   '2 also absorbs two frames delivered at once', range=(1, 10), step=1,
                                   read_only=True)
    approximate_sync: bool = param(True, 'pair frames whose stamps differ by up to '
                                   'approximate_sync_tolerance_seconds; false: equal stamps only')
    approximate_sync_tolerance_seconds: float = param(
        0.05, 'largest stamp difference of an RGB + thermal pair, seconds (about half the slower frame period)',
        range=(1e-6, 10.0))
    thermal_normalization: str = param(
        'percentile', "thermal to [0, 1]: 'percentile' (thermal_low/high percentiles per frame), 'range' (raw "
        "values thermal_low..thermal_high, e.g. centi-kelvin) or 'dtype' (by the pixel type's range)",
        choices=THERMAL_NORMALIZATIONS)
    thermal_low: float = param(0.5, "low end of the thermal normalisation (a percentile, or a raw value for 'range')")
    thermal_high: float = param(99.5, "high end of the thermal normalisation (must be > thermal_low)")
    max_input_side: int = param(1920, 'largest side of an input image, pixels: a larger RGB or thermal image is '
                                'resized to fit (with a warning), so the work per frame stays bounded; outputs and '
                                'fused/camera_info are then on the smaller grid. 0: no limit',
                                range=(0, 65535), step=1)
    # -- alignment
    align_mode: str = param('none', "thermal onto the RGB grid: 'none' (resample), 'fixed' (homography), 'stn' "
                            '(the transform learned by the last ~/train_scene)', choices=ALIGN_MODES)
    homography: tuple = param(IDENTITY_HOMOGRAPHY, "align_mode 'fixed': 9 numbers, row-major 3x3 rgb_from_thermal in "
                              'pixels (thermal image as published -> RGB image)',
                              constraints='9 finite numbers, invertible')
    # -- fusion
    fusion_model: str = param('ssvif', "fusion model: 'ssvif' (the shipped real-time model), 'scene' or a "
                              'baseline name (see fusion_model_path)', choices=None, read_only=True,
                              constraints='a fusion method of fusion_ros.registry '
                                          f'({", ".join(registry.names())})')
    fusion_model_path: str = param('', "checkpoint file of the 'ssvif' or 'scene' fusion model (never downloaded)",
                                   read_only=True)
    device: str = param('auto', "torch device: 'auto' (cuda when present), 'cpu', 'cuda' or 'cuda:N'", read_only=True,
                        constraints="auto, cpu, cuda or cuda:N")
    cpu_threads: int = param(0, 'torch CPU threads; 0: auto, decided at start from the cores this process may use: '
                             'max(1, cores - 1), one core left to the ROS executor and DDS threads',
                             range=(0, 256), step=1, read_only=True)
    executor: str = param('events', "how callbacks are run: 'events' (rclpy's C++ EventsExecutor: less Python per "
                          "message, more CPU left to fusion) or 'multi_threaded' (rclpy's MultiThreadedExecutor, 4 "
                          "threads); 'events' falls back to 'multi_threaded' where rclpy lacks it (logged)",
                          choices=EXECUTORS, read_only=True)
    inference_backend: str = param('auto', "how a checkpoint fusion net (ssvif) runs: 'onnxruntime' (exported to "
                                   "ONNX in memory at start, CPU, cpu_threads intra-op threads), 'torch' "
                                   "(channels_last on the CPU) or 'auto' (onnxruntime on the CPU when installed and "
                                   'the export succeeds, else torch; the reason is logged); baselines and scene '
                                   'models run in torch', choices=INFERENCE_BACKENDS, read_only=True)
    # -- outputs
    publish_registered: bool = param(True, 'publish thermal/registered (the thermal image on the RGB grid)')
    output_qos: str = param('reliable', "QoS of the outputs: 'reliable' (every subscriber gets full-size images) "
                            "or 'best_effort' (sensor data: never waits for slow subscribers, may lose images)",
                            choices=OUTPUT_QOS_NAMES, read_only=True)
    output_qos_depth: int = param(10, 'history depth of the output publishers (images kept for retransmission)',
                                  range=(1, 1000), step=1, read_only=True)
    # -- segmentation
    segmentation_enabled: bool = param(False, 'segment the fused image (segmentation/mask, segmentation/overlay)',
                                       read_only=True)
    segmentation_model_path: str = param('', 'segmentation checkpoint (fusion_ros.segmentation format: '
                                         'segmentation-models-pytorch architecture, encoder, classes, weights); '
                                         'required with segmentation_enabled: no segmentation model ships',
                                         read_only=True)
    segmentation_overlay_alpha: float = param(0.5, 'weight of the class colours in segmentation/overlay',
                                              range=(0.0, 1.0))
    # -- detection
    detection_enabled: bool = param(False, 'detect objects in the fused image (detections, detections/image)',
                                    read_only=True)
    detection_model_path: str = param('', 'ultralytics detection model file (.pt); loaded at start from this path '
                                      'only (it can run code: use trusted files); empty: the shipped '
                                      'models/detector_default.pt when installed (without it the node runs '
                                      'without detection and says so)', read_only=True)
    detection_confidence: float = param(0.25, 'minimum detection score', range=(0.0, 1.0))
    detection_iou: float = param(0.45, 'non-maximum suppression IoU threshold', range=(0.01, 1.0))
    detection_image_size: int = param(416, 'detection inference size, pixels (multiple of 32); 416: the shipped '
                                      "detector's training size, 12.6 Hz out with fusion on a 2-core CPU",
                                      range=(32, 4096), step=32)
    detection_max: int = param(100, 'most detections per image', range=(1, 10000), step=1)
    detection_source: str = param('thermal', "what the detector looks at: 'thermal' (the thermal image registered "
                                  "onto the fused grid: the boxes fit fused/image all the same) or 'fused' (the fused "
                                  'image). The shipped detector is trained on thermal images: 0.590 mAP@0.5 against '
                                  'the fused labels of the MSRS test pairs on the thermal image, 0.400 on the fused '
                                  'image (BENCHMARKS.md)',
                                  choices=DETECTION_SOURCES)
    detection_gray: bool = param(True, "detect on the fused image's luma (3 equal channels): the shipped detector "
                                 'was trained on thermal images only, and on the 14 MSRS test pairs this raised its '
                                 'mAP@0.5 on fused images from 0.15 to 0.24; false: on the colour image')
    # -- per-scene training (~/train_scene)
    train_enabled: bool = param(True, 'allow ~/train_scene (anyone on the DDS domain can call it)', read_only=True)
    train_scene_mode: str = param('adapt', "what ~/train_scene does: 'adapt' (fine-tune the active streaming net on "
                                  'the newest pair(s) of the stream for adapt_time_budget_s, swapped in only if it '
                                  "scores better on other recent pairs) or 'scene' (paper 000: a small net trained on "
                                  'the newest pair, train_* parameters)', choices=TRAIN_SCENE_MODES)
    adapt_time_budget_s: float = param(3.0, "'adapt': wall time of the whole adaptation (judging included), seconds",
                                       range=(1.0, 600.0))
    train_duty: float = param(0.5, "'scene': share of the wall time paper 000's training computes on the CPU; it "
                              'sleeps in between so the fused output keeps its rate while it runs (1: no pauses; '
                              'on a GPU it never pauses)',
                              range=(0.1, 1.0))
    adapt_duty: float = param(0.5, "'adapt': share of the wall time the adaptation computes on the CPU; it sleeps "
                              'in between so the fused output keeps its rate while it runs (1: no pauses, fewer '
                              'seconds, more frames skipped; on a GPU it never pauses)', range=(0.1, 1.0))
    adapt_train_pairs: int = param(1, "'adapt': the newest this many kept pairs are trained on", range=(1, 16),
                                   step=1, read_only=True)
    adapt_holdout_pairs: int = param(2, "'adapt': this many kept pairs before them judge the result (not trained "
                                     'on)', range=(1, 16), step=1, read_only=True)
    adapt_pair_interval_s: float = param(0.5, "'adapt': kept pairs are at least this far apart (stamps, seconds), "
                                         'so the judging pairs are not copies of the trained one',
                                         range=(0.0, 600.0), read_only=True)
    train_epochs: int = param(60, 'optimiser steps of a per-scene training', range=(1, 100000), step=1)
    train_time_budget_s: float = param(60.0, 'a per-scene training stops after this many seconds',
                                       range=(1.0, 3600.0), read_only=True)
    train_work_size: int = param(256, 'longest side of the working copy trained on, pixels', range=(32, 4096), step=1)
    # -- recording
    record_enabled: bool = param(False, 'record the synchronised input pairs to a new rosbag2 bag', read_only=True)
    record_directory: str = param('', 'folder the bags are written in (required to record; a bag is never '
                                  'overwritten)', read_only=True)
    record_storage: str = param('mcap', 'bag storage', choices=STORAGES, read_only=True)
    # -- diagnostics
    diagnostics_period_s: float = param(1.0, 'period of /diagnostics, seconds', range=(0.1, 60.0), read_only=True)
    no_data_timeout_s: float = param(5.0, 'warn when an input has been silent this long, seconds',
                                     range=(0.5, 3600.0))
    diagnostics_window_s: float = param(5.0, 'the /diagnostics levels and messages describe the last this many '
                                        'seconds (totals since start are in the values)', range=(0.5, 3600.0),
                                        read_only=True)

    def __post_init__(self):
        self.check_specs()
        if self.fusion_model not in _fusion_models():
            raise ValueError(f'parameter fusion_model: {self.fusion_model!r} is not one of '
                             f'{", ".join(_fusion_models())}')
        if not _DEVICE.match(self.device.strip().lower()):
            raise ValueError(f"parameter device: {self.device!r}; use 'auto', 'cpu', 'cuda' or 'cuda:N'")
        if self.detection_image_size % 32:
            raise ValueError(f'parameter detection_image_size: {self.detection_image_size} is not a multiple of 32')
        if self.record_enabled and not self.record_directory:
            raise ValueError('parameter record_directory is empty but record_enabled is true; give a path or '
                             'disable record_enabled')
        for spec in heads.specs():  # a head that ships no model needs a path
            if getattr(self, f'{spec.name}_enabled') and not getattr(self, f'{spec.name}_model_path') \
                    and spec.shipped is None:
                raise ValueError(f'parameter {spec.name}_model_path is empty but {spec.name}_enabled is true, and '
                                 f'no {spec.name} model ships with fusion_ros; give a checkpoint or disable '
                                 f'{spec.name}_enabled')
        self.homography = tuple(float(v) for v in self.homography)
        for name, build in (('thermal_low/thermal_high', self.thermal_norm), ('homography', self.align)):
            try:
                build()
            except ValueError as exc:
                raise ValueError(f'parameter {name}: {exc}') from None

    # -- the core's configs

    def pairing(self) -> PairingConfig:
        tolerance = self.approximate_sync_tolerance_seconds if self.approximate_sync else EXACT_SYNC_TOLERANCE_S
        return PairingConfig(queue_size=self.queue_size, tolerance_s=tolerance)

    def thermal_norm(self):
        from fusion_ros.imaging import ThermalNormConfig
        return ThermalNormConfig(self.thermal_normalization, self.thermal_low, self.thermal_high)

    def align(self):
        from fusion_ros.engine import AlignConfig
        return AlignConfig(self.align_mode, self.homography)

    def adapt(self):
        from fusion_ros.adapt import AdaptConfig
        return AdaptConfig(train_pairs=self.adapt_train_pairs, holdout_pairs=self.adapt_holdout_pairs,
                           time_budget_s=self.adapt_time_budget_s, duty=self._duty(self.adapt_duty))

    def scene_fit(self):
        from fusion_ros.scene import SceneFitConfig
        return SceneFitConfig(epochs=self.train_epochs, time_budget_s=self.train_time_budget_s,
                              work_size=self.train_work_size, device=self.device, duty=self._duty(self.train_duty))

    def _duty(self, duty: float) -> float:
        """Training paces itself only on the CPU, where it competes with fusion for the cores."""
        name = self.device.strip().lower()
        if name == 'auto':
            import torch
            name = 'cuda' if torch.cuda.is_available() else 'cpu'
        return duty if name == 'cpu' else 1.0

    # -- heads (fusion_ros.heads): <name>_enabled, <name>_model_path and the parameters of HeadSpec.params

    def enabled_heads(self) -> list[str]:
        """Names of the heads switched on (``<name>_enabled``), in registry order."""
        return [name for name in heads.names() if getattr(self, f'{name}_enabled')]

    def head_path(self, name: str) -> str:
        """``<name>_model_path`` ('' : the head's shipped file, if it ships one)."""
        return getattr(self, f'{name}_model_path')

    def head_config(self, name: str):
        """The head's config dataclass from its parameters (:attr:`fusion_ros.heads.HeadSpec.params`)."""
        spec = heads.get(name)
        return spec.config(**{field: getattr(self, param) for field, param in spec.params.items()})

    def detector(self):
        return self.head_config('detection')


@dataclass
class PlayerConfig(ParamConfig):
    """Parameters of ``fusion_player`` (``fusion-ros play``): replay a bag's RGB and thermal topics."""
    bag: str = param('', 'rosbag2 bag to play: a directory with metadata.yaml, or a .mcap/.db3 file', read_only=True)
    rgb_topic: str = param('rgb/image', 'RGB image topic in the bag (published under the recorded name)',
                           read_only=True)
    thermal_topic: str = param('thermal/image', 'thermal image topic in the bag (published under the recorded name)',
                               read_only=True)
    rate: float = param(1.0, 'playback speed factor (1: the recorded timing)', range=(0.01, 100.0), read_only=True)
    loop: bool = param(False, 'play the bag again and again', read_only=True)
    clock: bool = param(False, 'publish /clock from the bag time (for nodes with use_sim_time)', read_only=True)
    wait_for_subscribers_s: float = param(5.0, 'before playing, wait up to this long until both topics have a '
                                          'subscriber (0: start at once)', range=(0.0, 3600.0), read_only=True)
    qos_depth: int = param(10, 'history depth of the reliable publishers', range=(1, 1000), step=1, read_only=True)

    def __post_init__(self):
        self.check_specs()
        if not self.bag:
            raise ValueError('parameter bag is empty; give the bag to play')


_YAML_SECTIONS = {
    'rgb_transport': 'inputs and synchronisation', 'align_mode': 'alignment of the thermal image onto the RGB grid',
    'fusion_model': 'fusion', 'publish_registered': 'outputs', 'segmentation_enabled': 'segmentation of the fused image',
    'detection_enabled': 'detection on the fused image', 'train_enabled': 'per-scene training (~/train_scene)',
    'record_enabled': 'recording the synchronised input pairs', 'diagnostics_period_s': 'diagnostics'}


def parameters_yaml(cls=FusionNodeConfig, node_key: str = '/**/fusion_node') -> str:
    """A ROS 2 parameters file listing every parameter of ``cls`` with its default and description
    (how ``config/fuse.yaml`` is written: ``python -c "from fusion_ros.ros.params import *;
    print(parameters_yaml(), end='')" > config/fuse.yaml``)."""
    import textwrap

    def value(v):
        if isinstance(v, bool):
            return 'true' if v else 'false'
        if isinstance(v, str):
            return f"'{v}'"
        if isinstance(v, tuple):
            return '[' + ', '.join(value(x) for x in v) + ']'
        return repr(v)
    lines = ['# fusion_node parameters (launch/fuse.launch.py, `fusion-ros run`): every parameter, with its default.',
             '# Doubles need a decimal point (60.0). [read-only] ones are fixed at start. Describe one with',
             '# `ros2 param describe /fusion_node NAME`. "/**/fusion_node" matches the node in any namespace.',
             f'{node_key}:', '  ros__parameters:']
    for name, (default, spec) in cls.specs().items():
        if name in _YAML_SECTIONS:
            lines += ['', f'    # --- {_YAML_SECTIONS[name]}']
        text = spec.description + (' [read-only]' if spec.read_only else '')
        lines += [f'    # {line}' for line in textwrap.wrap(text, 104)] + [f'    {name}: {value(default)}']
    lines += ['', '    # declared by every node: true when replaying a bag that publishes /clock',
              '    use_sim_time: false']
    return '\n'.join(lines) + '\n'


# --------------------------------------------------------------------------- ROS side


def _descriptor(name: str, default: Any, spec: ParamSpec):
    from rcl_interfaces.msg import FloatingPointRange, IntegerRange, ParameterDescriptor

    descriptor = ParameterDescriptor(name=name, description=spec.description, read_only=spec.read_only,
                                     additional_constraints=spec.constraint_text())
    if spec.range is not None:
        if isinstance(default, bool):
            pass
        elif isinstance(default, int):
            descriptor.integer_range = [IntegerRange(from_value=int(spec.range[0]), to_value=int(spec.range[1]),
                                                     step=int(spec.step))]
        elif isinstance(default, float):
            descriptor.floating_point_range = [FloatingPointRange(
                from_value=float(spec.range[0]), to_value=float(spec.range[1]), step=float(spec.step))]
    return descriptor


def _plain(value: Any) -> Any:
    """A parameter value as the dataclass holds it (arrays as tuples)."""
    if isinstance(value, (str, bytes, bool, int, float)) or value is None:
        return value
    return tuple(value)


def declare_config(node, cls=FusionNodeConfig):
    """Declare every parameter of ``cls`` on ``node`` (with descriptors) and return the config.

    Raises:
        ValueError: a value (from YAML, launch or the command line) that does not validate; the
            message names the parameter.
    """
    from rclpy.exceptions import InvalidParameterTypeException, InvalidParameterValueException

    values = {}
    for name, (default, spec) in cls.specs().items():
        default_value = list(default) if isinstance(default, tuple) else default
        try:
            declared = node.declare_parameter(name, default_value, _descriptor(name, default, spec))
        except (InvalidParameterTypeException, InvalidParameterValueException) as exc:
            raise ValueError(f'parameter {name}: {exc}') from None
        values[name] = _plain(declared.value)
    return cls(**values)


def watch_config(node, get_config: Callable[[], Any], on_change: Callable[[Any, Any], None]) -> None:
    """Validate parameter changes with the config dataclass; apply accepted ones.

    A set request is rejected (with the validation message as the reason) when the new values do
    not make a valid config; otherwise ``on_change(old_config, new_config)`` runs after the change.
    """
    from rcl_interfaces.msg import SetParametersResult

    def new_config(params):
        changes = {p.name: _plain(p.value) for p in params if p.name in get_config().__dataclass_fields__}
        return dataclasses.replace(get_config(), **changes) if changes else None

    def validate(params):
        try:
            new_config(params)
        except (ValueError, TypeError) as exc:
            return SetParametersResult(successful=False, reason=str(exc))
        return SetParametersResult(successful=True)

    def apply(params):
        new = new_config(params)
        if new is not None:
            on_change(get_config(), new)

    node.add_on_set_parameters_callback(validate)
    node.add_post_set_parameters_callback(apply)

