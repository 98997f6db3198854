"""A test-only model family: a small Keras CNN that stands in for the published models in orchestration tests.

``tinycnn`` has about five thousand parameters, so a whole k-fold run (training, prediction files,
metrics, report) takes seconds on a CPU, and it actually *learns*: on :func:`write_separable_dataset`
(three classes that differ in a clear visual feature) it reaches about 100% accuracy in a few epochs.
The big models of the paper packages output about 1/C for every class after a smoke run, so only a
model like this lets a test notice a label, split or prediction-order mix-up.

Register it with the ``tiny_family`` fixture of ``tests/conftest.py``, or any family with
:func:`registered` (the one registration helper of the tests); the presets are named like the papers' (``paper``, ``authors_code``) so the
family looks to the core like any other.
"""

from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import numpy as np

from cxr_core.family import ModelFamily, ModelPart, Preset

NAME = "tinycnn"
IMAGE_SIDE = 32

#: Three classes, each with its own unmistakable feature (a bright field, a checkerboard, a dark field).
CLASSES = ("bright", "checkered", "dark")


def build_tiny(num_classes: int, input_shape=(IMAGE_SIDE, IMAGE_SIDE, 3), backbone_weights=None, width: int = 16):
    """``[N, H, W, 3]`` float32 -> ``[N, num_classes]`` softmax: two strided 3x3 convolutions, global
    average pooling, one dense layer (5,187 parameters at ``width`` 16 and 3 classes). ``backbone_weights``
    is accepted for the family interface and ignored (there is no pretrained backbone)."""
    import keras

    inp = keras.Input(shape=tuple(input_shape), name="image")
    x = keras.layers.Conv2D(width, 3, strides=2, padding="same", activation="relu", name="conv1")(inp)
    x = keras.layers.Conv2D(2 * width, 3, strides=2, padding="same", activation="relu", name="conv2")(x)
    x = keras.layers.GlobalAveragePooling2D(name="pool")(x)
    out = keras.layers.Dense(num_classes, activation="softmax", name="predictions", dtype="float32")(x)
    return keras.Model(inp, out, name=NAME)


def _values(**protocol) -> dict:
    return {
        "data": {"class_names": list(CLASSES), "on_bad_file": "raise"},
        "preprocess": {"image_size": [IMAGE_SIDE, IMAGE_SIDE], "resize_method": "nearest", "scaling": "rescale01"},
        "augment": {"enabled": False},
        "model": {"backbone_weights": None, "options": {"width": 16}},
        "train": {
            # Steps are cheap and epochs are not (each starts a new tf.data iterator, saves a checkpoint):
            # 5 epochs of 16 steps over the repeated training data (about 3 passes of 24 images each).
            "optimizer": {"name": "adam", "learning_rate": 0.01},
            "batch_size": 4,
            "epochs": 5,
            "steps_per_epoch": 16,
            "checkpoint": "last",
            "verbose": 0,
        },
        "protocol": {"kind": "kfold", "n_folds": 3, "group_by_patient": False, "validation": "none",
                     "split_style": "stratified", **protocol},
        "evaluation": {"n_bootstrap": 20, "batch_size": 64},
    }


PRESETS = {
    "paper": Preset("paper", _values(), description="test-only: 3-fold stratified CV of a tiny CNN"),
    "authors_code": Preset(
        "authors_code", _values(n_folds=2),
        notes={"protocol.n_folds": "test-only: 2 folds, standing in for an authors'-code deviation [TEST]"},
        description="test-only: the same with 2 folds",
    ),
}

FAMILY = ModelFamily(
    name=NAME,
    model=ModelPart(build=build_tiny, last_conv_layer="conv2", smoke_image_size=IMAGE_SIDE),
    presets=PRESETS,
    description="test-only tiny CNN (tests/tiny_family.py); not a published model",
)


@contextmanager
def registered(family: ModelFamily = FAMILY) -> Iterator[ModelFamily]:
    """Register ``family`` (default: ``tinycnn``) for the ``with`` block, then put back whatever was
    registered under its name before (nested fixtures of one family do not unregister each other)."""
    from cxr_core.family import get_family, register_family, unregister_family

    try:
        previous = get_family(family.name)
    except KeyError:
        previous = None
    register_family(family, replace=True)
    try:
        yield family
    finally:
        if previous is None:
            unregister_family(family.name)
        else:
            register_family(previous, replace=True)


def class_image(label: str, rng: np.random.Generator, side: int = 40) -> np.ndarray:
    """One ``[side, side, 3]`` uint8 image of ``label``: ``bright`` (grey level ~190), ``dark`` (~50) or
    ``checkered`` (4-pixel squares of 30 and 220, mean ~125), with noise and a random brightness shift."""
    if label == "bright":
        img = np.full((side, side), 190.0)
    elif label == "dark":
        img = np.full((side, side), 50.0)
    elif label == "checkered":
        cells = (np.arange(side) // 4) % 2
        img = np.where(cells[:, None] ^ cells[None, :], 30.0, 220.0)
    else:
        raise ValueError(f"unknown class {label!r}; classes: {list(CLASSES)}")
    img = img + rng.normal(0.0, 12.0, img.shape) + rng.uniform(-20, 20)
    return np.repeat(np.clip(img, 0, 255).astype(np.uint8)[..., None], 3, axis=2)


def write_separable_dataset(root: str | Path, per_class: int = 12, seed: int = 0, *, prefix: str = "img") -> dict[str, str]:
    """Write ``root/<class>/<prefix>_<class>_<i>.png`` for each class of :data:`CLASSES`; returns the
    ground truth ``{relative path: class}`` (as the folder reader names samples, ``class/file``)."""
    import cv2

    rng = np.random.default_rng(seed)
    root = Path(root)
    truth = {}
    for label in CLASSES:
        (root / label).mkdir(parents=True, exist_ok=True)
        for i in range(per_class):
            rel = f"{label}/{prefix}_{label}_{i:02d}.png"
            if not cv2.imwrite(str(root / rel), class_image(label, rng)):
                raise RuntimeError(f"could not write {root / rel}")
            truth[rel] = label
    return truth
