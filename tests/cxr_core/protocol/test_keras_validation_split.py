"""Keras 2 ``validation_split`` [CN] against keras-preprocessing's own ``flow_from_directory``."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from keras_preprocessing.image import ImageDataGenerator

from cxr_core.data.tables.readers import read_class_folders
from cxr_core.protocol.splits import HOLDOUT_STYLES, SplitError, holdout_assignments, keras_validation_split

# Awkward per-class counts: int(0.2 * n) truncates (n = 4, 9, 14 -> 0, 1, 2), one class has a
# sub-folder whose name sorts between its files, names mix case and digits.
COUNTS = {"a_covid": 4, "b_normal": 9, "c_pneu": 14, "d_viral": 23}


def _build_folder(root: Path, cxr4_mini: Path) -> Path:
    manifest = pd.read_csv(cxr4_mini / "MANIFEST.csv")
    sources = [cxr4_mini / p for p in manifest["path"]]
    k = 0
    for cls, n in COUNTS.items():
        (root / cls).mkdir(parents=True)
        for i in range(n):
            src = sources[k % len(sources)]
            k += 1
            name = f"{'Img' if i % 3 == 0 else 'img'}_{(i * 7) % 11}_{i}{src.suffix.lower()}"
            sub = root / cls / ("m_sub" if cls == "c_pneu" and i % 4 == 0 else "")
            sub.mkdir(exist_ok=True)
            shutil.copyfile(src, sub / name)
    return root


@pytest.mark.parametrize("fraction", [0.2, 0.35])
def test_keras_validation_split_equals_flow_from_directory(tmp_path, cxr4_mini, fraction):
    root = _build_folder(tmp_path / "train", cxr4_mini)
    gen = ImageDataGenerator(validation_split=fraction)
    kwargs = dict(target_size=(8, 8), batch_size=4, shuffle=False)
    ref_val = gen.flow_from_directory(str(root), subset="validation", **kwargs).filenames
    ref_train = gen.flow_from_directory(str(root), subset="training", **kwargs).filenames

    table = read_class_folders(root)
    held = keras_validation_split(table, fraction)
    rel = [os.path.relpath(p, root) for p in table.frame["path"].astype(str)]
    ours_val = sorted(r for r, h in zip(rel, held) if h)
    ours_train = sorted(r for r, h in zip(rel, held) if not h)
    assert ours_val == sorted(ref_val)
    assert ours_train == sorted(ref_train)
    # truncation, not rounding: int(fraction * n) per class
    per_class = pd.Series(held).groupby(table.labels).sum().tolist()
    assert per_class == [int(fraction * n) for n in COUNTS.values()]
    # the same through holdout_assignments; no seed dependence
    for seed in (0, 1):
        np.testing.assert_array_equal(
            holdout_assignments(table, fraction, seed, style="keras_validation_split"), held)


def test_keras_validation_split_errors():
    assert "keras_validation_split" in HOLDOUT_STYLES
    from cxr_core.data.tables.sample_table import SampleTable

    frame = pd.DataFrame({"sample_id": ["a/1.png"], "path": ["/x/a/1.png"], "label": ["a"], "label_index": [0],
                          "patient_id": pd.array([pd.NA], dtype="string"), "source": pd.array([pd.NA], dtype="string")})
    table = SampleTable(frame, ("a",))
    with pytest.raises(SplitError, match="strictly between 0 and 1"):
        keras_validation_split(table, 1.0)
    with pytest.raises(ValueError, match="holdout style must be one of"):
        holdout_assignments(table, 0.2, 0, style="keras")
