"""What ``predict``, ``evaluate``, ``explain`` and ``export`` share: a trained model with its preprocessing.

:func:`load_inference_model` builds a family's model from an experiment YAML or a preset
(``coronet/authors_code``: input size, resize method, scaling, class names) and loads weights into it:
our Keras 3 ``.weights.h5`` / ``.keras``, or the authors' released files through the family's
``load_weights``. :func:`image_paths` expands files and folders, :func:`predict_images` and
:func:`predict_table` run the tf.data pipeline and the model, :func:`predict_probabilities` turns any
model output (probabilities, logits, several outputs) into class probabilities.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np

from cxr_core.errors import CxrError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class InferenceModel:
    """A model ready to predict: its family, the experiment config giving its preprocessing, the
    Keras model with its weights loaded, and the class names in output order.

    ``from_config``: the config came from an experiment YAML (not a preset), so its ``data``
    section describes data the user chose.
    """

    family: Any
    cfg: Any
    model: Any
    class_names: tuple[str, ...]
    from_config: bool = False
    weights_path: Path | None = None
    """The weights file read (its sha256 goes into the provenance of an evaluation)."""
    run_model: Any = None
    """The :class:`cxr_core.inference.run_model.RunModel` (run directory, fold) when loaded with ``run``."""


def load_inference_model(weights: str | Path | None = None, *, config: str | Path | None = None,
                         family: str | None = None, preset: str = "authors_code",
                         class_names: Sequence[str] | None = None, run: str | Path | None = None,
                         fold: int | None = None, overrides: Mapping[str, Any] | None = None,
                         ensemble: bool = False) -> InferenceModel:
    """Build the model of ``run``, ``config`` (an experiment YAML) or ``family``/``preset`` and load ``weights``.

    Args:
        weights: our ``.weights.h5`` / ``.keras``, or a file the family's ``load_weights`` reads
            (the authors' Keras-2 HDF5). With ``run``: replaces the fold's selected weights.
        config: experiment YAML; replaces ``family``/``preset``.
        family, preset: a registered model family and one of its presets (``authors_code``, ``paper``);
            ``family`` is required without ``config`` or ``run``.
        class_names: class names in the model's output order (default: the run's / config's / preset's).
        run, fold: a finished run directory (``--run``) and one of its folds (``--fold``): the run's
            resolved config and the fold's selected weights (:func:`cxr_core.inference.run_model.run_model`).
        overrides: nested config values on top (``--set``), e.g. ``{"evaluation": {"batch_size": 8}}``.
        ensemble: with ``run`` of a k-fold run and no ``fold``: the fold ensemble, the mean of every
            finished fold's probabilities (:func:`cxr_core.inference.run_model.fold_ensemble`).

    Raises:
        ValueError: neither ``run``, ``config`` nor ``family`` given (CLI: ``--model``), ``run`` with
            ``config`` or ``family``, no weights without ``run`` (CLI: ``--weights``), or no class
            names given and none in the preset (CLI: ``--class-names``).
        FileNotFoundError: no file at ``weights``.
        cxr_core.runs.directory.RunDirectoryError: ``run`` is no finished run, or a k-fold run without ``fold``.
        cxr_core.weights.files.WeightFileError: a weight file that does not fit (:func:`load_model_weights`).
    """
    from cxr_core.config.experiment import load_config, resolve_config
    from cxr_core.family import get_family

    chosen = None
    if run is not None:
        from cxr_core.inference.run_model import run_model

        if config or family:
            raise CxrError("--run gives the model and its config: leave out --config and --model")
        chosen = run_model(run, fold, overrides, ensemble=ensemble and weights is None)
        cfg = chosen.config
        weights = weights or chosen.weights
    elif fold is not None:
        raise CxrError("--fold needs --run RUN_DIR")
    elif config:
        cfg = load_config(config, overrides=overrides)
    elif not family:
        raise CxrError("--model is required without --config or --run (a registered model family)")
    else:
        cfg = resolve_config({"preset": f"{family}/{preset}"}, origin="--model/--preset", overrides=overrides)
    if weights is None:
        raise CxrError("--weights is required without --run (a .weights.h5 file, or the authors' released file)")
    fam = get_family(cfg.model.family)
    names = tuple(class_names) if class_names else (chosen.class_names if chosen else cfg.data.class_names)
    if not names:
        raise CxrError("--class-names is required: the preset names no classes")
    if chosen is not None and chosen.ensemble_weights:
        from cxr_core.inference.run_model import fold_ensemble

        members = [load_model_weights(fam, cfg, names, path) for _, path in chosen.ensemble_weights]
        model = fold_ensemble(members, [k for k, _ in chosen.ensemble_weights])
    else:
        model = load_model_weights(fam, cfg, names, weights)
    return InferenceModel(fam, cfg, model, tuple(names), from_config=bool(config or chosen),
                          weights_path=Path(weights), run_model=chosen)


def load_model_weights(family, cfg, class_names: Sequence[str], weights: str | Path):
    """Build the family's model for ``cfg`` and load ``weights`` (ours, or the authors' released files)
    through :func:`cxr_core.weights.load.load_weights_for`.

    Raises:
        FileNotFoundError: no file at ``weights``.
        cxr_core.weights.files.WeightFileError: the file does not fit (one line; names the model family
            the file looks like), or a file other than Keras 3 weights for a family without ``load_weights``.
    """
    from cxr_core.models.build import model_builder
    from cxr_core.weights.load import load_weights_for

    path = Path(weights)
    if not path.is_file():
        raise FileNotFoundError(f"--weights: file not found: {path}")
    model = model_builder(cfg, len(class_names))(bare=True)
    return load_weights_for(family, model, path)


def image_paths(items: Sequence[str | Path]) -> list[Path]:
    """Image files from files and folders (folders searched recursively for image extensions, sorted).

    The files of a folder that are left out are in :func:`folder_files`' second result.

    Raises:
        FileNotFoundError: an item that is neither a file nor a folder.
        ValueError: a folder holding no images.
    """
    return folder_files(items)[0]


#: Extensions refused with the real reason instead of "not an image extension".
UNSUPPORTED_EXTENSIONS = {".webp": "WebP: not supported, convert to PNG",
                          ".heic": "HEIC: not supported, convert to PNG",
                          ".jp2": "JPEG 2000: not supported, convert to PNG"}


def _link_problem(path: Path, top: Path) -> str | None:
    """Why the symbolic link ``path`` is not read (None for a link to a file, which is read)."""
    import os

    target = os.readlink(path)
    try:
        real = path.resolve(strict=True)
    except RuntimeError:  # Python < 3.13: "Symlink loop from ..."
        return f"symbolic link loop ({path} -> {target})"
    except OSError as exc:
        if getattr(exc, "errno", None) == 40:  # ELOOP
            return f"symbolic link loop ({path} -> {target})"
        return f"dangling symbolic link (target {target} does not exist)"
    if real.is_dir():
        top_real = top.resolve()
        if top_real == real or top_real.is_relative_to(real) or real.is_relative_to(top_real):
            return f"symbolic link to a folder not followed: it leads back into {real} (a loop)"
        return (f"symbolic link to a folder not followed ({path} -> {target}); give {real} itself "
                "to read its images")
    return None


def _walk_folder(top: Path) -> tuple[list[Path], list[tuple[Path, str]]]:
    """``(files, links_left_out)`` of ``top``, recursively (``os.walk(followlinks=False)``, sorted)."""
    import os

    files: list[Path] = []
    left_out: list[tuple[Path, str]] = []
    for root, dirs, names in os.walk(top, followlinks=False):
        dirs.sort()
        for name in sorted(dirs + names):
            q = Path(root) / name
            if q.is_symlink():
                why = _link_problem(q, top)
                if why:
                    left_out.append((q, why))
                    continue
            if name in names:
                files.append(q)
    return sorted(files), left_out


def folder_files(items: Sequence[str | Path]) -> tuple[list[Path], list[tuple[Path, str]]]:
    """``(images, left_out)``: image files from files and folders (folders searched recursively, sorted),
    and every other entry found in those folders with the reason, so that a front end can print each
    one as SKIPPED and count it: no file of a folder disappears silently. Reasons: ``not an image
    extension``, ``WebP: not supported, convert to PNG`` (:data:`UNSUPPORTED_EXTENSIONS`), ``symbolic
    link to a folder not followed`` (with ``a loop`` when it leads back into the folder), ``symbolic
    link loop``, ``dangling symbolic link``. Links to files are read. GIFs are read (first frame).

    Raises:
        FileNotFoundError: an item that is neither a file nor a folder.
        ValueError: a folder holding no images.
    """
    from cxr_core.data.decode.extensions import IMAGE_EXTENSIONS, is_image_name

    readable = IMAGE_EXTENSIONS
    paths: list[Path] = []
    left_out: list[tuple[Path, str]] = []
    for item in items:
        p = Path(item)
        if p.is_dir():
            files, links = _walk_folder(p)
            found = [q for q in files if is_image_name(q.name)]
            if not found:
                raise CxrError(f"{p}: folder holds no images ({', '.join(readable)})"
                               + (f"; left out: {links[0][0]}: {links[0][1]}" if links else ""))
            paths.extend(found)
            left_out += links
            left_out += [(q, UNSUPPORTED_EXTENSIONS.get(q.suffix.lower()) or
                          f"not an image extension (expected one of {', '.join(readable)})")
                         for q in files if not is_image_name(q.name)]
        elif p.is_file():
            paths.append(p)
        else:
            raise FileNotFoundError(f"{p}: no such file or folder")
    return paths, sorted(left_out, key=lambda t: str(t[0]))


def unreadable_images(paths: Sequence[Path]) -> dict[Path, str]:
    """``{path: why}`` for the files that cannot be decoded as images (empty when all can)."""
    from cxr_core.data.decode.images import image_problem

    return {p: why for p in paths if (why := image_problem(str(p))) is not None}


def image_table(paths: Sequence[Path], class_names: Sequence[str]):
    """An unlabelled :class:`~cxr_core.data.tables.sample_table.SampleTable` of ``paths`` (every label the first class)."""
    import pandas as pd

    from cxr_core.data.tables.sample_table import SampleTable

    frame = pd.DataFrame(
        {
            "sample_id": [str(p) for p in paths],
            "path": [str(Path(p).resolve()) for p in paths],
            "label": class_names[0],
            "label_index": 0,
            "patient_id": pd.NA,
            "source": pd.NA,
        }
    )
    return SampleTable(frame, tuple(class_names))


def predict_probabilities(model, dataset, *, output_kind: str = "probabilities",
                          scaling: str | None = None) -> np.ndarray:
    """Class probabilities ``[N, C]`` float64 for every batch of ``dataset`` (its order).

    Multi-output models (CORONA-Net with its decoder) contribute their first output; logits
    (``output_kind="logits"``) go through a softmax. ``scaling``: the preset's
    ``preprocess.scaling``; the first batch is checked against it (one WARNING naming the expected
    and found ranges when it does not fit, :mod:`cxr_core.data.decode.input_range`).
    """
    import tensorflow as tf

    from cxr_core.data.decode.input_range import with_range_check

    dataset = with_range_check(dataset, scaling, where="prediction input")

    @tf.function
    def step(x):
        out = model(x, training=False)
        if isinstance(out, (list, tuple)):
            out = out[0]
        elif isinstance(out, dict):
            out = next(iter(out.values()))
        out = tf.cast(out, tf.float32)
        return tf.nn.softmax(out) if output_kind == "logits" else out

    try:
        chunks = [step(batch[0] if isinstance(batch, tuple) else batch).numpy() for batch in dataset]
    except tf.errors.OpError as exc:  # a file nobody checked fails inside tf.data: say so in plain words
        from cxr_core.data.decode.formats import pipeline_error_text

        raise CxrError(pipeline_error_text(exc)) from None
    return np.concatenate(chunks).astype(np.float64) if chunks else np.zeros((0, 0))


def predict_table(inference: InferenceModel, table, *, batch_size: int = 32) -> np.ndarray:
    """Class probabilities ``[len(table), C]`` float64 of ``table``'s images, in its row order, through the
    config's preprocessing (no augmentation)."""
    from cxr_core.data.pipeline import build_dataset
    from cxr_core.protocol.experiment_data import pipeline_spec

    ds = build_dataset(table, pipeline_spec(inference.cfg), batch_size=batch_size, shuffle=False, augment=False)
    return predict_probabilities(inference.model, ds, output_kind=inference.family.model.output_kind,
                                 scaling=inference.cfg.preprocess.scaling)


