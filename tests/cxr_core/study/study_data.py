"""Test data and worker hooks of the study and probe tests.

:func:`write_shortcut_dataset` writes three classes of the same noise; with ``planted`` each class gets
its own mark along the top border (the tiny family's class looks, tests/tiny_family.py, on the top 10
rows), so the border is all that tells the classes apart: a shortcut by construction.
"""

from __future__ import annotations

import os
import signal
from pathlib import Path

import numpy as np

from tests.tiny_family import CLASSES, class_image

SIDE = 40
MARK = 10


def shortcut_image(label: str, rng: np.random.Generator, planted: bool) -> np.ndarray:
    """``[40, 40, 3]`` uint8 grey noise (mean 120, sd 20, smoothed by 2x2 blocks); with ``planted`` the
    top 10 rows (a band along the top border, outside the central half) are ``label``'s class look."""
    img = rng.normal(120, 20, (SIDE // 2, SIDE // 2)).repeat(2, 0).repeat(2, 1)
    img = np.repeat(np.clip(img, 0, 255).astype(np.uint8)[..., None], 3, axis=2)
    if planted:
        img[:MARK] = class_image(label, rng, side=SIDE)[:MARK]
    return img


def write_shortcut_dataset(root: str | Path, per_class: int = 20, seed: int = 0, *, planted: bool = True,
                           sources: bool = False) -> Path:
    """``root/<class>/<class>_<i>.png`` for each class of the tiny family; with ``sources`` also
    ``root/manifest.csv`` (path, label, source) where each class comes from its own source
    (``site_<class>``). Returns ``root`` (or the manifest)."""
    import cv2

    rng = np.random.default_rng(seed)
    root = Path(root)
    rows = []
    for label in CLASSES:
        (root / label).mkdir(parents=True, exist_ok=True)
        for i in range(per_class):
            rel = f"{label}/{label}_{i:02d}.png"
            if not cv2.imwrite(str(root / rel), shortcut_image(label, rng, planted)):
                raise RuntimeError(f"could not write {root / rel}")
            rows.append((rel, label, f"site_{label}"))
    if not sources:
        return root
    import pandas as pd

    manifest = root / "manifest.csv"
    pd.DataFrame(rows, columns=["path", "label", "source"]).to_csv(manifest, index=False)
    return manifest


#: A made-up published fold table of the tiny family (``tinycnn/table_test``, [TEST]): two folds and their
#: mean, so a study of the tiny family gets verdicts. Not a published figure.
def family_with_table():
    """The tiny family with the published table ``tinycnn/table_test`` (layout ``folds``, percent)."""
    import dataclasses

    from cxr_core.evaluation.metrics import TABLE_COLUMNS
    from cxr_core.report.published import PublishedTable
    from tests.tiny_family import FAMILY

    table = PublishedTable(key="tinycnn/table_test", title="test-only fold table", source="[TEST] made up",
                           layout="folds", units="percent", index=("fold 1", "fold 2", "mean"),
                           columns=TABLE_COLUMNS, rows=((50.0,) * 5, (60.0,) * 5, (55.0,) * 5))
    return dataclasses.replace(FAMILY, published=dataclasses.replace(FAMILY.published, tables=(table,)))


def register_tiny() -> None:
    """Worker hook (``setup="tests.cxr_core.study.study_data:register_tiny"``): the tiny family with
    its test-only published table."""
    from cxr_core.family import register_family

    register_family(family_with_table(), replace=True)


def register_tiny_and_die_once() -> None:
    """Worker hook of the kill test: the tiny family, and the worker that writes the
    ``state.json`` of the run directory named by ``COVID_CXR_TEST_KILL_RUN`` (its ``fold_0``) is
    killed with SIGKILL right after, once (epoch ``COVID_CXR_TEST_KILL_EPOCH``, default 1) (a marker file ``COVID_CXR_TEST_KILL_MARK`` remembers it)."""
    register_tiny()
    target, mark = os.environ.get("COVID_CXR_TEST_KILL_RUN"), os.environ.get("COVID_CXR_TEST_KILL_MARK")
    if not target or not mark:
        return
    import json

    import cxr_core.training.callbacks as callbacks

    original = callbacks.atomic_write_text

    def write_then_die(path, text, *args, **kwargs):
        result = original(path, text, *args, **kwargs)
        path = Path(path)
        if (path.name == "state.json" and Path(target).resolve() / "fold_0" in path.resolve().parents
                and json.loads(text).get("epochs_done") == int(os.environ.get("COVID_CXR_TEST_KILL_EPOCH", "1")) and not Path(mark).exists()):
            Path(mark).write_text(str(os.getpid()))
            os.kill(os.getpid(), signal.SIGKILL)
        return result

    callbacks.atomic_write_text = write_then_die
