"""The run report: ``report.md`` with our tables beside the published ones, plus CSV and PNG files.

The report reads only the metrics' output (:class:`cxr_core.evaluation.metrics.EvaluationResult`) and the
published tables the families register (:mod:`cxr_core.report.published`); a family's metric-per-row
layout of a published table (:attr:`cxr_core.family.PublishedPart.report_layouts`) gets its own
section, with the family's own figures of it (:attr:`cxr_core.family.PublishedPart.report_figures`).
Tables come from :mod:`cxr_core.report.tables`, figures from :mod:`cxr_core.report.figures`; every file
is written atomically (:mod:`cxr_core.atomic_files`). This module imports neither TensorFlow nor Keras.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np
import pandas as pd

import cxr_core.evaluation.metrics as _metrics
from cxr_core.report.comparison import DIFF_POINTS, summary_markdown
from cxr_core.report.figures import plot_confusion_matrix
from cxr_core.report.score_section import CALIBRATION_TEXT, calibration_table, figures_markdown, write_score_figures
from cxr_core.report.html import write_html
from cxr_core.report.published import find_published, published_table, quoted_tables, resolve_published_key
from cxr_core.report.tables import comparison_table, to_markdown, write_table
from cxr_core.atomic_files import atomic_write_text
from cxr_core.evaluation import confusion as _confusion

__all__ = ["summary_comparison", "summary_keys", "write_run_report"]


def _published_key(published, config: Mapping) -> str | None:
    if published is None:
        published = (config or {}).get("published")
    if published is None:
        return None
    if isinstance(published, str):
        return published
    if isinstance(published, Mapping):
        return published.get("table")
    raise TypeError(f"published: expected a table key, a mapping with 'table', or None; found "
                    f"{type(published)}")


def _md_section(title: str, body: str) -> str:
    return f"## {title}\n\n{body.rstrip()}\n\n"


def _source_line(df: pd.DataFrame) -> str:
    parts = [f"Published: {df.attrs.get('title', '')} — source {df.attrs.get('source', '?')}"]
    if df.attrs.get("notes"):
        parts.append(f"Notes: {df.attrs['notes']}")
    return "\n\n".join(parts) + "\n\n"


def _deviations(config: Mapping) -> str:
    devs = (config or {}).get("deviations")
    if not devs:
        return "None recorded in the config.\n"
    if isinstance(devs, str):
        devs = [devs]
    if isinstance(devs, Mapping):
        devs = [f"{k}: {v}" for k, v in devs.items()]
    return "".join(f"- {d}\n" for d in devs)


def _fold_dirs_images(run_dir: Path) -> list[Path]:
    """PNGs of the fold folders and of their phase folders (``fold_k/*.png``, ``fold_k/*/*.png``)."""
    def natural(p: Path):
        return [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", p.as_posix())]

    found = [*run_dir.glob("fold_*/*.png"), *run_dir.glob("fold_*/*/*.png")]
    return sorted((p for p in found if "tensorboard" not in p.parts), key=natural)


def _run_facts(config: Mapping) -> list[str]:
    """What actually ran, from the run's resolved config (not the preset): input size, resize and
    scaling, epochs, batch and steps."""
    facts = []
    pre = config.get("preprocess") if isinstance(config.get("preprocess"), Mapping) else {}
    size = pre.get("image_size")
    if size:
        facts.append(f"- input used by this run: {int(size[0])}x{int(size[1])} pixels, resize "
                     f"{pre.get('resize_method', '?')}, scaling {pre.get('scaling', '?')} (the run's "
                     "resolved config)")
    train = config.get("train") if isinstance(config.get("train"), Mapping) else {}
    if train.get("epochs"):
        steps = (f", {train['steps_per_epoch']} steps per epoch" if train.get("steps_per_epoch")
                 else ", full passes over the training data")
        epochs = int(train["epochs"])
        facts.append(f"- training: up to {epochs} epoch{'s' if epochs != 1 else ''}, batch "
                     f"{train.get('batch_size', '?')}{steps}")
    return facts


FOLD_NUMBERING = ("Folds are numbered from 0 everywhere in this run (tables, `fold_k` folders, `--folds`, "
                  "console, figure titles); a published table's fold 1 is the paper's first fold and is "
                  "listed beside our fold 0 (different splits: compare the means).")


def _published_fold_rows(ours: pd.DataFrame, published: pd.DataFrame) -> dict[str, str]:
    """Our ``fold k`` (0-based) -> the published ``fold k+1`` (the paper counts from 1)."""
    return {label: f"fold {int(label.split()[1]) + 1}" for label in ours.index
            if re.fullmatch(r"fold \d+", str(label)) and f"fold {int(label.split()[1]) + 1}" in published.index}


# ----------------------------------------------------------------------------------------------
# metric-per-row comparisons: the layouts come from the family that publishes the table
# ----------------------------------------------------------------------------------------------
def summary_keys() -> list[str]:
    """Published keys with a metric-per-row layout (:func:`summary_comparison`), all families."""
    from cxr_core.family import iter_families

    return [key for family in iter_families() for key in family.published.report_layouts]


def _layout_of(key: str | None):
    if key is None:
        return None
    family, _ = find_published(key)
    return family.published.report_layouts.get(key)


def _family_figures(key: str | None, run_dir: Path, config: Mapping, folds: Sequence, pooled, *,
                    selection: Mapping | None, mark: str | None) -> tuple[str, bool]:
    """``(markdown, drawn)``: the figures the key's family draws for its comparison
    (:attr:`cxr_core.family.PublishedPart.report_figures`), each PNG on its own line with its caption
    below, then the notes on what was not drawn; ``drawn`` = at least one figure. ``("", False)``
    when the family draws none for ``key``."""
    if key is None:
        return "", False
    draw = find_published(key)[0].published.report_figures.get(key)
    if draw is None:
        return "", False
    figures, notes = draw(key, run_dir, dict(config or {}), list(folds), pooled,
                          selection=dict(selection or {}), mark=mark)
    parts = [f"![{Path(name).as_posix()}]({Path(name).as_posix()})\n\n{caption}\n\n" for name, caption in figures]
    parts += [f"- {note}\n" for note in notes]
    return "".join(parts) + ("\n" if notes else ""), bool(figures)


def summary_comparison(key: str, config: Mapping, folds: Sequence, pooled, *,
                       selection: Mapping | None = None) -> tuple[pd.DataFrame, str, list[str]]:
    """Published figures of one experiment beside ours, one metric per row (percent).

    ``key``: a published key with a layout in its family's
    :attr:`cxr_core.family.PublishedPart.report_layouts` (:func:`summary_keys`). Returns
    ``(frame, heading, notes)``; the frame has columns :data:`cxr_core.report.comparison.SUMMARY_COLUMNS`:
    ours on all folds' predictions pooled with the percentile bootstrap 95% interval, the mean and
    sample std of the per-fold values, the published value, ``diff`` = ours (pooled) - published,
    and ``differs``. ``notes`` are the published tables' notes plus inconsistencies the layout
    computes. KeyError when ``key`` has no such layout.
    """
    layout = _layout_of(key)
    if layout is None:
        raise KeyError(f"summary_comparison: no metric-per-row layout for {key!r}; known: "
                       f"{', '.join(summary_keys())}")
    return layout(key, dict(config or {}), list(folds), pooled, selection=dict(selection or {}))


def cross_entropy_loss(y_true, y_prob) -> float:
    """Mean categorical cross-entropy ``-mean(log p[true])`` with Keras' clipping of ``p`` to
    ``[1e-7, 1 - 1e-7]`` (what ``model.evaluate`` reports as the test loss)."""
    t = np.asarray(y_true, dtype=np.int64).reshape(-1)
    p = np.clip(np.asarray(y_prob, dtype=np.float64), 1e-7, 1 - 1e-7)
    return float(-np.mean(np.log(p[np.arange(t.size), t])))


def write_run_report(run_dir: str | os.PathLike, config: Mapping,
                     per_fold: Sequence[_metrics.EvaluationResult],
                     published: str | Mapping | None = None, *, average: str = "macro",
                     n_boot: int = 1000, seed: int = 0) -> Path:
    """Write ``report.md``, ``results.csv`` / ``results.md`` and pooled figures into ``run_dir``.

    ``published``: a key of :mod:`cxr_core.report.published` (e.g. ``"<family>/table3"``), the config's
    ``published`` mapping (``{"table": ...}``), or None to use ``config["published"]``.
    The report holds: experiment name and preset, the deviations listed in
    ``config["deviations"]``, the per-fold table (:func:`cxr_core.evaluation.metrics.fold_table`, ``average``
    over classes, macro by default) beside the published fold table, the class-wise table
    (:func:`cxr_core.evaluation.metrics.classwise_table`) beside
    the published class-wise table (the fold table's ``companion``), pooled metrics of all folds'
    predictions with percentile bootstrap 95% CIs (``n_boot``, ``seed``), and links to the pooled
    confusion-matrix PNGs written here plus every ``fold_*/*.png`` found. ``results.csv`` = the
    per-fold table with mean and std rows (percent). Returns the path of ``report.md``.

    Published tables with a metric-per-row layout in their family (:func:`summary_keys`; key aliases
    in :func:`cxr_core.report.published.resolve_published_key`) get that comparison first
    (:func:`summary_comparison`), also written to ``published_comparison.csv`` / ``.md``, with
    differences in bold. A family's own figures of the published key
    (:attr:`cxr_core.family.PublishedPart.report_figures`) are drawn into ``run_dir`` and shown under
    the published table with their captions; in a smoke or synthetic run (``config["reference_only"]``)
    they are stamped REFERENCE ONLY.
    """
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    config = dict(config or {})
    folds = list(per_fold)
    if not folds:
        raise ValueError(f"write_run_report({run_dir}): per_fold is empty")
    names = list(folds[0].class_names) or [
        i for i in folds[0].per_class.index if i not in _confusion.AVERAGES]

    key, selection = resolve_published_key(_published_key(published, config), config)
    pub = published_table(key) if key else None
    pub_folds = pub_class = pub_other = None
    reference_only = config.get("reference_only")  # a smoke or synthetic run: the published table apart
    summary_key = key if _layout_of(key) is not None and not reference_only else None
    if reference_only and pub is not None:
        pub_other = pub
    elif pub is not None and summary_key is None:
        if pub.attrs["layout"] == "folds":
            pub_folds = pub
            if pub.attrs.get("companion"):
                pub_class = published_table(pub.attrs["companion"])
        elif pub.attrs["layout"] == "classwise":
            pub_class = pub
        else:
            pub_other = pub

    table = _metrics.fold_table(folds, average)
    classwise = _metrics.classwise_table(folds)
    write_table(table, run_dir / "results")
    write_table(classwise, run_dir / "results_classwise")
    pooled = _metrics.pooled_evaluation(folds, n_boot=n_boot, seed=seed)
    write_table(pooled.ci, run_dir / "results_pooled_ci", floatfmt=".4f")

    images = []
    for normalize, stem in ((False, "confusion_matrix_pooled"),
                            (True, "confusion_matrix_pooled_normalized")):
        plot_confusion_matrix(pooled.confusion, names, run_dir / f"{stem}.png", normalize=normalize,
                              title=f"{config.get('name', 'run')}: all folds pooled")
        images.append(Path(f"{stem}.png"))
    calibration = None
    if pooled.y_true is not None and pooled.y_prob is not None:
        images += write_score_figures(run_dir, config.get("name", "run"), folds, pooled, names)
        calibration = calibration_table(folds, pooled)
        write_table(calibration, run_dir / "calibration", floatfmt=".4f")
    fold_images = [p.relative_to(run_dir) for p in _fold_dirs_images(run_dir)]

    md = [f"# {config.get('name', run_dir.name)}\n\n"]
    model = config.get("model", {}) if isinstance(config.get("model"), Mapping) else {}
    protocol = config.get("protocol", {}) if isinstance(config.get("protocol"), Mapping) else {}
    facts = [f"- preset: `{config.get('preset', 'unknown')}`"]
    if model.get("family"):
        facts.append(f"- model family: `{model['family']}`")
    if protocol.get("kind"):
        facts.append(f"- protocol: {protocol['kind']}"
                     + (f", {protocol['n_folds']} folds" if protocol.get("n_folds") else ""))
    facts.append(f"- evaluated results: {len(folds)}; samples in total: {int(pooled.confusion.sum())}")
    facts.append(f"- classes: {', '.join(names)}")
    facts.append(f"- published reference: {key or 'none'}")
    facts += _run_facts(config)
    facts.append(f"- {FOLD_NUMBERING}")
    facts += [f"- {note}" for note in config.get("run_notes") or ()]  # e.g. the precision each fold ran
    md.append("\n".join(facts) + "\n\n")
    if config.get("description"):
        md.append(f"{config['description']}\n\n")
    for warning in config.get("warnings") or ():
        md.append(f"> **Warning:** {warning}\n\n")
    md.append(_md_section("Preset notes: choices and deviations from the paper, with sources", _deviations(config)))
    if config.get("data_hazards"):  # "## Data hazards" of cxr_core.data.audit.hazards, written at the run's start
        md.append(str(config["data_hazards"]).rstrip("\n") + "\n\n")

    if summary_key is not None:
        cmp, heading, notes = summary_comparison(summary_key, config, folds, pooled,
                                                 selection=selection)
        write_table(cmp, run_dir / "published_comparison")
        ci_text = ("percentile bootstrap 95% interval of the pooled value"
                   if cmp[["CI low", "CI high"]].notna().any().any()
                   else "no interval (no stored predictions or n_boot = 0)")
        body = (f"Percent. 'ours (pooled)' = all {len(folds)} evaluated result(s)' predictions "
                f"together ({ci_text}); 'ours (fold mean)' = mean of the per-fold values (std = "
                f"sample standard deviation); diff = ours (pooled) - published, in **bold** where "
                f"|diff| > {DIFF_POINTS:g} point and the published value lies outside our interval "
                f"(or there is none). Also in published_comparison.csv.\n\n")
        body += summary_markdown(cmp) + "\n"
        cfg_source = (config.get("published") or {}).get("source") if isinstance(
            config.get("published"), Mapping) else None
        if cfg_source:
            body += f"Config's reference: {cfg_source}\n\n"
        body += "".join(f"- {n}\n" for n in notes) + "\n"
        body += _family_figures(summary_key, run_dir, config, folds, pooled, selection=selection, mark=None)[0]
        md.append(_md_section(f"Published reference ({key}): {heading}", body))

    body = (f"Percent; Precision, Recall, Specificity and F-measure are {average} averages over "
            "classes within each fold (the paper does not state its averaging). `mean` = mean of "
            "the folds, `std` = sample standard deviation.\n\n")
    if pub_folds is not None:
        body += (to_markdown(comparison_table(table, pub_folds, row_map=_published_fold_rows(table, pub_folds)))
                 + "\n" + _source_line(pub_folds))
    else:
        body += to_markdown(table)
    md.append(_md_section("Per-fold results", body))

    body = "Percent; per class one-vs-rest, mean over folds.\n\n"
    if pub_class is not None:
        body += to_markdown(comparison_table(classwise, pub_class)) + "\n" + _source_line(pub_class)
    else:
        body += to_markdown(classwise)
    md.append(_md_section("Class-wise results", body))

    if pub_other is not None:
        heading = f"Published reference ({key})"
        mark = f"REFERENCE ONLY: this run is {reference_only}" if reference_only else None
        figures, drawn = _family_figures(key, run_dir, config, folds, pooled, selection=selection, mark=mark)
        lead = ""
        if reference_only:
            heading += ": for reference only"
            stamped = "; a figure that shows both is stamped REFERENCE ONLY" if drawn else ""
            lead = (f"**For reference only: this run is {reference_only}.** Its numbers say nothing about the "
                    f"paper's, so they are not set beside them (no diff, no 'differs'){stamped}.\n\n")
        digits = ".3f" if pub_other.attrs.get("units") == "fraction" else ".2f"  # as printed in the paper
        md.append(_md_section(heading, lead + to_markdown(pub_other, floatfmt=digits) + "\n" + _source_line(pub_other)
                              + figures))

    quoted = quoted_tables((config.get("model") or {}).get("family") if isinstance(config.get("model"), Mapping)
                           else None)
    if quoted:
        body = ("Other methods' numbers as the paper quotes them, copied as printed: **quoted, not reproduced or "
                "computed here**.\n\n")
        for q in quoted:
            body += f"**{q.attrs['title']}** (quoted from {q.attrs['source']})\n\n" + to_markdown(q) + "\n"
            body += (f"{q.attrs['notes']}\n\n" if q.attrs.get("notes") else "")
        md.append(_md_section("Quoted comparisons (other methods, as published)", body))

    ci = pooled.ci
    if len(ci):
        boot = (f"Percentile bootstrap over samples, {ci.attrs.get('n_boot')} resamples, seed "
                f"{ci.attrs.get('seed')}, {100 * (1 - ci.attrs.get('alpha', 0.05)):.0f}% intervals."
                if ci.attrs.get("n_boot") else "No bootstrap (n_boot = 0).")
        body = f"All folds' predictions together. {boot}\n\n" + to_markdown(ci, floatfmt=".4f")
    else:
        body = ("Folds carry no predictions: metrics of the summed confusion matrix, no intervals."
                "\n\n")
    if pooled.y_true is not None and pooled.y_prob is not None:
        body += (f"\nTest loss (categorical cross-entropy of the stored probabilities, mean over samples, as "
                 f"Keras' evaluate reports it): {cross_entropy_loss(pooled.y_true, pooled.y_prob):.4f}\n")
    body += "\n" + to_markdown(_metrics.pooled_fold_table(folds, average))
    body += "\n" + to_markdown(pooled.per_class, floatfmt=".4f")
    md.append(_md_section("Pooled metrics", body))

    if calibration is not None:
        md.append(_md_section("Calibration", CALIBRATION_TEXT + to_markdown(calibration, floatfmt=".4f")))

    md.append(_md_section("Figures", figures_markdown(images, fold_images)))
    report = run_dir / "report.md"
    atomic_write_text(report, "".join(md))
    write_html(report)
    return report
