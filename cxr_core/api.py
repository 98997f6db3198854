"""The Python API: load a trained classifier, predict images, run an experiment.

In the shape of the ecosystem's model APIs (keras-hub ``from_preset``, timm ``create_model`` with its
data config, torchxrayvision ``models.X(weights=...)``)::

    import cxr_core

    clf = cxr_core.load_classifier("runs/NAME/20250101-120000", fold=0)   # a finished run's fold
    clf = cxr_core.load_classifier("FAMILY/authors_code", weights="released.h5")  # family/preset
    clf = cxr_core.load_classifier("model.keras")                  # a `covid-cxr export` archive
    clf.class_names            # the class names in output order
    x = clf.preprocess(["a.png", "b.jpg"])   # float32 [2, H, W, 3]: the preset's decode, resize, scaling
    clf.predict(["a.png", "b.jpg"])          # DataFrame: path, one column per class, predicted

    run = cxr_core.run_experiment("experiments/FAMILY/EXPERIMENT.yaml", data="DATA_DIR", run_dir="runs/x")
    run.results                # results.csv as a DataFrame; run.report is report.md
    run.classifier(fold=0)     # that fold's trained model

Nothing here imports TensorFlow until a function is called; ``import cxr_core`` stays light.
The same code paths serve the command line: :meth:`Classifier.predict` gives what ``covid-cxr predict``
prints for the same weights, and ``load_classifier(run_dir, fold=k)`` is ``--run RUN_DIR --fold K``.
"""

from __future__ import annotations

import logging
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping, Sequence

from cxr_core.errors import CxrError

log = logging.getLogger(__name__)

PathLike = str | os.PathLike



def _quiet_tensorflow_once() -> None:
    """Keep TensorFlow's C++ start-up lines out of a Python session as the CLI does
    (:func:`cxr_core.tf_console.quiet_tensorflow`), unless TensorFlow is already imported or the user set
    ``TF_CPP_MIN_LOG_LEVEL`` themselves."""
    if "tensorflow" not in sys.modules and "TF_CPP_MIN_LOG_LEVEL" not in os.environ:
        from cxr_core.tf_console import quiet_tensorflow

        quiet_tensorflow()


@dataclass(frozen=True)
class Classifier:
    """A trained model with the preprocessing it was trained with.

    Attributes:
        model: the ``keras.Model``; input ``[N, H, W, 3]`` float32 as :meth:`preprocess` makes it.
        class_names: class names in the model's output order.
        config: the :class:`~cxr_core.config.experiment.ExperimentConfig` giving the preprocessing
            (``config.preprocess``) and the model.
        family: the registered model family's name.
        weights: the file the weights came from (None for an export whose weights are inside it).
        run_dir, fold: the run and fold the model came from (None otherwise).
        model_card: the model card of an export (``covid-cxr export`` writes it beside the model;
            :mod:`cxr_core.inference.model_card`), None otherwise.
    """

    model: Any
    class_names: tuple[str, ...]
    config: Any
    family: str
    weights: Path | None = None
    run_dir: Path | None = None
    fold: int | None = None
    model_card: Path | None = None
    _inference: Any = None

    def __repr__(self) -> str:
        origin = (f"run_dir={os.fspath(self.run_dir)!r}, fold={self.fold}" if self.run_dir is not None
                  else f"weights={os.fspath(self.weights) if self.weights else None!r}")
        preset = getattr(self.config, "preset", None)
        card = f", model_card={os.fspath(self.model_card)!r}" if self.model_card else ""
        return (f"Classifier(family={self.family!r}, preset={preset!r}, classes={list(self.class_names)}, "
                f"input={'x'.join(map(str, self.image_size))}, {origin}{card})")

    @property
    def image_size(self) -> tuple[int, int]:
        """Input ``(height, width)`` in pixels."""
        return tuple(self.config.preprocess.image_size)

    def preprocess(self, paths: PathLike | Sequence[PathLike], *, batch_size: int | None = None):
        """The model's input for image files: float32 ``[N, H, W, 3]``, one row per file in order.

        ``batch_size``: images decoded per batch (default: the config's ``evaluation.batch_size``).

        The training pipeline's own decode (PNG, JPEG, 16-bit PNG, grey or RGB), ``pre_resize``,
        resize method and scaling (:mod:`cxr_core.data.pipeline`), without augmentation.

        Raises:
            ValueError: a file that cannot be decoded, naming it and the reason.
            FileNotFoundError: a path that does not exist.
        """
        import numpy as np

        from cxr_core.data.decode.images import verify_images
        from cxr_core.data.pipeline import build_dataset
        from cxr_core.protocol.experiment_data import pipeline_spec
        from cxr_core.inference.model import image_table

        files = _files(paths)
        table = verify_images(image_table(files, self.class_names), on_error="raise",
                              skip_hint="remove them from the list", png16=self.config.preprocess.png16,
                              dicom=self.config.preprocess.dicom)
        batch_size = self.config.evaluation.batch_size if batch_size is None else batch_size
        ds = build_dataset(table, pipeline_spec(self.config), batch_size=batch_size, shuffle=False, augment=False)
        return np.concatenate([x.numpy() for x, _ in ds]) if len(table) else np.zeros((0, *self.image_size, 3), "float32")

    def predict(self, paths: PathLike | Sequence[PathLike], *, batch_size: int | None = None):
        """Class probabilities for image files (folders are searched for images).

        ``batch_size``: images per prediction batch (default: the config's ``evaluation.batch_size``,
        e.g. ``load_classifier(..., overrides={"evaluation": {"batch_size": 8}})``).

        Returns:
            a pandas DataFrame, one row per image in order: ``path`` (as given, folders expanded),
            one float64 column per class name (its probability, rows sum to 1), ``predicted``
            (the class with the highest probability).

        Raises:
            ValueError: a file that cannot be decoded (nothing is dropped silently).
        """
        import pandas as pd

        from cxr_core.inference.model import predict_images

        files = _files(paths)
        batch_size = self.config.evaluation.batch_size if batch_size is None else batch_size
        _, probs = predict_images(self._inference, files, batch_size=batch_size, verify=True, skip_bad=False)
        frame = pd.DataFrame({"path": [str(p) for p in files]})
        for i, name in enumerate(self.class_names):
            frame[name] = probs[:, i]
        frame["predicted"] = [self.class_names[i] for i in probs.argmax(axis=1)] if len(files) else []
        return frame


