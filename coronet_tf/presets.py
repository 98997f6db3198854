"""CoroNet presets: what the paper says (``paper``) and what the authors' code did (``authors_code``).

Values follow the experiment-config sections of ``cxr_core.config`` (data, preprocess, augment, model,
train, protocol, published). Every field that differs between the two presets has a note with its
source tag from ``spec/PAPERS.md`` §1 ([S4] paper, [CN] notebook at HEAD, [CN-old] notebook with
outputs). A few fields that are equal carry a note too, where the choice needed a decision (scaling,
patient grouping, class order).

Classes: the authors' folder order ``covid, normal, pneumonia_bac, pneumonia_vir`` (alphabetical
directories read by ``flow_from_directory`` [CN]). Other datasets name the folders differently
(cxr4-mini and Kermany: ``pneumonia_bacterial`` / ``pneumonia_viral``); :func:`label_map_for` gives
the ``data.label_map`` that maps either naming onto the classes of a 4-, 3- or 2-class task.

3-class and binary tasks [S4 Table V]: :func:`preset_for` derives them from a 4-class preset.
- 3 classes: COVID-19, normal, pneumonia (bacterial + viral pooled) [S4].
- 2 classes: the paper's binary task is ambiguous ("COVID-19, Normal and Pneumonia", PAPERS.md §1.7
  item 5). We choose COVID-19 versus normal (pneumonia images dropped), the most common binary task of
  the works compared in Table VII [S4]; COVID-19 versus rest is ``label_map_for(2, binary="covid_vs_rest")``.
- The paper fine-tunes the 4-class model for the other tasks ("did not retrain end-to-end" [S4]);
  the code trains a fresh model [CN-old]. ``preset_for(..., init_from=PATH)`` sets
  ``model.init_from`` and the fine-tuning learning rate 5e-5 and 20 epochs of the notebook's optional
  cell [CN]; without it, training starts from ImageNet as in the code.
"""

from __future__ import annotations

import copy
from typing import Any, Mapping

from cxr_core.registry import Preset

#: Class names per task, index order. 4 classes: the authors' folders [CN]; 3 classes [S4].
CLASS_NAMES: dict[int, tuple[str, ...]] = {
    4: ("covid", "normal", "pneumonia_bac", "pneumonia_vir"),
    3: ("covid", "normal", "pneumonia"),
    2: ("covid", "normal"),
}
#: Folder names of other copies of the same classes (cxr4-mini, Kermany-derived sets) -> ours.
FOLDER_ALIASES: dict[str, str] = {
    "pneumonia_bacterial": "pneumonia_bac",
    "pneumonia_viral": "pneumonia_vir",
}
#: Random under-sampling counts of Table I [S4] (the paper's 1,251 images).
TABLE_I_COUNTS: dict[str, int] = {"covid": 284, "normal": 310, "pneumonia_bac": 330, "pneumonia_vir": 327}
#: Parameter counts (total, trainable, non-trainable) by (input side, classes); Table II [S4] for
#: 150/4, the others INFERRED arithmetic (PAPERS.md §1.1) and checked by the tests.
PUBLISHED_PARAMS: dict[tuple[int, int], tuple[int, int, int]] = {
    (150, 4): (33_969_964, 33_915_436, 54_528),
    (224, 4): (46_552_876, 46_498_348, 54_528),
    (150, 3): (33_969_707, 33_915_179, 54_528),
    (150, 2): (33_969_450, 33_914_922, 54_528),
}
#: Fine-tuning learning rate of the notebook's optional cell [CN].
FINETUNE_LEARNING_RATE = 5e-5
FINETUNE_EPOCHS = 20

# The authors' ImageDataGenerator [CN]; featurewise centring/std and ZCA were set but never fit,
# so they were no-ops (warnings in [CN-old]) and are left out.
_AUGMENT = {
    "enabled": True,
    "rotation_range": 50.0,
    "width_shift_range": 0.2,
    "height_shift_range": 0.2,
    "shear_range": 0.25,
    "zoom_range": 0.1,
    "channel_shift_range": 20.0,
    "horizontal_flip": True,
    "vertical_flip": True,
    "fill_mode": "constant",
    "cval": 0.0,
}

_TRAIN = {
    "optimizer": {"name": "adam", "learning_rate": 1e-4, "options": {}},
    "loss": "categorical_crossentropy",
    "batch_size": 10,
    "epochs": 80,
    "class_weight": None,
    "early_stopping": None,
    "reduce_lr": None,
    "checkpoint": "last",
    "seed": 7,
}


