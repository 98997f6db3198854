"""CORONA-Net (Abdelpakey, Shehata et al. [S0]; Elbishlawi et al., J Imaging 2021 [PG]) in Keras 3.

VGG16-BN encoder + bottleneck MLP classifier + ``Decoder224`` reconstruction decoder, ported from
the authors' PyTorch code [CR]; converter for the authors' ``covid.pth.tar`` and torchvision's
ImageNet ``vgg16_bn`` weights; the authors' LR schedule and coupled-L2 Adam (the optimizer
``adam_l2`` the family adds, :mod:`coronanet_tf.schedule`); the two training phases
(:func:`coronanet_tf.training.fit_phases`, the family's ``training.fit``); presets ``authors_code`` and
``paper`` (own settings under ``extra.coronanet``); :data:`FAMILY` in :mod:`coronanet_tf.family`.
Each name is imported from its module on first use, so ``import coronanet_tf`` and the family record
load without TensorFlow. PyTorch is optional (``pip install covid-cxr-tf[torch]``) and only imported
when a ``.pth`` file is read; :mod:`coronanet_tf.torch_reference` is never imported here.
"""

from __future__ import annotations

from cxr_core.family import lazy_exports

#: public name -> the module that defines it (imported on first use: ``import <package>`` stays light).
_HOMES = {
    "convert_torch_checkpoint": "coronanet_tf.convert",
    "convert_torchvision_vgg16_bn": "coronanet_tf.convert",
    "build_coronanet": "coronanet_tf.model",
    "build_vgg16_bn_backbone": "coronanet_tf.model",
    "load_backbone_weights": "coronanet_tf.model",
    "load_weights": "coronanet_tf.weights",
    "recognise_weights": "coronanet_tf.weights",
    "LAST_CONV_LAYER": "coronanet_tf.layout",
    "AUTHORS_CLASS_NAMES": "coronanet_tf.presets",
    "COVIDX_CLASS_NAMES": "coronanet_tf.presets",
    "PRESETS": "coronanet_tf.presets",
    "TABLES": "coronanet_tf.published",
    "CLASS_ALIASES": "coronanet_tf.report",
    "PUBLISHED_ALIASES": "coronanet_tf.report",
    "REPORT_LAYOUTS": "coronanet_tf.report",
    "REPORT_FIGURES": "coronanet_tf.report",
    "AdamL2": "coronanet_tf.schedule",
    "adam_l2": "coronanet_tf.schedule",
    "CoronaNetSchedule": "coronanet_tf.schedule",
    "CoronaNetSettings": "coronanet_tf.settings",
    "parse_settings": "coronanet_tf.settings",
    "settings_from_config": "coronanet_tf.settings",
    "fit_phases": "coronanet_tf.training",
    "ConversionReport": "coronanet_tf.torch_weights",
    "read_torch_state_dict": "coronanet_tf.torch_weights",
    "RECIPES": "coronanet_tf.recipes",
    "FAMILY": "coronanet_tf.family",
}

__all__ = sorted(_HOMES)

__getattr__ = lazy_exports(__name__, _HOMES)  # each name imported from its module on first use
