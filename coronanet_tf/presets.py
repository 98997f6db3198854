"""CORONA-Net presets: what the authors' released code did, and what the paper describes.

The journal text (Elbishlawi et al., J Imaging 2021 7(5):81) could NOT be retrieved [PG]; the
``paper`` preset therefore takes the published two-phase idea [S0, PG] and the COVIDx conventions
(docs/PAPERS.md §4) and otherwise the authors' code [CR], with every inferred choice marked in ``notes``.

Besides the common config sections (cxr_core.config.experiment) the presets carry CORONA-Net's own settings
under ``extra.coronanet`` (phases, phase-1 settings, LR schedule, test list, expected parameter
counts), read and checked by :mod:`coronanet_tf.settings`. The common sections hold what they can:
``train.optimizer`` is ``adam_l2`` (:class:`coronanet_tf.schedule.AdamL2`, coupled L2 1e-4, torch
epsilon 1e-8) with the unscaled ``--lr`` 1e-4, ``train.loss`` is
``categorical_crossentropy_from_logits`` (phase 2; phase 1 is MSE), ``model.options.with_decoder``
says whether phase 2 keeps the decoder (``true``, computed but ignored as in [CR]) or drops it
(``false``, the paper [S0, PG]).
"""

from __future__ import annotations

import copy
from types import MappingProxyType
from typing import Any, Mapping

from cxr_core.errors import CxrLookupError
from cxr_core.family import Preset

AUTHORS_CLASS_NAMES = ("COVID-19", "normal", "pneumonia")  # sorted pathologies [CR-A]
COVIDX_CLASS_NAMES = ("normal", "pneumonia", "COVID-19")  # COVID-Net map [CNet@61a5963]


class FrozenMapping(Mapping):
    """A read-only mapping whose deep copy is a plain, mutable ``dict`` (lists for tuples).

    ``cxr_core.config.experiment`` deep-copies preset values before merging an experiment on top of them;
    ``types.MappingProxyType`` cannot be deep-copied.
    """

    __slots__ = ("_data",)

    def __init__(self, data: Mapping):
        self._data = dict(data)

    def __getitem__(self, key):
        return self._data[key]

    def __iter__(self):
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)

    def __repr__(self) -> str:
        return f"FrozenMapping({self._data!r})"

    def __deepcopy__(self, memo):
        return _thaw(self)


def _freeze(value: Any) -> Any:
    if isinstance(value, Mapping):
        return FrozenMapping({k: _freeze(v) for k, v in value.items()})
    if isinstance(value, list):
        return tuple(_freeze(v) for v in value)
    return value