def _files(paths: PathLike | Sequence[PathLike]) -> list[Path]:
    from cxr_core.inference.model import image_paths

    items = [paths] if isinstance(paths, (str, os.PathLike)) else list(paths)
    return image_paths(items)


def _classifier(inference) -> Classifier:
    chosen = inference.run_model
    return Classifier(model=inference.model, class_names=tuple(inference.class_names), config=inference.cfg,
                      family=inference.family.name, weights=inference.weights_path,
                      run_dir=None if chosen is None else chosen.run_dir,
                      fold=None if chosen is None else chosen.fold, _inference=inference)


def _load_export(path: Path, class_names: Sequence[str] | None) -> Classifier:
    """A ``covid-cxr export`` archive or SavedModel folder with its ``covid_cxr.json``."""
    import dataclasses

    from cxr_core.config.experiment import resolve_config
    from cxr_core.inference.export import read_export_metadata
    from cxr_core.inference.model import InferenceModel
    from cxr_core.family import get_family

    meta = read_export_metadata(path)
    if meta is None:
        raise CxrError(f"{path}: no covid_cxr.json in this export (written by `covid-cxr export`); load it with "
                         "keras.models.load_model and preprocess the images yourself")
    family = get_family(meta["family"])
    family.model.import_code()  # the model's module registers its Keras custom layers
    raw = dict(meta["config"])
    preset = raw.pop("preset", None)
    cfg = dataclasses.replace(resolve_config(raw, origin=f"{path} (covid_cxr.json)"), preset=preset)
    if path.is_dir():
        import keras

        model = keras.layers.TFSMLayer(str(path), call_endpoint="serve")
    else:
        import keras

        model = keras.models.load_model(path, safe_mode=True, compile=False)
    names = tuple(class_names or meta["class_names"])
    inference = InferenceModel(family, cfg, model, names, from_config=True, weights_path=None)
    run = meta.get("run") or {}
    from cxr_core.inference.model_card import model_card_path

    card = model_card_path(path)
    return Classifier(model=model, class_names=names, config=cfg, family=family.name, weights=path,
                      run_dir=Path(run["run_dir"]) if run.get("run_dir") else None, fold=run.get("fold"),
                      model_card=card if card.is_file() else None, _inference=inference)


_CLI_TO_API = ((r"--fold (K|\d+)", r"fold=\1"), (r"--fold\b", "fold="), (r"--weights\b", "weights="),
               (r"--class-names\b", "class_names="), (r"--set\b", "overrides="), (r"--run ", "run directory "),
               (r"--model\b", "a 'family/preset' name"))


