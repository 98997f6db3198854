"""A model card beside every export: what the model is, what it was trained on, how well, and for what.

Layout of the Hugging Face model card (``README.md`` with YAML front matter: ``library_name``,
``tags``, ``license``, ``pipeline_tag``, then Markdown sections). Written by ``covid-cxr export``
beside the exported model: ``OUT.keras`` gets ``OUT.model_card.md``; a SavedModel folder gets
``README.md`` inside it. :func:`model_card_path` names that file and
:func:`cxr_core.load_classifier` shows it (``Classifier.model_card``).

Sections: the model (family, preset, input, classes, weights sha256) and every departure of the
preset from the paper (the run's deviation notes); the training data (where it came from, the run's
data hazards: class x source table, duplicates and patients across splits); the metrics with their
bootstrap intervals (pooled over the run's test folds); shortcut warnings; intended use: research
only, not a medical device. Everything is read from the export's ``covid_cxr.json`` metadata and,
when the model came from a run directory, from that run's files (``config.yaml``,
``data_hazards.md``, ``results_pooled_ci.csv``); a section whose source is missing says so.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Mapping

INTENDED_USE = (
    "Research only: reproducing and studying published COVID-19 chest-radiograph classifiers. "
    "**Not a medical device**: not validated for diagnosis, triage or any clinical decision, and not to be "
    "used on patients."
)

SHORTCUT_WARNING = (
    "The public COVID-19 chest X-ray data sets these papers used take each class from a different source "
    "(adult COVID-19 images from case reports, paediatric pneumonia and normal images from one hospital), so "
    "a classifier can score well by recognising the source (age, markers, borders, compression) rather than "
    "the disease (DeGrave et al., Nature Machine Intelligence 2021; Maguolo & Nanni 2021). Read the metrics "
    "above with the class x source table of the training data, and check any new data with `covid-cxr data audit`."
)


def model_card_path(export: str | os.PathLike) -> Path:
    """Where the card of ``export`` lives: ``OUT.model_card.md`` beside ``OUT.keras``, ``OUT/README.md``
    inside a SavedModel folder."""
    export = Path(export)
    if export.is_dir():
        return export / "README.md"
    return export.with_name(export.stem + ".model_card.md")


def model_card_text(metadata: Mapping[str, Any]) -> str:
    """The card (Markdown with YAML front matter) of an export whose ``covid_cxr.json`` is ``metadata``."""
    cfg = metadata.get("config") or {}
    run = metadata.get("run") or {}
    run_dir = Path(run["run_dir"]) if run.get("run_dir") else None
    family = metadata.get("family", "?")
    preset = cfg.get("preset") or "(none)"
    pre = metadata.get("preprocess") or {}
    classes = metadata.get("class_names") or []
    weights = metadata.get("weights") or {}
    smoke = bool(run.get("smoke"))

    front = ["---", "library_name: keras", "pipeline_tag: image-classification", "license: other",
             "tags:", "- chest-x-ray", "- covid-19", "- research-only", f"- {family}"]
    if smoke:
        front.append("- smoke-run")
    front.append("---")

    lines = [*front, "", f"# {cfg.get('name') or family} ({family}, preset {preset})", ""]
    if smoke:
        lines += ["> **SMOKE run**: trained a few steps at a reduced size to test the machinery; its weights and "
                  "metrics mean nothing.", ""]
    if run_dir is not None and _synthetic(run_dir):
        lines += ["> **Trained on SYNTHETIC drawings**, not X-rays (`covid-cxr demo`): this model says nothing about "
                  "radiographs.", ""]
    lines += ["## Model", "",
              f"- family: `{family}`; preset: `{preset}`",
              f"- input: {'x'.join(map(str, pre.get('image_size') or []))} RGB, resize `{pre.get('resize_method')}`, "
              f"scaling `{pre.get('scaling')}`" + (f", pre-resize {pre['pre_resize']}" if pre.get("pre_resize") else ""),
              f"- outputs, in order: {', '.join(f'`{c}`' for c in classes)}",
              f"- weights: `{weights.get('path', '-')}` (sha256 `{weights.get('sha256', '-')}`)",
              f"- from run: `{run_dir}`, fold {run.get('fold')}" if run_dir else "- from: a weights file (no run directory)",
              "", "### Departures from the paper", ""]
    deviations = cfg.get("deviations") or []
    lines += [f"- {d}" for d in deviations] if deviations else ["- none recorded for this preset"]
    lines += ["", "## Training data", ""]
    data = cfg.get("data") or {}
    lines.append(f"- source: `{data.get('source')}`" + (f"; test: `{data['test_source']}`" if data.get("test_source") else ""))
    hazards = _read(run_dir / "data_hazards.md") if run_dir else None
    if hazards:
        lines += ["", hazards.replace("## Data hazards", "### Data hazards (from the run)").strip()]
    else:
        lines.append("- data hazards: not available (no run directory with data_hazards.md)")
    lines += ["", "## Metrics", ""]
    lines += _metrics_lines(run_dir)
    lines += ["", "## Shortcut warnings", "", SHORTCUT_WARNING, "", "## Intended use", "", INTENDED_USE, "",
              "## How to load", "", "```python", "import cxr_core",
              "clf = cxr_core.load_classifier(\"PATH_TO_THIS_EXPORT\")   # preprocessing from covid_cxr.json",
              "clf.predict([\"image.png\"])", "```", "",
              f"Software: {_software(metadata.get('environment') or {})}", ""]
    return "\n".join(lines)


def write_model_card(export: str | os.PathLike, metadata: Mapping[str, Any]) -> Path:
    """Write the card of ``export`` (see :func:`model_card_path`) atomically; returns its path."""
    from cxr_core.atomic_files import atomic_write_text

    path = model_card_path(export)
    atomic_write_text(path, model_card_text(metadata))
    return path


def _synthetic(run_dir: Path) -> bool:
    from cxr_core.inference.run_model import trained_on_synthetic

    return trained_on_synthetic(run_dir)


def _read(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8")
    except OSError:
        return None


def _metrics_lines(run_dir: Path | None) -> list[str]:
    if run_dir is None or not (run_dir / "results_pooled_ci.csv").is_file():
        return ["Not available: the model did not come from a run directory with a report "
                "(`covid-cxr report RUN` writes `results_pooled_ci.csv`)."]
    import pandas as pd

    from cxr_core.report.tables import to_markdown

    table = pd.read_csv(run_dir / "results_pooled_ci.csv", index_col=0)
    return ["Pooled over the run's test folds, with 95% percentile-bootstrap intervals "
            "(`results_pooled_ci.csv` of the run):", "", to_markdown(table, floatfmt=".4f").strip()]


def _software(env: Mapping[str, Any]) -> str:
    from cxr_core.runs.provenance import summary_line

    return summary_line(env) if env else "not recorded"
