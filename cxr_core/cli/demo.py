"""The demo as a function: a SYNTHETIC task + the CoroNet 4-fold protocol in smoke size, in minutes on a CPU.

``covid-cxr demo`` and ``notebooks/01_quickstart.ipynb`` call :func:`run_demo`. The images are
SYNTHETIC drawings (:mod:`cxr_core.data.synthetic`), not medical data: four classes with CoroNet's class
names that differ only by a strong pattern in the lung fields (a haze, dark lungs, one white lung, a
grid of dots). The configuration is ``cxr_core/cli/demo.yaml``: CoroNet's 4-fold protocol [S4] from
random weights at 71x71, 4 epochs of 25 steps per fold, with BatchNormalization momentum 0.9 so the
statistics inference uses settle in those 100 steps (``train.bn_momentum``; the papers keep 0.99).
CoroNet learns the task (pooled test accuracy about 1.0 over the 4 folds; the slow test
``tests/cxr_core/cli/test_demo.py`` requires at least 0.9). The accuracy says nothing about X-rays.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Sequence

log = logging.getLogger(__name__)


def demo_config_path() -> Path:
    """The packaged demo experiment (``cxr_core/cli/demo.yaml``)."""
    return Path(__file__).with_name("demo.yaml")


def run_demo(out: str | Path, per_class: int = 24, seed: int = 0, folds: Sequence[int] | None = None,
             *, epochs: int | None = None, steps_per_epoch: int | None = None) -> Path:
    """Write a synthetic dataset to ``out/synthetic-data`` and run the demo protocol into
    ``out/run``; returns the run directory (``report.md``, ``results.csv``, PNGs).

    ``per_class``: synthetic images per class (24 for ``covid-cxr demo``; 8 is enough to see every
    artefact, not to learn the task). ``folds``: only these folds (None = all 4; the report covers
    the folds run). ``epochs`` / ``steps_per_epoch`` override the demo config's 4 epochs of 25
    steps. Rerunning into the same ``out`` resumes: finished folds are not redone. Progress and the
    pooled accuracy (:func:`pooled_accuracy`) are logged at INFO
    (:func:`cxr_core.logs.configure_logging` shows them).
    """
    from cxr_core.config.experiment import load_config, replace
    from cxr_core.protocol.run import run_protocol
    from cxr_core.data.synthetic import make_synthetic_dataset

    out = Path(out)
    t0 = time.perf_counter()
    cfg = load_config(demo_config_path())
    data = make_synthetic_dataset(out / "synthetic-data", per_class=per_class, seed=seed,
                                  class_names=cfg.data.class_names)
    log.info("SYNTHETIC dataset (drawings, not medical images) written to %s", data)
    overrides: dict = {"data": {"source": str(data / "MANIFEST.csv")}}
    train = {k: v for k, v in (("epochs", epochs), ("steps_per_epoch", steps_per_epoch)) if v is not None}
    if train:
        overrides["train"] = train
    cfg = replace(cfg, overrides)
    run_dir = out / "run"
    run_protocol(cfg, run_dir, folds=None if folds is None else list(folds), smoke=True)
    correct, total = pooled_accuracy(run_dir)
    log.info("demo finished in %.0f s: pooled test accuracy %.3f (%d of %d synthetic images, all folds run); "
             "see %s, results.csv and the PNGs", time.perf_counter() - t0, correct / max(total, 1), correct,
             total, run_dir / "report.md")
    return run_dir


def pooled_accuracy(run_dir: str | Path) -> tuple[int, int]:
    """``(correct, total)`` test predictions over every finished fold's ``fold_k/predictions.csv``
    (columns ``label`` and ``predicted``)."""
    import pandas as pd

    correct = total = 0
    for path in sorted(Path(run_dir).glob("fold_*/predictions.csv")):
        frame = pd.read_csv(path)
        correct += int((frame["label"] == frame["predicted"]).sum())
        total += len(frame)
    return correct, total