def _in_api_words(exc: BaseException) -> BaseException:
    """A copy of ``exc`` whose message names this API's arguments (``weights=``, ``fold=K``) where the shared
    message names the command line's options (``--weights``, ``--fold K``)."""
    text = str(exc.args[0]) if exc.args and isinstance(exc.args[0], str) else None
    if text is None:
        return exc
    import re

    for cli, api in _CLI_TO_API:
        text = re.sub(cli, api, text)
    import copy

    translated = copy.copy(exc)  # same type and attributes; only the message changes
    translated.args = (text, *exc.args[1:])
    return translated


def load_classifier(name_or_run: PathLike, weights: PathLike | None = None, fold: int | None = None, *,
                    class_names: Sequence[str] | None = None,
                    overrides: Mapping[str, Any] | None = None) -> Classifier:
    """A trained classifier, ready to :meth:`~Classifier.predict` image files.

    Args:
        name_or_run: one of
            - a finished run directory (or its ``fold_k`` folder): the run's resolved config and the
              fold's selected weights (:mod:`cxr_core.inference.run_model`; ``weights`` replaces them);
            - ``"family/preset"``, e.g. ``"<family>/authors_code"``: the preset's model and
              preprocessing, with ``weights`` (required: nothing is downloaded);
            - an experiment YAML, with ``weights``;
            - an exported ``.keras`` archive or SavedModel folder with its ``covid_cxr.json``
              (``covid-cxr export``).
        weights: our ``.weights.h5`` or the authors' released file (the family's loader).
        fold: with a k-fold run, the fold whose model to load; None gives the fold ensemble (the mean of the
            finished folds' probabilities; ``Classifier.fold`` is then None).
        class_names: class names in output order, when the preset has none.
        overrides: config values on top (as ``--set``), e.g. ``{"evaluation": {"batch_size": 8}}``.

    Raises:
        ValueError: ``"family/preset"`` or a YAML without ``weights``; an unknown form.
        cxr_core.runs.directory.RunDirectoryError: a k-fold run with no finished fold, an unfinished fold.
        cxr_core.weights.files.WeightFileError: weights that do not fit the model, naming the family they fit.

    Error messages name this function's arguments (``weights=``, ``fold=``), not the command line's options.
    """
    from cxr_core.errors import CxrError

    try:
        return _load_classifier(name_or_run, weights, fold, class_names=class_names, overrides=overrides)
    except (CxrError, FileNotFoundError) as exc:
        translated = _in_api_words(exc)
        if translated is exc:
            raise
        raise translated from exc


def _load_classifier(name_or_run: PathLike, weights: PathLike | None = None, fold: int | None = None, *,
                    class_names: Sequence[str] | None = None,
                    overrides: Mapping[str, Any] | None = None) -> Classifier:
    """:func:`load_classifier`, with the messages its callers share with the command line."""
    _quiet_tensorflow_once()
    from cxr_core.inference.model import load_inference_model

    text = os.fspath(name_or_run)
    path = Path(text)
    names = list(class_names) if class_names else None
    if path.is_dir() and ((path / "config.yaml").is_file() or (path.parent / "config.yaml").is_file()):
        return _classifier(load_inference_model(weights, run=path, fold=fold, class_names=names, overrides=overrides,
                                                ensemble=True))
    if fold is not None:
        raise CxrError(f"load_classifier: fold={fold} needs a run directory; {text} is not one")
    if (path.suffix == ".keras" and path.is_file()) or (path.is_dir() and (path / "covid_cxr.json").is_file()):
        return _load_export(path, names)
    if path.suffix in (".yaml", ".yml") and path.is_file():
        if weights is None:
            raise CxrError(f"load_classifier({text!r}): an experiment YAML needs weights=")
        return _classifier(load_inference_model(weights, config=path, class_names=names, overrides=overrides))
    if text.count("/") == 1 and not path.exists():
        family, preset = text.split("/")
        if weights is None:
            raise CxrError(f"load_classifier({text!r}): give weights= (our .weights.h5, or the authors' released "
                             "file); this package downloads no weights. A run directory needs none")
        return _classifier(load_inference_model(weights, family=family, preset=preset, class_names=names,
                                                overrides=overrides))
    raise CxrError(f"load_classifier: {text!r} is neither a run directory, 'family/preset', an experiment YAML "
                     "nor an exported .keras / SavedModel with covid_cxr.json")