def _thaw(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {k: _thaw(v) for k, v in value.items()}
    if isinstance(value, tuple):
        return [_thaw(v) for v in value]
    return value


_AUTHORS_CODE: dict[str, Any] = {
    "data": {
        "source": None,
        "format": "covidx",
        "class_names": list(AUTHORS_CLASS_NAMES),
        "image_dir": None,
        "drop_duplicates": "keep",
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
        "options": {"with_decoder": True, "head_init": "torch_default"},
    },
    "train": {
        "optimizer": {"name": "adam_l2", "learning_rate": 1.0e-4, "options": {"l2": 1.0e-4, "epsilon": 1.0e-8}},
        "loss": "categorical_crossentropy_from_logits",
        "batch_size": 12,
        "epochs": 990,
        "steps_per_epoch": None,
        "validation_steps": None,
        "class_weight": None,
        "early_stopping": None,
        "reduce_lr": None,
        "checkpoint": "best",
        "checkpoint_monitor": "val_accuracy",
        "mixed_precision": "mixed_float16_on_gpu",
        "jit_compile": False,
        "strategy": "default",
        "seed": 0,
        "bn_moving_variance": "unbiased",
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
    "published": {
        "table": "coronanet/table5_ppv",
        "source": "[VIP] project page TABLE 5 (PPV) and confusion matrix; [PG] J Imaging abstract: accuracy 95.84%",
    },
    "extra": {
        "coronanet": {
            "phases": ["reinit", "classify"],
            "reinit": {"epochs": None, "target": "normalised_input", "train_classifier": True, "checkpoint": "last"},
            "lr_schedule": {
                "world_size": 1,
                "warmup_epochs": 5,
                "step_epochs": 30,
                "extra_drop_epoch": 80,
                "gamma": 0.1,
                "reference_batch": 256,
            },
            "test_split": "test_split_v2",
            # [total, trainable, non_trainable]: trainable counts docs/PAPERS.md §3.1 (INFERRED from [CR]),
            # non-trainable = BatchNorm moving statistics (VGG16-BN 8,448; decoder 352 more).
            "expected_params": {
                "classification": [15_030_147, 15_021_699, 8_448],
                "with_decoder": [15_058_859, 15_050_059, 8_800],
            },
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
    values["model"]["options"]["with_decoder"] = False
    values["train"]["mixed_precision"] = None
    values["extra"]["coronanet"]["test_split"] = "test_split_v2_dedup"
    return values


_NOTES = {
    "data.class_names": "authors_code: pathologies sorted -> COVID-19/normal/pneumonia [CR-A]; paper: COVIDx order normal/pneumonia/COVID-19 [CNet@61a5963] (docs/PAPERS.md §3.3)",
    "data.drop_duplicates": "authors_code: keep, the loader reads every row: test_split_v2 repeats each image x4..x16 (RSNA box rows) and each repeat is evaluated (7,812 rows) [CR-A], [CR-S]; paper: duplicates dropped, 1,489 unique test images fit 95.84% (INFERRED, docs/PAPERS.md §3.5)",
    "augment.enabled": "authors_code: the flip/rotation transform is attached only to overwritten CIFAR-10 datasets -> none on COVIDx (INFERRED) [CR]; paper: the defined RandomHorizontalFlip(0.5)+RandomRotation(45) pipeline [CR] (paper text NOT RETRIEVED)",
    "augment.rotation_range": "paper option: RandomRotation(45) [CR]; Keras rotation interpolates bilinearly, torchvision's default is nearest (deviation)",
    "augment.horizontal_flip": "paper option: RandomHorizontalFlip(0.5) [CR]",
    "protocol.validation": "authors_code: best top-1 on the TEST loader each epoch -> model_best (test-set selection) [CR]; paper/leak-free: inner validation split",
    "model.options.head_init": "both presets: PyTorch's default init of the layers vgg_ae adds (nscnn, classifier, Decoder224 upsample*), which [CR] never re-initialises: kaiming_uniform(a=sqrt(5)) weights and U(+-1/sqrt(fan_in)) biases; 'glorot' = Keras' default (option)",
    "train.mixed_precision": "authors_code: apex amp opt_level O2 [CR] (fp16 model, fp32 master weights and BatchNorm, dynamic loss scaling) -> mixed_float16 with dynamic loss scaling (initial 2**16 as apex) when a GPU is visible, float32 on a CPU; the run's report says which ran; paper: float32 (text NOT RETRIEVED)",
    "model.options.with_decoder": "authors_code: decoder still computed in phase 2, output ignored [CR]; paper: decoder removed for classification [S0, PG]",
    "train.bn_moving_variance": "unbiased: PyTorch BatchNorm2d updates running_var with the unbiased batch variance "
    "(Keras 3: biased); both presets run the authors' PyTorch training [CR]",
    "extra.coronanet.test_split": "authors_code: test_split_v2.csv as read by assest.py (7,812 rows) [CR-A, CR-S]; paper: 95.84% = 1427/1489 fits the deduplicated list (INFERRED, docs/PAPERS.md §3.5)",
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

    if name not in PRESETS:
        raise CxrLookupError(f"coronanet has no preset {name!r}; available: {sorted(PRESETS)}")
    return _thaw(PRESETS[name].values)
