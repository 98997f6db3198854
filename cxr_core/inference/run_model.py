"""The trained model of a run directory: its resolved config and the selected weights of one fold.

``covid-cxr evaluate/predict/explain/export --run RUN_DIR [--fold K]`` and
:func:`cxr_core.load_classifier` read a finished run without the user rebuilding its config: the
config is the run's own resolved one (``config.yaml``'s ``config`` section: input size, resize
method, scaling, model options, exactly as trained, e.g. the reduced input of a smoke run), the
class names are the run's (its output order), and the weights are the fold's *selected* weights,
the ones its ``predictions.csv`` was computed with (``fold_k/selected_weights.txt``):
``checkpoints/best.weights.h5`` with ``train.checkpoint: best``, ``checkpoints/last.weights.h5`` with
``last``, and for a family with its own ``fit`` the file that fit returned (a two-phase fit: its
``phase2/model.weights.h5``). README.md ("Evaluate, predict, explain, export") names each family's.

Fold choice: ``fold`` picks one; without it a run with one fold (``holdout``, ``fixed_split``,
``covid-cxr train``) gives that fold's model, and a k-fold run gives, where the caller allows it
(``ensemble=True``: ``predict``, ``evaluate``, :func:`cxr_core.load_classifier`), the **fold
ensemble**: every finished fold's selected model, their class probabilities averaged (the mean of
the folds' softmax outputs, each fold weighing the same; :func:`fold_ensemble`), said in every
output; elsewhere (``explain``, ``export``) an error listing the finished folds. ``RUN_DIR/fold_k``
names a fold directly.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

import yaml

from cxr_core.runs.directory import RunDirectoryError


@dataclass(frozen=True)
class RunModel:
    """One fold's trained model of a run: where it is and what it needs."""

    run_dir: Path
    fold: int | None
    """The fold; None for the fold ensemble (``ensemble_weights`` then lists each fold's file)."""
    weights: Path
    config: Any
    """The run's resolved :class:`~cxr_core.config.experiment.ExperimentConfig` (plus any overrides)."""
    class_names: tuple[str, ...]
    smoke: bool = False
    ensemble_weights: tuple[tuple[int, Path], ...] = ()
    """``((fold, selected weights), ...)`` of the fold ensemble; empty for one fold."""
    synthetic: bool = False
    """Every training sample was a SYNTHETIC drawing (``samples.csv`` source), as in ``covid-cxr demo``."""

    @property
    def description(self) -> str:
        """``fold 2 of run RUN (checkpoints/best.weights.h5)``, or ``the ensemble of folds 0, 1, 2, 3 of run
        RUN (mean of their probabilities)``."""
        if self.fold is None:
            folds = ", ".join(str(k) for k, _ in self.ensemble_weights)
            return f"the ensemble of folds {folds} of run {self.run_dir} (mean of their probabilities)"
        return f"fold {self.fold} of run {self.run_dir} ({self.weights.relative_to(self.run_dir / f'fold_{self.fold}').as_posix()})"


def split_run_path(path: str | Path, fold: int | None = None) -> tuple[Path, int | None]:
    """``(run directory, fold)`` from ``RUN_DIR`` or ``RUN_DIR/fold_k`` (and ``fold``).

    Raises:
        RunDirectoryError: no run directory there, or a fold folder with a different ``fold``.
    """
    path = Path(path)
    if path.name.startswith("fold_") and (path.parent / "config.yaml").is_file():
        try:
            named = int(path.name.split("_", 1)[1])
        except ValueError:
            raise RunDirectoryError(f"--run {path}: not a run directory nor a run's fold_k folder") from None
        if fold is not None and fold != named:
            raise RunDirectoryError(f"--run {path} names fold {named} but --fold is {fold}")
        return path.parent, named
    if not (path / "config.yaml").is_file():
        raise RunDirectoryError(f"--run {path}: not a run directory (no config.yaml); give the folder a "
                                "`covid-cxr cv` or `train` run wrote, or one of its fold_k folders")
    return path, fold


def read_run_record(run_dir: str | Path) -> dict:
    """The run's ``config.yaml`` as written by :func:`cxr_core.runs.directory.write_run_config`."""
    path = Path(run_dir) / "config.yaml"
    record = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    if not isinstance(record, dict) or not isinstance(record.get("config"), dict):
        raise RunDirectoryError(f"{path}: not a run's config.yaml (no 'config' section); pass an experiment "
                                "YAML with --config instead")
    return record


