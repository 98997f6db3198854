"""Shortcut probes: what a fold's test score means when the classes differ in more than disease.

On public COVID-19 chest X-ray collections every class tends to come from its own source (hospital,
scanner, processing, text marks), and a model can score like the papers by reading the source
instead of the lungs (DeGrave, Janizek & Lee, "AI for radiographic COVID-19 detection selects
shortcuts over signal", Nature Machine Intelligence 3, 610-619, 2021; Maguolo & Nanni, "A critic
evaluation of methods for COVID-19 automatic detection from X-ray images", Information Fusion 76,
2021, who scored well with the lung fields blanked out). Three probes per fold, each on the fold's own
split (``splits/fold_k.csv``):

* **thumbnail baseline** (:func:`thumbnail_baseline`): a scikit-learn logistic regression on
  32x32 grey thumbnails (pixel values / 255, standardised), trained on the fold's training rows
  (validation rows included) and scored on its test rows with the model's metrics. A high score
  shows that coarse global appearance (brightness, contrast, borders, marks) separates the classes
  in these data; it cannot show that the model uses it.
* **source probe** (:func:`source_probe`): where the data have a ``source`` column, the same
  baseline predicting the source, and each class's accuracy (baseline and model) per source. A
  source that is predictable from a thumbnail and confounded with the class is a shortcut the model
  may take; per-source scores show whether a class is only recognised in one source.
* **lungs hidden / border only** (:func:`occlusion_probe`): the fold's model on its test images
  with the central region (``fraction`` of width and height, default 0.5) filled with the image's
  mean ("lungs hidden": only the border is left), and with only that central region kept. A score far
  above chance with the lungs hidden means the model reads something outside the lung fields; a
  score near chance says the border alone does not carry the label, not that the model is sound.

None of the probes shows that a model uses clinically valid features; a low probe score is only the
absence of one kind of shortcut. :func:`run_probes` runs all three on a finished fold and writes
``fold_k/probes.csv``, ``probes_sources.csv`` and ``probes.md``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np
import pandas as pd

log = logging.getLogger(__name__)

THUMBNAIL_SIDE = 32
CENTRE_FRACTION = 0.5
PROBE_COLUMNS = ("probe", "variant", "n", "accuracy", "macro_f1", "chance")
CITATIONS = ("DeGrave, Janizek & Lee 2021, Nature Machine Intelligence 3:610-619 (shortcuts over signal); "
             "Maguolo & Nanni 2021, Information Fusion 76:1-7 (high scores with the lungs blanked out)")


def thumbnails(paths: Sequence[str | Path], side: int = THUMBNAIL_SIDE) -> np.ndarray:
    """float32 ``[N, side*side]`` grey thumbnails in 0..1: each file decoded as the pipeline does
    (:func:`cxr_core.data.decode.images.load_image_array`, area resize), the mean of its RGB channels / 255.

    Raises:
        ValueError: a file that cannot be decoded, naming it.
    """
    from cxr_core.data.decode.images import load_image_array

    out = np.zeros((len(paths), side * side), dtype=np.float32)
    for i, path in enumerate(paths):
        out[i] = load_image_array(path, (side, side), "area").mean(axis=2).ravel() / 255.0
    return out


def _fit_logistic(x: np.ndarray, y: np.ndarray, seed: int = 0):
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    return make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000, random_state=seed)).fit(x, y)


def chance_rate(y: np.ndarray) -> float:
    """The accuracy of always predicting the test set's most frequent label (0..1)."""
    y = np.asarray(y)
    return float(pd.Series(y).value_counts(normalize=True).max()) if len(y) else float("nan")


def _scores(y: np.ndarray, probs: np.ndarray, class_names: Sequence[str]) -> dict:
    from cxr_core.evaluation.metrics import evaluate_predictions

    result = evaluate_predictions(y, probs, list(class_names), n_boot=0)
    return {"n": int(len(y)), "accuracy": float(result.summary["accuracy"]),
            "macro_f1": float(result.summary["macro_f1"]), "chance": chance_rate(y)}


def thumbnail_baseline(train_x: np.ndarray, train_y: np.ndarray, test_x: np.ndarray, test_y: np.ndarray,
                       class_names: Sequence[str], seed: int = 0) -> tuple[dict, np.ndarray]:
    """Logistic regression on thumbnails: ``(scores, test probabilities [N, C])``; scores as the
    model's (``accuracy``, ``macro_f1`` in 0..1, ``n``, ``chance``). A class missing from the
    training rows gets probability 0."""
    model = _fit_logistic(train_x, train_y, seed)
    probs = np.zeros((len(test_x), len(class_names)))
    probs[:, model.classes_] = model.predict_proba(test_x)
    return _scores(np.asarray(test_y), probs, class_names), probs


