"""CORONA-Net presets: what the authors' released code did, and what the paper describes.

The journal text (Elbishlawi et al., J Imaging 2021 7(5):81) could NOT be retrieved [PG]; the
``paper`` preset therefore takes the published two-phase idea [S0, PG] and the COVIDx conventions
(§4) and otherwise the authors' code [CR], with every inferred choice marked in ``notes``.

Besides the common config sections (INTERFACES.md) the presets carry a ``coronanet`` section:

``coronanet.phases``
    ``["reinit", "classify"]``: phase 1 (re-initialisation) then phase 2 (classification) [S0, PG].
``coronanet.reinit``
    phase 1: ``loss`` (``mse``), ``target`` (``normalised_input``: the MSE compares the tanh
    reconstruction with the ImageNet-normalised input, as ``criterion(outputs, input)`` in [CR]),
    ``epochs`` (``null`` = not stated anywhere; falls back to ``train.epochs``),
    ``train_classifier`` (``true``: the gradient reaches the MLP through the logits in [CR]).
``coronanet.classify``
    phase 2: ``loss`` (``categorical_crossentropy``), ``from_logits`` (``true``: the model outputs
    logits, torch ``CrossEntropyLoss`` [CR]), ``decoder`` (``removed``: model rebuilt with
    ``with_decoder=False`` [S0]; ``kept_ignored``: decoder computed, its output unused, as in [CR]),
    ``init_from`` (``reinit``: phase-1 weights, ``covid.pth.tar`` in [CR]).
``coronanet.optimizer``
    ``adam_l2`` (:class:`coronanet_tf.schedule.AdamL2`), ``l2`` 1e-4 coupled, ``epsilon`` 1e-8 [CR].
``coronanet.lr_schedule``
    arguments of :class:`coronanet_tf.schedule.CoronaNetSchedule` besides ``batch_size`` (from
    ``train.batch_size``) and ``steps_per_epoch`` (from the data): ``base_lr``, ``world_size``,
    ``warmup_epochs``, ``step_epochs``, ``extra_drop_epoch``, ``gamma``, ``reference_batch``.
``coronanet.test_split``
    which COVIDx test list: ``test_split_v2`` (raw 7,812 rows, as the code reads),
    ``test_split_v2_dedup`` (1,489 images), ``test_COVIDx`` (210) (PAPERS.md §3.7.1).
``coronanet.expected_params``
    trainable counts the builder must give (PAPERS.md §3.1): ``classification`` 15,021,699,
    ``with_decoder`` 15,050,059; non-trainable 8,448 / 8,800.
"""

from __future__ import annotations

import copy
from types import MappingProxyType
from typing import Any, Mapping

from cxr_core.registry import Preset

AUTHORS_CLASS_NAMES = ("COVID-19", "normal", "pneumonia")  # sorted pathologies [CR-A]
COVIDX_CLASS_NAMES = ("normal", "pneumonia", "COVID-19")  # COVID-Net map [CNet@61a5963]


def _freeze(value: Any) -> Any:
    if isinstance(value, Mapping):
        return MappingProxyType({k: _freeze(v) for k, v in value.items()})
    if isinstance(value, list):
        return tuple(_freeze(v) for v in value)
    return value


_AUTHORS_CODE: dict[str, Any] = {
    "data": {
        "source": None,
        "format": "covidx",
        "class_names": list(AUTHORS_CLASS_NAMES),
        "image_dir": None,
        "drop_duplicates": False,
        "on_bad_file": "raise",
        "label_map": None,
        "undersample": None,
    },
    "preprocess": {
        "image_size": [224, 224],
        "resize_method": "shorter_side_center_crop",
        "scaling": "imagenet",
        "cache": False,
    },
    "augment": {
        "enabled": False,
        "on_validation": False,
        "rotation_range": 0.0,
        "width_shift_range": 0.0,
        "height_shift_range": 0.0,
        "shear_range": 0.0,
        "zoom_range": 0.0,
        "channel_shift_range": 0.0,
        "horizontal_flip": False,
        "vertical_flip": False,
        "fill_mode": "constant",
        "cval": 0.0,
    },
    "model": {
        "family": "coronanet",
        "num_classes": 3,
        "backbone_weights": "imagenet",
        "options": {"with_decoder": True},
    },
    "train": {
        "optimizer": {"name": "adam", "learning_rate": 1.0e-4, "options": {"epsilon": 1.0e-8}},
        "loss": "categorical_crossentropy",
        "batch_size": 12,
        "epochs": 990,
        "steps_per_epoch": None,
        "validation_steps": None,
        "class_weight": None,
        "early_stopping": None,
        "reduce_lr": None,
        "checkpoint": "best",
        "checkpoint_monitor": "val_accuracy",
        "mixed_precision": None,
        "jit_compile": False,
        "strategy": "default",
        "seed": 0,
    },
    "protocol": {
        "kind": "fixed_split",
        "n_folds": 1,
        "split_style": "stratified",
        "group_by_patient": True,
        "validation": "test_fold",
        "inner_val_fraction": 0.1,
        "holdout_fraction": 0.2,
        "seed": 0,
    },
    "published": {"table": "coronanet/abstract", "source": "[PG] J Imaging abstract: accuracy 95.84% on COVIDx"},
    "coronanet": {
        "phases": ["reinit", "classify"],
        "reinit": {"loss": "mse", "target": "normalised_input", "epochs": None, "train_classifier": True},
        "classify": {
            "loss": "categorical_crossentropy",
            "from_logits": True,
            "decoder": "kept_ignored",
            "init_from": "reinit",
        },
        "optimizer": {"name": "adam_l2", "l2": 1.0e-4, "epsilon": 1.0e-8},
        "lr_schedule": {
            "base_lr": 1.0e-4,
            "world_size": 1,
            "warmup_epochs": 5,
            "step_epochs": 30,
            "extra_drop_epoch": 80,
            "gamma": 0.1,
            "reference_batch": 256,
        },
        "test_split": "test_split_v2",
        "expected_params": {
            "classification": 15_021_699,
            "with_decoder": 15_050_059,
            "non_trainable_classification": 8_448,
            "non_trainable_with_decoder": 8_800,
        },
    },
}


