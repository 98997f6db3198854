"""Building blocks of a metric-per-row comparison: published figures beside ours, one row each.

A family's report layout (:attr:`cxr_core.family.PublishedPart.report_layouts`) picks the published
cells and our matching metrics and assembles them with :func:`metric_row` and :func:`summary_frame`;
the run report (:func:`cxr_core.report.markdown.write_run_report`) writes the frame with
:func:`summary_markdown`. A layout is called as ``layout(key, config, folds, pooled, *, selection)``
and returns ``(frame, heading, notes)``. All values are percent.
"""

from __future__ import annotations

import re
from typing import Mapping, Sequence

import numpy as np
import pandas as pd

from cxr_core.report.tables import format_cell, canonical_label, to_markdown

#: A difference is highlighted when |ours - published| exceeds this many points (percent) and the
#: published value lies outside our 95% interval (when we have one).
DIFF_POINTS = 1.0
SUMMARY_COLUMNS = ("ours (pooled)", "CI low", "CI high", "ours (fold mean)", "fold std",
                   "published", "diff", "differs", "source")
_PER_CLASS = re.compile(r"^(precision|recall|specificity|f1)\[(.+)\]$")


def class_lookup(names: Sequence[str], published_label: str,
                 aliases: Mapping[str, str] | None = None) -> str | None:
    """Our class name that ``published_label`` means (:func:`cxr_core.report.tables.canonical_label`
    with ``aliases``), or None."""
    target = canonical_label(published_label, aliases)
    found = [n for n in names if canonical_label(n, aliases) == target]
    return found[0] if found else None


def ours(pooled, folds, metric: str) -> tuple[float, float, float, float, float]:
    """(pooled, low, high, fold mean, fold std) in percent of a metric name of
    :func:`cxr_core.evaluation.metrics.evaluate_predictions`' interval table (``accuracy``, ``macro_f1``,
    ``precision[<class>]`` ...). ``pooled``: all folds' predictions together
    (:func:`cxr_core.evaluation.metrics.pooled_evaluation`); low/high: its bootstrap interval (NaN without
    one); std: sample standard deviation of the folds (NaN for one fold)."""
    nan = float("nan")
    match = _PER_CLASS.match(metric)

    def value(result) -> float:
        if match:
            return float(result.per_class.loc[match.group(2), match.group(1)])
        return float(result.summary[metric])

    ci = pooled.ci
    low = high = nan
    if metric in ci.index:
        low, high = float(ci.at[metric, "low"]), float(ci.at[metric, "high"])
    values = np.array([value(r) for r in folds])
    std = float(values.std(ddof=1)) if len(values) > 1 else nan
    return (100 * value(pooled), 100 * low, 100 * high, 100 * float(values.mean()), 100 * std)


def metric_row(quantity: str, mine: tuple, published: float, source: str, basis: str = "pooled") -> dict:
    """One row of :data:`SUMMARY_COLUMNS`: ``mine`` from :func:`ours`, ``published`` in percent.
    ``differs``: |diff| > :data:`DIFF_POINTS` and ``published`` outside our interval (or none)."""
    pooled, low, high, mean, std = mine
    value = pooled if basis == "pooled" else mean
    diff = value - published if np.isfinite(published) else float("nan")
    outside = not (np.isfinite(low) and np.isfinite(high)) or not (low <= published <= high)
    differs = bool(np.isfinite(diff) and abs(diff) > DIFF_POINTS and outside)
    return {"quantity": quantity, "ours (pooled)": pooled, "CI low": low, "CI high": high,
            "ours (fold mean)": mean, "fold std": std, "published": float(published),
            "diff": diff, "differs": differs, "source": source}


def summary_frame(rows: list[dict]) -> pd.DataFrame:
    """The rows of :func:`metric_row` as a frame indexed by quantity, columns :data:`SUMMARY_COLUMNS`."""
    df = pd.DataFrame(rows).set_index("quantity")
    return df[list(SUMMARY_COLUMNS)]


def percent(value, units: str) -> float:
    """A published cell in percent (``units`` ``fraction`` is multiplied by 100)."""
    v = float(pd.to_numeric(value, errors="coerce"))
    return 100 * v if units == "fraction" else v


def summary_markdown(df: pd.DataFrame) -> str:
    """Markdown of a summary frame; differing rows' diff in bold, marked ``**yes**``."""
    shown = df.drop(columns=["source"]).copy().astype(object)
    for label in shown.index:
        for col in shown.columns:
            value = shown.at[label, col]
            if col == "differs":
                shown.at[label, col] = "**yes**" if value else "no"
            else:
                text = format_cell(value, ".2f")
                if col == "diff" and df.at[label, "differs"] and text:
                    text = f"**{float(value):+.2f}**"
                elif col == "diff" and text:
                    text = f"{float(value):+.2f}"
                shown.at[label, col] = text
    shown.index.name = "percent"
    shown["source"] = df["source"]
    return to_markdown(shown, right=[c for c in shown.columns if c not in ("differs", "source")])