def source_probe(train_x, train_sources, test_x, test_sources, test_labels, baseline_pred, model_pred=None,
                 seed: int = 0) -> tuple[dict | None, pd.DataFrame]:
    """The thumbnail baseline predicting the source, and accuracy per class and source.

    ``*_sources``: source names (None / NaN = unknown, left out of the source model). Returns
    ``(scores or None when fewer than two sources are known, per-cell frame)``; the frame has one row
    per (class, source) of the test rows: ``class``, ``source``, ``n``, ``baseline_accuracy`` and
    ``model_accuracy`` (NaN without ``model_pred``).
    """
    train_s = pd.Series(train_sources, dtype="object").where(pd.notna(train_sources), None)
    test_s = pd.Series(test_sources, dtype="object").where(pd.notna(test_sources), None)
    labels = np.asarray(test_labels)
    cells = pd.DataFrame({"class": labels, "source": test_s.fillna("(unknown)").to_numpy(),
                          "baseline": np.asarray(baseline_pred) == labels,
                          "model": (np.asarray(model_pred) == labels) if model_pred is not None else np.nan})
    per_cell = (cells.groupby(["class", "source"], sort=True)
                .agg(n=("baseline", "size"), baseline_accuracy=("baseline", "mean"), model_accuracy=("model", "mean"))
                .reset_index())
    known_train, known_test = train_s.notna().to_numpy(), test_s.notna().to_numpy()
    names = sorted(set(train_s[known_train]))
    if len(names) < 2 or not known_test.any():
        return None, per_cell
    model = _fit_logistic(np.asarray(train_x)[known_train], train_s[known_train].to_numpy(), seed)
    truth = test_s[known_test].to_numpy()
    pred = model.predict(np.asarray(test_x)[known_test])
    return {"n": int(known_test.sum()), "accuracy": float(np.mean(pred == truth)), "macro_f1": float("nan"),
            "chance": chance_rate(truth), "sources": len(names)}, per_cell


def masked(images: np.ndarray, fraction: float = CENTRE_FRACTION, keep: str = "border") -> np.ndarray:
    """A copy of ``[N, H, W, C]`` images with one part filled with each image's per-channel mean:
    ``keep="border"`` fills the central ``fraction`` of height and width ("lungs hidden"),
    ``keep="centre"`` fills everything else."""
    if keep not in ("border", "centre") or not 0 < fraction < 1:
        raise ValueError(f"masked: keep 'border' or 'centre' and 0 < fraction < 1, found {keep!r}, {fraction}")
    x = np.array(images, dtype=np.float32, copy=True)
    h, w = x.shape[1:3]
    top, left = int(round(h * (1 - fraction) / 2)), int(round(w * (1 - fraction) / 2))
    bottom, right = h - top, w - left
    centre = np.zeros((h, w), dtype=bool)
    centre[top:bottom, left:right] = True
    region = centre if keep == "border" else ~centre
    mean = x.mean(axis=(1, 2), keepdims=True)
    x[:, region, :] = mean.reshape(len(x), 1, x.shape[3])
    return x


def occlusion_probe(classifier, paths: Sequence[str | Path], labels: np.ndarray, fraction: float = CENTRE_FRACTION,
                    chunk: int = 256) -> tuple[list[dict], np.ndarray]:
    """The classifier (:func:`cxr_core.api.load_classifier`) on ``paths`` whole, with the lungs hidden
    (``border``) and with the centre alone (``centre``): one score dict per variant (``variant`` set)
    and the whole images' predicted class indices."""
    from cxr_core.family import get_family
    from cxr_core.inference.model import predict_probabilities

    import tensorflow as tf

    kind = get_family(classifier.family).model.output_kind
    batch = classifier.config.evaluation.batch_size
    probs: dict[str, list] = {"whole": [], "border": [], "centre": []}
    for start in range(0, len(paths), chunk):
        x = classifier.preprocess(list(paths[start:start + chunk]))
        for variant in probs:
            xv = x if variant == "whole" else masked(x, fraction, keep=variant)
            ds = tf.data.Dataset.from_tensor_slices(xv).batch(batch)
            probs[variant].append(predict_probabilities(classifier.model, ds, output_kind=kind))
    names = classifier.class_names
    rows = []
    for variant, parts in probs.items():
        p = np.concatenate(parts) if parts else np.zeros((0, len(names)))
        rows.append({"variant": variant, **_scores(np.asarray(labels), p, names)})
    whole = np.concatenate(probs["whole"]) if probs["whole"] else np.zeros((0, len(names)))
    return rows, whole.argmax(axis=1)


@dataclass
class ProbeResult:
    """The probes of one fold: ``scores`` (:data:`PROBE_COLUMNS`, 0..1) and ``per_source`` cells."""

    scores: pd.DataFrame
    per_source: pd.DataFrame
    fraction: float


