"""A small SYNTHETIC chest-radiograph-like dataset, made on the fly for the demo and for tests.

These are drawings, not medical images: a body outline, two lung fields, ribs, a spine and a heart
shadow. The four classes (:data:`PATTERNS`) differ only by a strong, drawn pattern in the lung
fields (:data:`CLASS_FEATURES`), chosen so that a small network trained from random weights
separates them in a few hundred steps and the patterns survive Keras-2-style augmentation
(rotation, shifts, shear, zoom, flips, channel shift):

- ``haze``: both lung fields under a smooth, uniform grey haze (brightness);
- ``clear``: both lung fields dark and clear;
- ``white_lung``: one lung field (left or right) entirely white with sharp edges (shape);
- ``dots``: both lung fields covered by a regular grid of bright dots (texture).

The caller may name the classes (``class_names``, in the order of :data:`PATTERNS`): the demo gives
its preset's class names (the demo experiment, ``coronet_tf/demo.yaml``).

Accuracy on them says nothing about X-rays or about any model's clinical performance. Each
synthetic patient has two images (slightly shifted and differently exposed), so patient-grouped
splits are exercised. The folder gets a README saying all this and a MANIFEST.csv
(path, label, patient_id, source) next to the class folders. Nothing is downloaded.
"""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pandas as pd

from cxr_core.atomic_files import atomic_path, atomic_write_text

#: The ``source`` of every synthetic sample: reports see from it that a run's numbers are not comparable
#: to published ones.
SYNTHETIC_SOURCE = "synthetic"

PATTERNS = ("haze", "clear", "white_lung", "dots")
#: The default class names: the patterns themselves.
CLASSES = PATTERNS
#: What distinguishes each class (the only class-dependent part of the drawing).
CLASS_FEATURES = {
    "haze": "both lung fields under a smooth grey haze",
    "clear": "both lung fields dark and clear",
    "white_lung": "one lung field entirely white, sharp-edged",
    "dots": "both lung fields covered by a grid of bright dots",
}
#: Bumped whenever the drawings change, so a dataset of an older generator is not reused.
GENERATOR_VERSION = 2

README = """# SYNTHETIC chest-radiograph-like images (not medical data)

Made by `covid-cxr demo` / `cxr_core.data.synthetic.make_synthetic_dataset` on the fly, with seed {seed}.
Drawings of a thorax; the classes differ only by a drawn pattern in the lung fields:

{features}

The images are not X-rays, whatever the class names say: accuracy on them says nothing about X-rays
or about any model's clinical performance. {n} images ({per_class} per class), two per synthetic patient.
"""


def describe_classes(class_names=PATTERNS) -> str:
    """One Markdown bullet per class: ``- haze: both lung fields under ...`` (``class_names`` in the
    order of :data:`PATTERNS`)."""
    return "\n".join(f"- {name}: {CLASS_FEATURES[pattern]}" for name, pattern in zip(class_names, PATTERNS))