def _values(
    *, image_size: int, resize_method: str, undersample: Any, on_validation: bool, protocol: dict, published: dict
) -> dict:
    return {
        "data": {
            "class_names": list(CLASS_NAMES[4]),
            "label_map": label_map_for(4),
            "undersample": undersample,
        },
        "preprocess": {"image_size": [image_size, image_size], "resize_method": resize_method, "scaling": "rescale01"},
        "augment": dict(_AUGMENT, on_validation=on_validation),
        "model": {
            "family": "coronet", "num_classes": 4, "backbone_weights": "imagenet", "init_from": None, "options": {},
        },
        "train": copy.deepcopy(_TRAIN),
        "protocol": protocol,
        "published": published,
        "extra": {"expected_params": list(PUBLISHED_PARAMS[(image_size, 4)])},
    }


def class_names_for(num_classes: int) -> tuple[str, ...]:
    """Class names in index order for CoroNet's 4-, 3- or 2-class task (see the module docstring)."""
    try:
        return CLASS_NAMES[int(num_classes)]
    except KeyError:
        raise ValueError(f"CoroNet has 4-, 3- and 2-class tasks [S4]; got num_classes={num_classes}") from None


def label_map_for(num_classes: int, *, binary: str = "covid_vs_normal") -> dict[str, str | None]:
    """``data.label_map`` from 4-class folder labels (ours or :data:`FOLDER_ALIASES`) to a task's classes.

    ``None`` drops a label's images. ``binary``: ``"covid_vs_normal"`` (our reading of the paper,
    default) or ``"covid_vs_rest"`` (classes ``covid``, ``non_covid``).
    """
    class_names_for(num_classes)
    four = {alias: target for alias, target in FOLDER_ALIASES.items()}
    if num_classes == 4:
        return four
    pneumonia = [name for name in (*CLASS_NAMES[4], *FOLDER_ALIASES) if name.startswith("pneumonia")]
    if num_classes == 3:
        return {name: "pneumonia" for name in pneumonia}
    if binary == "covid_vs_normal":
        return {name: None for name in pneumonia}
    if binary == "covid_vs_rest":
        return {"normal": "non_covid", **{name: "non_covid" for name in pneumonia}}
    raise ValueError(f"binary must be 'covid_vs_normal' or 'covid_vs_rest'; got {binary!r}")


def preset_for(
    base: str | Preset,
    num_classes: int,
    *,
    init_from: str | None = None,
    binary: str = "covid_vs_normal",
) -> Preset:
    """A 3- or 2-class variant of the ``paper`` or ``authors_code`` preset [S4 Table V].

    Sets classes, label map, ``model.num_classes`` and the published row (``coronet/table5``). With
    ``init_from`` (a CoroNet 4-class weights file) the model starts from those weights except the new
    softmax layer and trains with Adam 5e-5 for 20 epochs ([S4] fine-tunes the 4-class model; rate and
    epochs from the notebook's optional cell [CN]). Under-sampling counts are dropped (Table I is 4-class).
    """
    preset = PRESETS[base] if isinstance(base, str) else base
    if int(num_classes) == 4 and init_from is None:
        return preset
    names = class_names_for(num_classes)
    if num_classes == 2 and binary == "covid_vs_rest":
        names = ("covid", "non_covid")
    values = copy.deepcopy(dict(preset.values))
    values["data"] = dict(values["data"], class_names=list(names), label_map=label_map_for(num_classes, binary=binary))
    if num_classes != 4:
        values["data"]["undersample"] = None
    side = int(values["preprocess"]["image_size"][0])
    values["model"] = dict(values["model"], num_classes=int(num_classes), init_from=init_from)
    if (side, int(num_classes)) in PUBLISHED_PARAMS:
        values["extra"] = {"expected_params": list(PUBLISHED_PARAMS[(side, int(num_classes))])}
    else:
        values.pop("extra", None)
    row = {4: "4-class", 3: "3-class", 2: "binary"}[int(num_classes)]
    values["published"] = {"table": "coronet/table5", "source": f"[S4] Table V, row {row}"}
    notes = dict(preset.notes)
    notes["published"] = f"coronet/table5, row {row} [S4 Table V]"
    notes["data.class_names"] = (
        "3 classes COVID-19/normal/pneumonia [S4]" if num_classes == 3 else
        f"binary {binary.replace('_', ' ')}: the paper's binary classes are ambiguous (PAPERS.md §1.7 item 5)"
        if num_classes == 2 else "4 classes, the authors' folders [CN]"
    )
    if init_from is not None:
        values["train"] = dict(
            values["train"],
            optimizer=dict(values["train"]["optimizer"], learning_rate=FINETUNE_LEARNING_RATE),
            epochs=FINETUNE_EPOCHS,
        )
        notes["model.init_from"] = "fine-tune the 4-class model, 'did not retrain end-to-end' [S4]"
        notes["train.optimizer.learning_rate"] = "5e-5: the notebook's optional fine-tuning cell [CN]"
        notes["train.epochs"] = "20: the notebook's optional fine-tuning cell (interrupted in [CN-old])"
    else:
        notes["model.init_from"] = "null: fresh ImageNet-initialised model with a new head, as the code does [CN-old]"
    return Preset(
        name=f"{preset.name}_{num_classes}class" + ("_finetune" if init_from else ""),
        values=values,
        notes=notes,
        description=f"{preset.description} Variant: {num_classes} classes {names}.",
    )


