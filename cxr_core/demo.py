"""The demo as a function: synthetic data + the CoroNet 4-fold protocol in smoke size.

``covid-cxr demo`` and ``notebooks/01_quickstart.ipynb`` call :func:`run_demo`. The images are
SYNTHETIC drawings (:mod:`cxr_core.synthetic`), not medical data; the configuration is
``cxr_core/demo.yaml`` (CoroNet 4-fold protocol [S4] at 71x71, a few steps per fold), so accuracy
at chance level is expected: the demo shows the artefacts a real run writes, not a result.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Sequence

log = logging.getLogger(__name__)


def demo_config_path() -> Path:
    """The packaged demo experiment (``cxr_core/demo.yaml``)."""
    return Path(__file__).with_name("demo.yaml")


def run_demo(out: str | Path, per_class: int = 24, seed: int = 0, folds: Sequence[int] | None = None,
             *, epochs: int | None = None, steps_per_epoch: int | None = None) -> Path:
    """Write a synthetic dataset to ``out/synthetic-data`` and run the demo protocol into
    ``out/run``; returns the run directory (``report.md``, ``results.csv``, PNGs).

    ``per_class``: synthetic images per class (24 for ``covid-cxr demo``; 8 is enough to see every
    artefact). ``folds``: only these folds (None = all 4; the report covers the folds run).
    ``epochs`` / ``steps_per_epoch`` override the demo config's 2 epochs of 6 steps. Rerunning
    into the same ``out`` resumes: finished folds are not redone. Progress is logged at INFO
    (:func:`cxr_core.logs.configure_logging` shows it).
    """
    from cxr_core.config import load_config, replace
    from cxr_core.protocol import run_protocol
    from cxr_core.synthetic import make_synthetic_dataset

    out = Path(out)
    t0 = time.perf_counter()
    data = make_synthetic_dataset(out / "synthetic-data", per_class=per_class, seed=seed)
    log.info("SYNTHETIC dataset (drawings, not medical images) written to %s", data)
    cfg = load_config(demo_config_path())
    overrides: dict = {"data": {"source": str(data / "MANIFEST.csv")}}
    train = {k: v for k, v in (("epochs", epochs), ("steps_per_epoch", steps_per_epoch)) if v is not None}
    if train:
        overrides["train"] = train
    cfg = replace(cfg, overrides)
    run_dir = out / "run"
    run_protocol(cfg, run_dir, folds=None if folds is None else list(folds), smoke=True)
    log.info("demo finished in %.0f s: see %s, results.csv and the PNGs", time.perf_counter() - t0,
             run_dir / "report.md")
    return run_dir