def predict_images(inference: InferenceModel, paths: Sequence[Path], *, batch_size: int = 32,
                   verify: bool = True, skip_bad: bool = False):
    """``(table, probabilities)`` for image files; with ``verify`` each file is checked first and, with
    ``skip_bad``, an unreadable one is left out (``table.skipped`` lists it with the reason)
    instead of raising."""
    from cxr_core.data.decode.images import verify_images

    table = image_table(paths, inference.class_names)
    if verify:
        table = verify_images(table, on_error="skip" if skip_bad else "raise", png16=inference.cfg.preprocess.png16,
                              dicom=inference.cfg.preprocess.dicom,
                              skip_hint="give --skip-bad to predict the others (each bad file printed as SKIPPED)")
    return table, predict_table(inference, table, batch_size=batch_size)


def evaluation_samples(inference: InferenceModel, data: str | Path, *, image_dir: str | None = None,
                       skip_bad: bool = False):
    """The labelled sample table of ``data`` (folder, manifest, COVIDx split file) in the model's classes.

    A preset's label map and split-file format describe its training data, not the user's, so they
    are dropped unless the model came from an experiment YAML.
    """
    from cxr_core.config.experiment import replace
    from cxr_core.protocol.experiment_data import load_samples

    data_over = {"source": str(data), "class_names": list(inference.class_names),
                 "on_bad_file": "skip" if skip_bad else "raise"}
    if not inference.from_config:
        data_over.update(label_map=None, format="auto")
    if image_dir:
        data_over["image_dir"] = image_dir
    cfg = replace(inference.cfg, {"data": data_over})
    return load_samples(cfg)