def resolved_values(preset: Preset) -> Mapping[str, Any]:
    """A deep copy of a preset's values (safe to modify)."""
    return copy.deepcopy(dict(preset.values))


PAPER = Preset(
    name="paper",
    description="CoroNet as the paper describes it [S4]: 224x224 input, 4-fold CV on the 1,251 images of Table I.",
    values=_values(
        image_size=224,
        resize_method="bilinear",
        undersample=dict(TABLE_I_COUNTS),
        on_validation=False,
        protocol={
            "kind": "kfold",
            "n_folds": 4,
            "holdout_fraction": 0.2,
            "split_style": "stratified",
            "group_by_patient": False,
            "validation": "test_fold",
            "seed": 42,
        },
        published={"table": "coronet/table3", "source": "[S4] Table III", "classwise_table": "coronet/table4"},
    ),
    notes={
        "preprocess.image_size": "224x224: the text says images were resized to 224x224 [S4]; Table II's 5x5x2048 "
        "features and 33,969,964 parameters imply 150x150 (224 gives 46,552,876) [S4], PAPERS.md §1.1",
        "preprocess.resize_method": "bilinear (antialiased): the paper resizes to 224x224 @72 dpi with an unstated "
        "method [S4]; INFERRED an image-editor style resize rather than Keras' nearest",
        "preprocess.scaling": "rescale01 (x/255): the paper is silent [S4]; we keep the authors' code [CN], the only "
        "evidence of how the published model saw pixels (not Xception's [-1,1])",
        "augment.on_validation": "false: the validation fold is the evaluation fold of the 4-fold CV [S4], so it is "
        "not augmented (the paper describes no augmentation at all; training augmentation follows [CN])",
        "data.undersample": "Table I counts 284/310/330/327 (covid/normal/bacterial/viral): random under-sampling of "
        "the majority classes to 1,251 images [S4]",
        "protocol.kind": "kfold, 4 folds: 'randomly divided into 4 equal sets', 3 train / 1 validation, results "
        "averaged [S4]",
        "protocol.group_by_patient": "false: the paper splits images at random and names no patient grouping [S4]; "
        "set true for a patient-disjoint estimate",
        "published": "coronet/table3 (per fold) with coronet/table4 (class-wise) [S4 Tables III, IV]",
        "extra.expected_params": "46,552,876 at 224x224 (INFERRED arithmetic, PAPERS.md §1.1), not Table II's "
        "33,969,964 [S4]",
    },
)

AUTHORS_CODE = Preset(
    name="authors_code",
    description="CoroNet as the authors' notebook trains it [CN], [CN-old]: 150x150, x/255, Keras nearest "
    "resize, one augmenting generator for training and validation, 80/20 holdout.",
    values=_values(
        image_size=150,
        resize_method="nearest",
        undersample=None,
        on_validation=True,
        protocol={
            "kind": "holdout",
            "n_folds": 4,
            "holdout_fraction": 0.2,
            "split_style": "stratified",
            "group_by_patient": False,
            "validation": "test_fold",
            "seed": 42,
        },
        published={"table": "coronet/notebook_report", "source": "[CN-old] classification report (242 test images)"},
    ),
    notes={
        "preprocess.image_size": "150x150: IMAGE_SIZE=(150,150) in the notebook and Table II's 5x5x2048 features "
        "[CN], [S4]",
        "preprocess.resize_method": "nearest: flow_from_directory's default interpolation [CN]",
        "preprocess.scaling": "rescale01: ImageDataGenerator(rescale=1./255); featurewise/ZCA options never fit, "
        "no-ops [CN], [CN-old]",
        "augment.on_validation": "true: one ImageDataGenerator with validation_split=0.2 serves both subsets, so "
        "the validation images are augmented too [CN]",
        "data.undersample": "null: the code trains on every image of its train folder (1,119 + 277 found), no "
        "under-sampling [CN-old]",
        "protocol.kind": "holdout 80/20: validation_split=0.2 of one train folder, plus a separate test folder "
        "(242 images) [CN], [CN-old]; use kind fixed_split with data.test_source and validation inner_split 0.2 "
        "for that test folder. Deviation: Keras takes the first 20% of each class's sorted files, we draw a "
        "seeded stratified 20%",
        "protocol.group_by_patient": "false: Keras' validation_split ignores patients [CN]",
        "published": "coronet/notebook_report: the notebook's saved test report; the code has no k-fold, so "
        "Table III is not what it produced [CN-old]",
        "extra.expected_params": "33,969,964 total, 33,915,436 trainable, 54,528 non-trainable [S4 Table II], [CN]",
    },
)

PRESETS: dict[str, Preset] = {"paper": PAPER, "authors_code": AUTHORS_CODE}
