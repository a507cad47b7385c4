"""Losses: each built on a function that returns unreduced values."""
from fusion_ros.losses.edge import EdgePreservationLoss, edge_preservation, edge_preservation_map
from fusion_ros.losses.scene import SceneLoss, scene_loss
from fusion_ros.losses.ssim import SSIMLoss, ssim, ssim_map

__all__ = ['EdgePreservationLoss', 'edge_preservation', 'edge_preservation_map', 'SSIMLoss', 'ssim',
           'ssim_map', 'SceneLoss', 'scene_loss']
