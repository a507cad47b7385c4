"""Fusion metrics; each returns unreduced values, one per image ``(B,)``.

Gray metrics take the sources ``a`` (thermal/NIR) and ``b`` (visible luma) and the fused luma ``f``, each
``(B, 1, H, W)`` float in [0, 1] (EN, SD, SF, AG take ``f`` only); :func:`delta_e` takes two RGB images.
``METRICS`` wraps them all as ``fn(thermal, rgb, fused_rgb) -> (B,)``, scoring the images as the published
tables do (8-bit, OpenCV gray: :func:`cddfuse_inputs`); ``HIGHER_IS_BETTER`` gives the direction and
``UNITS`` the unit of each.
"""
from fusion_ros.metrics.color import ciede2000, delta_e, rgb_to_lab
from fusion_ros.metrics.convention import CddfuseInputs, cddfuse_inputs, opencv_gray, to_8bit
from fusion_ros.metrics.information import mutual_information, mutual_information_pair
from fusion_ros.metrics.paper000 import canny_preservation, correlation, correlation_score, ssim_score
from fusion_ros.metrics.qabf import qabf
from fusion_ros.metrics.registry import HIGHER_IS_BETTER, METRICS, UNITS, get_metric
from fusion_ros.metrics.statistics import average_gradient, entropy, spatial_frequency, standard_deviation
from fusion_ros.metrics.structural import ms_ssim, ms_ssim_sum, scd, ssim_sum, ssim_uniform, ssim_uniform_sum
from fusion_ros.metrics.vif import vif, vifp

__all__ = ['canny_preservation', 'correlation', 'correlation_score', 'ssim_score',
           'entropy', 'standard_deviation', 'spatial_frequency', 'average_gradient',
           'mutual_information', 'mutual_information_pair', 'vif', 'vifp', 'qabf',
           'ssim_sum', 'ssim_uniform', 'ssim_uniform_sum', 'ms_ssim', 'ms_ssim_sum', 'scd', 'rgb_to_lab',
           'ciede2000', 'delta_e', 'CddfuseInputs', 'cddfuse_inputs', 'opencv_gray', 'to_8bit',
           'METRICS', 'HIGHER_IS_BETTER', 'UNITS', 'get_metric']
