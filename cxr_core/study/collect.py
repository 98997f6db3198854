"""Per-fold values of every compared metric from a study's run directories, beside the published value.

The comparison is the run report's: the published table the experiment's config names
(``published.table``, aliases resolved by :func:`cxr_core.report.published.resolve_published_key`),
through its family's metric-per-row layout (:func:`cxr_core.report.markdown.summary_comparison`) or,
for a ``folds`` / ``classwise`` table, matched row by row and column by column
(:func:`cxr_core.report.tables.comparison_table`: the published fold table's mean row, its class-wise
companion). Each fold is scored on its own (its value is what the run report's per-fold rows hold);
without a comparable published table the fold table's columns are listed with no published value.
All values are percent.
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path
from typing import Sequence

import pandas as pd

VALUE_COLUMNS = ("experiment", "seed", "fold", "metric", "ours", "published", "source")


def find_run_dirs(out: str | Path) -> list[Path]:
    """Run directories under ``out`` (folders with ``config.yaml`` and a finished fold), sorted."""
    out = Path(out)
    found = {p.parent for p in out.rglob("config.yaml") if any(p.parent.glob("fold_*/predictions.csv"))}
    return sorted(found)


def seed_of(record: dict) -> int:
    """The study seed of a run: its ``protocol.seed`` (``train.seed`` when they differ is shown in the report)."""
    cfg = record.get("config") or {}
    return int((cfg.get("protocol") or {}).get("seed", 0))


def group_runs(run_dirs: Sequence[Path]) -> dict[str, dict[int, list[Path]]]:
    """``{experiment name: {seed: [run dirs]}}`` (a seed's folds may lie in several directories)."""
    from cxr_core.inference.run_model import read_run_record

    groups: dict[str, dict[int, list[Path]]] = defaultdict(lambda: defaultdict(list))
    for run_dir in run_dirs:
        record = read_run_record(run_dir)
        name = (record.get("config") or {}).get("name") or run_dir.parent.name
        groups[name][seed_of(record)].append(Path(run_dir))
    return {k: dict(sorted(v.items())) for k, v in sorted(groups.items())}


def fold_results(run_dirs: Sequence[Path]):
    """``(run record, {fold: EvaluationResult})`` of the finished folds of one seed's run directories."""
    from cxr_core.evaluation.metrics import evaluate_predictions
    from cxr_core.report.predictions import read_predictions
    from cxr_core.runs.directory import collect_folds

    record, folds = collect_folds(list(run_dirs))
    names = tuple(record["class_names"])
    results = {}
    for k, path in sorted(folds.items()):
        y, p = read_predictions(path, names)
        results[k] = evaluate_predictions(y, p, names, n_boot=0)
        results[k].fold = k
    return record, results


def _matched(frame: pd.DataFrame, prefix_rows: bool) -> list[tuple[str, float, float]]:
    rows = []
    cols = [c[: -len(" ours")] for c in frame.columns if c.endswith(" ours")]
    for label in frame.index:
        for col in cols:
            ours, pub = frame.at[label, f"{col} ours"], frame.at[label, f"{col} published"]
            if pd.notna(ours) and pd.notna(pub):
                rows.append((f"{col}[{label}]" if prefix_rows else col, float(ours), float(pub)))
    return rows


def fold_metrics(config: dict, result) -> list[tuple[str, float, float, str]]:
    """``[(metric, ours, published, source)]`` of one fold's result (percent; published NaN when none)."""
    from cxr_core.evaluation.metrics import classwise_table, fold_table, pooled_evaluation
    from cxr_core.report.comparison import percent
    from cxr_core.report.markdown import summary_comparison
    from cxr_core.report.published import find_published, published_table, resolve_published_key
    from cxr_core.report.tables import comparison_table

    key, selection = resolve_published_key((config.get("published") or {}).get("table"), config)
    # only the family that publishes the key is loaded (as the run report does)
    if key and key in find_published(key)[0].published.report_layouts:
        pooled = pooled_evaluation([result], n_boot=0)
        cmp, _, _ = summary_comparison(key, config, [result], pooled, selection=selection)
        return [(q, float(cmp.at[q, "ours (pooled)"]), float(cmp.at[q, "published"]), str(cmp.at[q, "source"]))
                for q in cmp.index]
    table = fold_table([result])
    rows: list[tuple[str, float, float]] = []
    source = ""
    if key:
        pub = published_table(key)
        tables = [pub] + ([published_table(pub.attrs["companion"])] if pub.attrs.get("companion") else [])
        for published in tables:
            if published.attrs["units"] == "fraction":
                published = published.apply(lambda col: col.map(lambda v: percent(v, "fraction")))
            if published.attrs.get("layout") == "folds":
                rows += _matched(comparison_table(table.loc[["mean"]], published), False)
            elif published.attrs.get("layout") == "classwise":
                rows += _matched(comparison_table(classwise_table([result]), published), True)
        source = pub.attrs.get("source", "")
    if not rows:
        rows = [(c, float(table.at["mean", c]), float("nan")) for c in table.columns]
    return [(m, o, p, source) for m, o, p in rows]


def study_values(groups: dict[str, dict[int, list[Path]]]) -> pd.DataFrame:
    """One row per experiment, seed, fold and metric (:data:`VALUE_COLUMNS`)."""
    rows = []
    for name, seeds in groups.items():
        for seed, dirs in seeds.items():
            record, results = fold_results(dirs)
            config = dict(record.get("config") or {})
            for k, result in results.items():
                rows += [(name, seed, k, m, o, p, s) for m, o, p, s in fold_metrics(config, result)]
    return pd.DataFrame(rows, columns=list(VALUE_COLUMNS))