def fold_samples(run_dir: str | Path, fold: int):
    """``(table, train positions, test positions)`` of a finished run's fold: the run's own data
    table (its config read again) and roles from ``splits/fold_k.csv`` (validation rows train)."""
    from cxr_core.inference.run_model import read_run_record, run_config
    from cxr_core.protocol.experiment_data import load_samples, prepare_samples
    from cxr_core.protocol.split_files import read_fold_roles, split_path

    run_dir = Path(run_dir)
    cfg = run_config(run_dir)
    table = prepare_samples(cfg, load_samples(cfg), smoke=bool(read_run_record(run_dir).get("smoke")))
    if cfg.protocol.kind == "fixed_split":
        from cxr_core.protocol.run import with_fixed_test_set

        val = load_samples(cfg, validation=True) if cfg.data.validation_source else None
        table = with_fixed_test_set(table, load_samples(cfg, test=True), val)
    roles = read_fold_roles(split_path(run_dir, fold), table)
    return table, np.flatnonzero((roles == "train") | (roles == "val")), np.flatnonzero(roles == "test")


def run_probes(run_dir: str | Path, fold: int, *, fraction: float = CENTRE_FRACTION, side: int = THUMBNAIL_SIDE,
               model: bool = True, write: bool = True) -> ProbeResult:
    """All probes of fold ``fold`` of a finished run; written to ``fold_k/probes*.csv`` and ``probes.md``
    when ``write``. ``model=False`` leaves out the probes that need the trained model."""
    table, train, test = fold_samples(run_dir, fold)
    names = list(table.class_names)
    paths = table.frame["path"].tolist()
    x = thumbnails(paths, side)
    y = table.labels
    rows = []
    base, base_probs = thumbnail_baseline(x[train], y[train], x[test], y[test], names)
    rows.append({"probe": "thumbnail baseline", "variant": f"{side}x{side} grey", **base})
    model_pred = None
    if model:
        from cxr_core.api import load_classifier

        clf = load_classifier(run_dir, fold=fold)
        occl, model_pred = occlusion_probe(clf, [paths[i] for i in test], y[test], fraction)
        labels = {"whole": "whole image", "border": f"lungs hidden (centre {fraction:g} blanked)",
                  "centre": f"centre only ({fraction:g} of each side)"}
        rows += [{"probe": "model", **row, "variant": labels[row["variant"]]} for row in occl]
    sources = table.frame["source"].to_numpy(dtype=object)
    src, per_source = source_probe(x[train], sources[train], x[test], sources[test], y[test],
                                   base_probs.argmax(axis=1), model_pred)
    if src is not None:
        rows.append({"probe": "source probe", "variant": f"{src.pop('sources')} sources from thumbnails", **src})
    per_source["class"] = [names[i] for i in per_source["class"]]
    scores = pd.DataFrame(rows)[list(PROBE_COLUMNS)]
    result = ProbeResult(scores, per_source, fraction)
    if write:
        write_probe_files(Path(run_dir) / f"fold_{fold}", result)
    return result


PROBE_TEXT = (
    "Shortcut probes ({cite}). Fractions 0..1; chance = always the test set's most frequent label. "
    "**thumbnail baseline**: logistic regression on 32x32 grey thumbnails, trained on the fold's training rows; "
    "a high score shows the classes differ in coarse appearance, not that the model uses it. **model, lungs "
    "hidden**: the trained model with the central {fraction:g} of width and height filled with the image mean; "
    "far above chance means the model reads something outside the lung fields. **centre only**: the border "
    "filled instead. **source probe**: the baseline predicting the image's source. A probe near chance rules "
    "out only that one shortcut.\n\n")


def probe_markdown(result: ProbeResult) -> str:
    """The probes as Markdown: :data:`PROBE_TEXT`, the scores and the per-source cells."""
    from cxr_core.report.tables import to_markdown

    text = PROBE_TEXT.format(cite=CITATIONS, fraction=result.fraction)
    text += to_markdown(result.scores.set_index("probe"), floatfmt=".3f") + "\n"
    if len(result.per_source) and result.per_source["source"].nunique() > 1:
        text += ("\nAccuracy per class and source (test rows):\n\n"
                 + to_markdown(result.per_source.set_index("class"), floatfmt=".3f") + "\n")
    return text


def write_probe_files(fold_dir: Path, result: ProbeResult) -> None:
    """``probes.csv``, ``probes_sources.csv`` and ``probes.md`` in ``fold_dir`` (atomic writes)."""
    from cxr_core.atomic_files import atomic_path, atomic_write_text

    with atomic_path(fold_dir / "probes.csv") as tmp:
        result.scores.to_csv(tmp, index=False)
    with atomic_path(fold_dir / "probes_sources.csv") as tmp:
        result.per_source.to_csv(tmp, index=False)
    atomic_write_text(fold_dir / "probes.md", "# Shortcut probes\n\n" + probe_markdown(result))