def run_config(run_dir: str | Path, overrides: Mapping | None = None):
    """The run's resolved :class:`~cxr_core.config.experiment.ExperimentConfig` with ``overrides`` (``--set``) on top.

    Raises:
        cxr_core.config.schema.ConfigError: an override that does not fit, naming ``--set``.
    """
    from cxr_core.config.experiment import resolve_config

    from cxr_core.config.retired import without_retired_keys

    raw = without_retired_keys(dict(read_run_record(run_dir)["config"]))
    preset = raw.pop("preset", None)  # already merged into the resolved values
    cfg = resolve_config(raw, origin=f"{Path(run_dir) / 'config.yaml'}", overrides=overrides)
    return dataclasses.replace(cfg, preset=preset)


def finished_folds(run_dir: str | Path) -> dict[int, Path]:
    """``{fold: selected weights}`` of the run's finished folds (those with predictions.csv)."""
    from cxr_core.runs.inputs import selected_weights

    found = {}
    for pred in sorted(Path(run_dir).glob("fold_*/predictions.csv")):
        try:
            k = int(pred.parent.name.split("_", 1)[1])
            found[k] = selected_weights(pred.parent)
        except (ValueError, FileNotFoundError):
            continue
    return dict(sorted(found.items()))


def _n_folds(cfg) -> int:
    return int(cfg.protocol.n_folds) if cfg.protocol.kind == "kfold" else 1


def run_model(run: str | Path, fold: int | None = None, overrides: Mapping | None = None, *,
              ensemble: bool = False) -> RunModel:
    """The selected model of ``fold`` of the run at ``run`` (see the module docstring); with ``ensemble``
    and no ``fold``, a k-fold run gives its fold ensemble (``fold`` None, ``ensemble_weights`` set).

    Raises:
        RunDirectoryError: no run directory; a k-fold run and no ``fold`` (without ``ensemble``, or with
            no finished fold); a fold that does not exist or has not finished (each message lists the
            finished folds).
    """
    run_dir, fold = split_run_path(run, fold)
    record = read_run_record(run_dir)
    cfg = run_config(run_dir, overrides)
    folds = finished_folds(run_dir)
    listing = ", ".join(map(str, folds)) or "none yet"
    n = _n_folds(cfg)
    names = tuple(record.get("class_names") or cfg.data.class_names or ())
    if fold is None and n != 1 and ensemble and folds:
        return RunModel(run_dir, None, next(iter(folds.values())), cfg, names, bool(record.get("smoke")),
                        ensemble_weights=tuple(folds.items()), synthetic=trained_on_synthetic(run_dir))
    if fold is None:
        if n != 1:
            raise RunDirectoryError(
                f"--run {run_dir}: a {n}-fold run has one model per fold and no single final model; choose one "
                f"with --fold K (finished folds: {listing})")
        fold = 0
    if not 0 <= fold < n:
        raise RunDirectoryError(f"--fold {fold}: run {run_dir} has folds 0..{n - 1} (finished: {listing})")
    if fold not in folds:
        raise RunDirectoryError(f"--fold {fold}: fold {fold} of run {run_dir} has not finished (no predictions.csv "
                                f"or no selected weights); finished folds: {listing}")
    return RunModel(run_dir, fold, folds[fold], cfg, names, bool(record.get("smoke")),
                    synthetic=trained_on_synthetic(run_dir))


def trained_on_synthetic(run_dir: Path) -> bool:
    """Every sample of the run (``samples.csv``) is a SYNTHETIC drawing (:data:`cxr_core.data.synthetic.SYNTHETIC_SOURCE`)."""
    import pandas as pd

    from cxr_core.data.synthetic import SYNTHETIC_SOURCE

    samples = Path(run_dir) / "samples.csv"
    if not samples.is_file():
        return False
    sources = pd.read_csv(samples, dtype=str, keep_default_na=False).get("source")
    return sources is not None and len(sources) > 0 and bool((sources == SYNTHETIC_SOURCE).all())


def fold_ensemble(models: list, folds: list[int] | None = None, name: str = "fold_ensemble"):
    """One Keras model whose output is the mean of ``models``' outputs (each ``[N, C]`` float32
    probabilities, the same input): the fold ensemble of a k-fold run.

    Raises:
        RunDirectoryError: a model with more than one output (an ensemble of those is not defined here).
    """
    import keras

    if len(models) == 1:
        return models[0]
    if any(len(m.outputs) != 1 for m in models):
        raise RunDirectoryError("the fold ensemble needs models with one output; choose a fold with --fold K")
    for k, model in zip(folds or range(len(models)), models):
        model.name = f"fold_{k}"  # one name per member (Keras requires unique operation names)
    inputs = keras.Input(shape=tuple(models[0].inputs[0].shape[1:]), name="image")
    outputs = [m(inputs) for m in models]
    return keras.Model(inputs, keras.layers.Average(name="mean_of_folds")(outputs), name=name)
