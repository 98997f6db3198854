"""The demo as a function: a SYNTHETIC task + the CoroNet 4-fold protocol in smoke size, in minutes on a CPU.

``covid-cxr demo`` and ``notebooks/01_quickstart.ipynb`` call :func:`run_demo`. The images are
SYNTHETIC drawings (:mod:`cxr_core.data.synthetic`), not medical data: four classes with CoroNet's class
names that differ only by a strong pattern in the lung fields (a haze, dark lungs, one white lung, a
grid of dots). The configuration is the ``demo`` experiment a model family packages
(:attr:`cxr_core.family.ModelFamily.experiments`; CoroNet's ``demo.yaml``): CoroNet's 4-fold protocol
[S4] from random weights at 71x71, 4 epochs of 25 steps per fold, with BatchNormalization momentum 0.9
so the statistics inference uses settle in those 100 steps (the YAML's own ``demo.bn_momentum``
section, :class:`DemoSettings`, read here and not part of the experiment schema; the papers keep 0.99).
CoroNet learns the task (pooled test accuracy about 1.0 over the 4 folds; the slow test
``tests/cxr_core/cli/test_demo.py`` requires at least 0.9). The accuracy says nothing about X-rays.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from pathlib import Path
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Iterator, Sequence

from cxr_core.config.schema import Fraction
from cxr_core.errors import CxrError

log = logging.getLogger(__name__)

DEMO_EXPERIMENT = "demo"
"""Name of the demo experiment in a family's :attr:`cxr_core.family.ModelFamily.experiments`."""


@dataclass(frozen=True)
class DemoSettings:
    """The demo YAML's own ``demo:`` section (taken out before the experiment is checked).

    ``bn_momentum``: momentum of every BatchNormalization layer while training (moving = m * moving +
    (1 - m) * batch), in [0, 1]; null keeps the model's own (Keras' 0.99)."""

    bn_momentum: Fraction | None = None


def demo_config_path() -> Path:
    """The demo experiment packaged by a model family (the first, by name, whose ``experiments`` has
    ``demo``). LookupError when no installed family packages one."""
    from cxr_core.family import iter_families

    for family in iter_families():
        if DEMO_EXPERIMENT in family.experiments:
            return Path(family.experiments[DEMO_EXPERIMENT])
    raise CxrError("no installed model family packages a demo experiment (ModelFamily.experiments['demo'])")


def load_demo_config(path: str | Path | None = None):
    """The demo experiment (:func:`demo_config_path` by default) and its :class:`DemoSettings`.

    Raises:
        cxr_core.config.schema.ConfigError: a bad value in the experiment or in its ``demo`` section.
    """
    import yaml

    from cxr_core.config.experiment import resolve_config
    from cxr_core.config.schema import ConfigError, build

    path = Path(path or demo_config_path())
    raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: the top level must be a mapping, found {type(raw).__name__}")
    settings = build(DemoSettings, raw.pop("demo", None), "demo", str(path))
    return resolve_config(raw, origin=str(path)), settings


def set_bn_momentum(model, momentum: float | None) -> int:
    """Set the momentum of every BatchNormalization layer of ``model`` (nested models included) to
    ``momentum`` (:attr:`DemoSettings.bn_momentum`); None changes nothing. Returns the number of layers
    set. Call before the model is compiled (the training step reads it when traced)."""
    if momentum is None:
        return 0
    import keras

    from cxr_core.training.model_reuse import all_layers

    layers = [l for l in all_layers(model) if isinstance(l, keras.layers.BatchNormalization)]
    for layer in layers:
        layer.momentum = float(momentum)
    log.debug("demo.bn_momentum: %d BatchNormalization layers now use momentum %s", len(layers), momentum)
    return len(layers)


@contextmanager
def _family_with_bn_momentum(name: str, momentum: float | None) -> Iterator[None]:
    """While inside: the model family ``name`` builds its models with ``momentum`` in every
    BatchNormalization layer (registered over the installed family); on exit the registration found before
    is restored: a family registered by hand again, else none, so the entry point's family is found."""
    from cxr_core.family import explicitly_registered, get_family, register_family, unregister_family

    if momentum is None:
        yield
        return
    family = get_family(name)
    before = explicitly_registered(name)
    build = family.model.build

    def build_with_momentum(**kwargs: Any):
        model = build(**kwargs)
        set_bn_momentum(model, momentum)
        return model

    register_family(dataclasses.replace(family, model=dataclasses.replace(family.model, build=build_with_momentum)),
                    replace=True)
    try:
        yield
    finally:
        if before is not None:
            register_family(before, replace=True)
        else:
            unregister_family(name)  # the entry point's family again


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
    from cxr_core.config.experiment import replace
    from cxr_core.protocol.run import run_protocol
    from cxr_core.data.synthetic import make_synthetic_dataset

    out = Path(out)
    t0 = time.perf_counter()
    cfg, settings = load_demo_config()
    data = make_synthetic_dataset(out / "synthetic-data", per_class=per_class, seed=seed,
                                  class_names=cfg.data.class_names)
    log.info("SYNTHETIC dataset (drawings, not medical images) written to %s", data)
    overrides: dict = {"data": {"source": str(data / "MANIFEST.csv")}}
    train = {k: v for k, v in (("epochs", epochs), ("steps_per_epoch", steps_per_epoch)) if v is not None}
    if train:
        overrides["train"] = train
    cfg = replace(cfg, overrides)
    run_dir = out / "run"
    with _family_with_bn_momentum(cfg.model.family, settings.bn_momentum):
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
