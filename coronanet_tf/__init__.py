"""CORONA-Net (Abdelpakey, Shehata et al. [S0]; Elbishlawi et al., J Imaging 2021 [PG]) in Keras 3.

VGG16-BN encoder + bottleneck MLP classifier + ``Decoder224`` reconstruction decoder, ported from
the authors' PyTorch code [CR]; converter for the authors' ``covid.pth.tar`` and torchvision's
ImageNet ``vgg16_bn`` weights; the authors' LR schedule and coupled-L2 Adam (registered as the
optimizer ``adam_l2``); the two training phases (:func:`coronanet_tf.training.fit_phases`, the
family's ``fit``); presets ``authors_code`` and ``paper`` (own settings under ``extra.coronanet``).
PyTorch is optional (``pip install covid-cxr-tf[torch]``) and only imported when a ``.pth`` file
is read; :mod:`coronanet_tf.torch_reference` is never imported here.
"""

from __future__ import annotations

from cxr_core.family import ModelFamily
from coronanet_tf.convert import convert_torch_checkpoint, convert_torchvision_vgg16_bn
from coronanet_tf.model import (
    recognise_weights,
    LAST_CONV_LAYER,
    build_coronanet,
    build_vgg16_bn_backbone,
    load_backbone_weights,
    load_coronanet_weights,
)
from coronanet_tf.presets import AUTHORS_CLASS_NAMES, COVIDX_CLASS_NAMES, PRESETS
from coronanet_tf.published import TABLES as PUBLISHED_TABLES
from coronanet_tf.report import CLASS_ALIASES, PUBLISHED_ALIASES, REPORT_LAYOUTS
from coronanet_tf.schedule import AdamL2, CoronaNetSchedule
from coronanet_tf.settings import CoronaNetSettings, parse_settings, settings_from_config
from coronanet_tf.training import fit_phases
from coronanet_tf.torch_weights import ConversionReport, read_torch_state_dict
from cxr_core.training.optimizers import register_optimizer
from coronanet_tf.recipes import RECIPES


def _adam_l2(learning_rate, **options) -> AdamL2:
    """``train.optimizer.name: adam_l2``: torch ``Adam(weight_decay=l2)`` (coupled L2) [CR]."""
    return AdamL2(learning_rate=learning_rate, **options)


register_optimizer("adam_l2", _adam_l2)


FAMILY = ModelFamily(
    name="coronanet",
    build=build_coronanet,
    presets=PRESETS,
    load_weights=load_coronanet_weights,
    last_conv_layer=LAST_CONV_LAYER,
    output_kind="logits",
    convert=convert_torch_checkpoint,
    fit=fit_phases,
    fit_variants={"phase1": {"model": {"options": {"with_decoder": True}}}},  # re-init phase [CR]
    published=PUBLISHED_TABLES,
    published_aliases=PUBLISHED_ALIASES,
    report_layouts=REPORT_LAYOUTS,
    class_aliases=CLASS_ALIASES,
    class_names={"authors_code": AUTHORS_CLASS_NAMES, "paper": COVIDX_CLASS_NAMES},
    # Linear(4900) needs the 7x7 bottleneck of a 224x224 input and the decoder always reconstructs
    # 224x224 [CR]: a smoke run keeps the input and cuts the steps of both phases.
    smoke_image_size=None,
    recipes=RECIPES,  # covid-cxr data build covidx --split-file ...
    recognise_weights=recognise_weights,
    smoke_overrides={"extra": {"coronanet": {"reinit": {"epochs": 1}}}},
    extra_schema=CoronaNetSettings,  # extra.coronanet, checked when a config is loaded
    description="CORONA-Net: VGG16-BN encoder, MLP classifier, Decoder224 (two-phase re-init + classify) [CR, S0]",
)

__all__ = [
    "FAMILY",
    "PRESETS",
    "PUBLISHED_TABLES",
    "AdamL2",
    "ConversionReport",
    "CoronaNetSchedule",
    "CoronaNetSettings",
    "build_coronanet",
    "build_vgg16_bn_backbone",
    "convert_torch_checkpoint",
    "convert_torchvision_vgg16_bn",
    "fit_phases",
    "load_backbone_weights",
    "load_coronanet_weights",
    "parse_settings",
    "read_torch_state_dict",
    "settings_from_config",
]