@dataclass(frozen=True)
class ExperimentRun:
    """A run directory written by :func:`run_experiment` (``os.fspath`` gives its path)."""

    run_dir: Path

    def __fspath__(self) -> str:
        return os.fspath(self.run_dir)

    def __repr__(self) -> str:
        finished = sorted(p.name for p in self.run_dir.glob("fold_*") if (p / "predictions.csv").is_file())
        return f"ExperimentRun({os.fspath(self.run_dir)!r}, finished folds: {len(finished)})"

    @property
    def report(self) -> Path:
        """``report.md``: tables against the published figures, per-fold and pooled metrics."""
        return self.run_dir / "report.md"

    @property
    def results(self):
        """``results.csv`` as a DataFrame indexed by ``fold`` (each fold's row, then ``mean`` and ``std``
        rows), one column per metric; None before any fold finished."""
        import pandas as pd

        path = self.run_dir / "results.csv"
        if not path.is_file():
            return None
        table = pd.read_csv(path, index_col=0)
        table.index.name = table.index.name or "fold"
        return table

    def classifier(self, fold: int | None = None) -> Classifier:
        """The trained model of ``fold`` (:func:`load_classifier` on this run)."""
        return load_classifier(self.run_dir, fold=fold)


def run_experiment(config: Any, data: PathLike | None = None, run_dir: PathLike | None = None, *,
                   test_data: PathLike | None = None, val_data: PathLike | None = None,
                   folds: Sequence[int] | None = None, smoke: bool = False, holdout: float | None = None,
                   overrides: Mapping[str, Any] | None = None, out: PathLike = "runs",
                   verbose: bool = True) -> ExperimentRun:
    """Run (or resume) an experiment's protocol, as ``covid-cxr cv`` (``covid-cxr train`` with ``holdout``);
    returns the run. The config and run directory come from
    :func:`cxr_core.protocol.experiment_from.experiment_from`, as on the command line.

    Args:
        config: an experiment YAML path, a mapping in the YAML's shape (e.g.
            ``{"preset": "<family>/paper", "train": {"epochs": 3}}``), or an
            :class:`~cxr_core.config.experiment.ExperimentConfig`.
        data: the dataset (``data.source``, CLI ``--data``): class folders, a CSV manifest or a split file.
        run_dir: the run directory to create or resume (default ``out/<name>/<timestamp>``).
        test_data, val_data: fixed test / validation sets (``--test-data``, ``--val-data``).
        folds: only these folds (default all).
        smoke: the CLI's ``--smoke`` (tiny input, one epoch of two steps): a pipeline check.
        holdout: as ``covid-cxr train --holdout``: a k-fold experiment trains one model on a holdout split
            with this held-out fraction (other protocols are kept).
        overrides: config values on top, as ``--set``.
        verbose: progress on stderr as on the command line (each fold's sizes, one line per epoch, a bar
            within it on a terminal, each fold's test accuracy) unless logging is configured already
            (:func:`cxr_core.logs.configure_logging` or your own levels); False: warnings and errors only.

    Keras' global dtype policy and TensorFlow's op determinism, which the run sets
    (``train.mixed_precision``, ``train.deterministic``), are restored when it returns or raises
    (:func:`cxr_core.training.global_state.restored_global_state`).

    Raises:
        cxr_core.config.schema.ConfigError: a config value that does not fit, naming the key.
        cxr_core.runs.directory.RunDirectoryError: ``run_dir`` holds a run of another config or data.
    """
    _quiet_tensorflow_once()
    from cxr_core.logs import progress_logging
    from cxr_core.protocol.experiment_from import experiment_from
    from cxr_core.protocol.run import run_protocol
    from cxr_core.training.global_state import restored_global_state

    experiment = experiment_from(config, overrides, data=data, test_data=test_data, val_data=val_data, smoke=smoke,
                                 holdout=holdout, run_dir=run_dir, out=out,
                                 overrides_origin="run_experiment(overrides/data=...)",
                                 config_origin="run_experiment(config=...)")
    cfg, target = experiment.config, experiment.run_dir
    from cxr_core.protocol.experiment_from import require_inputs

    require_inputs(cfg)
    with progress_logging(verbose), restored_global_state():  # nothing set here outlives the run
        log.info("%s: run directory %s", cfg.name, target)
        run_protocol(cfg, target, folds=list(folds) if folds is not None else None, smoke=smoke)
    return ExperimentRun(target)