def _paper_values() -> dict[str, Any]:
    values = copy.deepcopy(_AUTHORS_CODE)
    values["data"]["class_names"] = list(COVIDX_CLASS_NAMES)
    values["data"]["drop_duplicates"] = True
    values["augment"].update(
        {"enabled": True, "rotation_range": 45.0, "horizontal_flip": True, "fill_mode": "constant", "cval": 0.0}
    )
    values["protocol"]["validation"] = "inner_split"
    values["coronanet"]["classify"]["decoder"] = "removed"
    values["coronanet"]["test_split"] = "test_split_v2_dedup"
    return values


_NOTES = {
    "data.class_names": "authors_code: pathologies sorted -> COVID-19/normal/pneumonia [CR-A]; paper: COVIDx order normal/pneumonia/COVID-19 [CNet@61a5963] (PAPERS.md §3.3)",
    "data.drop_duplicates": "authors_code: test_split_v2 read as is, each image x4..x16 (RSNA box rows) [CR-S]; paper: duplicates dropped, 1,489 unique test images fit 95.84% (INFERRED, §3.5)",
    "augment.enabled": "authors_code: the flip/rotation transform is attached only to overwritten CIFAR-10 datasets -> none on COVIDx (INFERRED) [CR]; paper: the defined RandomHorizontalFlip(0.5)+RandomRotation(45) pipeline [CR] (paper text NOT RETRIEVED)",
    "augment.rotation_range": "paper option: RandomRotation(45) [CR]; Keras rotation interpolates bilinearly, torchvision's default is nearest (deviation)",
    "augment.horizontal_flip": "paper option: RandomHorizontalFlip(0.5) [CR]",
    "protocol.validation": "authors_code: best top-1 on the TEST loader each epoch -> model_best (test-set selection) [CR]; paper/leak-free: inner validation split",
    "coronanet.classify.decoder": "authors_code: decoder still computed in phase 2, output ignored [CR]; paper: decoder removed for classification [S0, PG]",
    "coronanet.test_split": "authors_code: test_split_v2.csv as read by assest.py (7,812 rows) [CR-A, CR-S]; paper: 95.84% = 1427/1489 fits the deduplicated list (INFERRED, §3.5)",
}


PRESETS: Mapping[str, Preset] = MappingProxyType(
    {
        "authors_code": Preset(
            name="authors_code",
            values=_freeze(_AUTHORS_CODE),
            notes=MappingProxyType(dict(_NOTES)),
            description="What Abdelpakey/CORONA-Net@cc95ea0 CORONANET.py/assest.py effectively do [CR, CR-A].",
        ),
        "paper": Preset(
            name="paper",
            values=_freeze(_paper_values()),
            notes=MappingProxyType(dict(_NOTES)),
            description="Two-phase CORONA-Net as published [S0, PG] (journal text NOT RETRIEVED; code used elsewhere).",
        ),
    }
)


def preset_values(name: str) -> dict[str, Any]:
    """A mutable deep copy of a preset's values (lists instead of tuples)."""

    def thaw(value):
        if isinstance(value, Mapping):
            return {k: thaw(v) for k, v in value.items()}
        if isinstance(value, tuple):
            return [thaw(v) for v in value]
        return value

    if name not in PRESETS:
        raise KeyError(f"coronanet has no preset {name!r}; available: {sorted(PRESETS)}")
    return thaw(PRESETS[name].values)
