"""Fusion metrics; each returns unreduced values, one per image ``(B,)``."""
from fusion_ros.metrics.paper000 import canny_preservation, correlation, correlation_score, ssim_score

__all__ = ['canny_preservation', 'correlation', 'correlation_score', 'ssim_score']