def _lungs(canvas: np.ndarray, rng: np.random.Generator, shift: tuple[int, int]) -> list[tuple[int, int, int, int]]:
    h, w = canvas.shape
    dx, dy = shift
    cv2.ellipse(canvas, (w // 2 + dx, h // 2 + dy + h // 10), (int(w * 0.44), int(h * 0.5)), 0, 0, 360, 150, -1)
    lungs = []
    for side in (-1, 1):
        cx = w // 2 + side * int(w * 0.2) + dx
        cy = h // 2 + dy
        ax, ay = int(w * 0.14 + rng.integers(-2, 3)), int(h * 0.3 + rng.integers(-2, 3))
        cv2.ellipse(canvas, (cx, cy), (ax, ay), 0, 0, 360, 55, -1)
        lungs.append((cx, cy, ax, ay))
    cv2.rectangle(canvas, (w // 2 - w // 30 + dx, 0), (w // 2 + w // 30 + dx, h), 200, -1)
    cv2.ellipse(canvas, (w // 2 + w // 16 + dx, h // 2 + h // 8 + dy), (w // 9, h // 8), 20, 0, 360, 170, -1)
    for k in range(7):
        y = int(h * 0.25) + k * h // 14 + dy
        for side in (-1, 1):
            cv2.ellipse(canvas, (w // 2 + dx, y), (int(w * 0.36), h // 16), 0, 200 if side < 0 else -20, 340 if side < 0 else 160, 120, 1)
    return lungs


def _lung_mask(shape: tuple[int, int], lungs, which=(0, 1)) -> np.ndarray:
    mask = np.zeros(shape, np.float32)
    for i in which:
        cx, cy, ax, ay = lungs[i]
        cv2.ellipse(mask, (cx, cy), (ax, ay), 0, 0, 360, 1.0, -1)
    return mask


def _pattern(canvas: np.ndarray, label: str, lungs, rng: np.random.Generator) -> None:
    """Add the class's pattern (:data:`CLASS_FEATURES`) to the lung fields of ``canvas`` in place."""
    h, w = canvas.shape
    overlay = np.zeros_like(canvas, dtype=np.float32)
    if label == "white_lung":  # one lung white, sharp edges
        side = int(rng.integers(0, 2))
        overlay += 175.0 * _lung_mask(canvas.shape, lungs, (side,))
    elif label == "dots":  # both lungs: a coarse grid of bright dots
        period = max(6, w // 16)
        dots = np.zeros_like(overlay)
        ox, oy = (int(v) for v in rng.integers(0, period, 2))
        for y in range(oy, h, period):
            for x in range(ox, w, period):
                cv2.circle(dots, (x, y), max(2, period // 3), 170.0, -1)
        overlay += dots * _lung_mask(canvas.shape, lungs)
    elif label == "haze":  # both lungs: a smooth grey haze
        haze = cv2.GaussianBlur(_lung_mask(canvas.shape, lungs), (0, 0), sigmaX=max(1.0, w / 60))
        overlay += float(rng.uniform(95, 120)) * haze
    np.add(canvas, overlay, out=canvas, casting="unsafe")


def synthetic_image(label: str, size: int, rng: np.random.Generator, shift=(0, 0), exposure: float = 1.0) -> np.ndarray:
    """One grey uint8 image ``[size, size]`` of the given pattern (one of :data:`PATTERNS`)."""
    if label not in PATTERNS:
        raise ValueError(f"unknown synthetic pattern {label!r}; patterns: {list(PATTERNS)}")
    canvas = np.full((size, size), 15, np.float32)
    lungs = _lungs(canvas, rng, shift)
    _pattern(canvas, label, lungs, rng)
    canvas = cv2.GaussianBlur(canvas, (0, 0), sigmaX=size / 200 + 0.5)
    canvas = canvas * exposure + rng.normal(0, 6, canvas.shape)
    return np.clip(canvas, 0, 255).astype(np.uint8)


def make_synthetic_dataset(out_dir: str | Path, *, per_class: int = 24, size: int = 160, seed: int = 0,
                           class_names=None) -> Path:
    """Write a class-per-folder synthetic dataset (PNG and JPEG) with MANIFEST.csv and README.md.

    ``class_names``: four names given to :data:`PATTERNS` in order (default: the pattern names).
    Returns ``out_dir``. An existing complete dataset with the same settings is reused.

    Raises:
        ValueError: ``class_names`` does not hold four distinct names.
        FileExistsError: ``out_dir`` holds a synthetic dataset made with other settings.
    """
    names = tuple(str(c) for c in (class_names or PATTERNS))
    if len(names) != len(PATTERNS) or len(set(names)) != len(names):
        raise ValueError(f"class_names: expected {len(PATTERNS)} distinct names (for {list(PATTERNS)}), found {list(names)}")
    out = Path(out_dir)
    manifest = out / "MANIFEST.csv"
    settings = out / "settings.json"
    wanted = json.dumps({"per_class": per_class, "size": size, "seed": seed, "generator": GENERATOR_VERSION,
                         "class_names": list(names)}, sort_keys=True)
    if manifest.is_file() and settings.is_file() and settings.read_text() == wanted:
        return out
    if manifest.is_file():
        raise FileExistsError(
            f"{out} holds a synthetic dataset made with other settings ({settings.read_text() if settings.is_file() else 'unknown'}); "
            "choose another --out"
        )
    rng = np.random.default_rng(seed)
    rows = []
    for pattern, label in zip(PATTERNS, names):
        (out / label).mkdir(parents=True, exist_ok=True)
        for i in range(per_class):
            patient = f"synthetic-{label}-{i // 2:03d}"
            if i % 2 == 0:
                shift = tuple(int(v) for v in rng.integers(-size // 20, size // 20 + 1, 2))
            img = synthetic_image(pattern, size, rng, shift=(shift[0] + i % 2, shift[1]), exposure=float(rng.uniform(0.85, 1.15)))
            ext = ".png" if i % 3 else ".jpg"
            rel = f"{label}/{label}_{i:03d}{ext}"
            ok, buf = cv2.imencode(ext, img)
            if not ok:
                raise RuntimeError(f"could not encode {rel}")
            with atomic_path(out / rel) as tmp:
                tmp.write_bytes(buf.tobytes())
            rows.append({"path": rel, "label": label, "patient_id": patient, "source": SYNTHETIC_SOURCE})
    atomic_write_text(out / "README.md", README.format(seed=seed, features=describe_classes(names), n=len(rows), per_class=per_class))
    with atomic_path(manifest) as tmp:
        pd.DataFrame(rows).to_csv(tmp, index=False)
    atomic_write_text(settings, wanted)
    return out
