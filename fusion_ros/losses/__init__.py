"""Losses: each built on a function that returns unreduced values."""
from fusion_ros.losses.csc import CSCLoss, csc_loss, cross_entropy, dice_loss, hybrid_loss, pseudo_labels
from fusion_ros.losses.edge import EdgePreservationLoss, edge_preservation, edge_preservation_map
from fusion_ros.losses.fusion import (FusionLoss, FusionLossConfig, fusion_loss, gradient_abs, rgb_to_ycbcr,
                                     ycbcr_to_rgb)
from fusion_ros.losses.scene import SceneLoss, scene_loss
from fusion_ros.losses.ssim import SSIMLoss, ssim, ssim_map

__all__ = ['EdgePreservationLoss', 'edge_preservation', 'edge_preservation_map', 'SSIMLoss', 'ssim',
           'ssim_map', 'SceneLoss', 'scene_loss', 'CSCLoss', 'csc_loss', 'cross_entropy', 'dice_loss',
           'hybrid_loss', 'pseudo_labels', 'FusionLoss', 'FusionLossConfig', 'fusion_loss', 'gradient_abs',
           'rgb_to_ycbcr', 'ycbcr_to_rgb']
