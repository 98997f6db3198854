"""Tables (CSV + Markdown) and figures (PNG) of a run; published numbers beside ours.

The report reads only the metrics' output (:class:`cxr_core.metrics.EvaluationResult`) and the
published tables (:mod:`cxr_core.published`). Every file is written atomically
(:mod:`cxr_core.io`). Figures use matplotlib's object API with the Agg canvas (no pyplot state, no
display needed). This module imports neither TensorFlow nor Keras.
"""

from __future__ import annotations

import math
import os
import re
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np
import pandas as pd

from cxr_core import metrics as _metrics
from cxr_core import published as _published
from cxr_core.io import atomic_path, atomic_write_text

# ----------------------------------------------------------------------------------------------
# tables
# ----------------------------------------------------------------------------------------------


def _format_cell(value, floatfmt: str) -> str:
    if value is None:
        return ""
    if isinstance(value, (float, np.floating)):
        if math.isnan(value):
            return ""
        return format(float(value), floatfmt)
    if isinstance(value, (bool, np.bool_)):
        return str(bool(value))
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    try:
        if pd.isna(value):
            return ""
    except (TypeError, ValueError):
        pass
    return str(value)


def _escape(text: str) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def to_markdown(df: pd.DataFrame, *, floatfmt: str = ".2f", index: bool = True,
                right: Sequence[str] = ()) -> str:
    """GitHub-flavoured Markdown table of ``df`` (NaN -> empty cell; numbers right-aligned, as
    are the columns named in ``right``)."""
    headers = [str(c) for c in df.columns]
    numeric = [pd.api.types.is_numeric_dtype(df[c]) or c in right for c in df.columns]
    rows = [[_format_cell(v, floatfmt) for v in row] for row in df.itertuples(index=False)]
    if index:
        headers = [str(df.index.name or "")] + headers
        numeric = [False] + numeric
        rows = [[str(i)] + r for i, r in zip(df.index, rows)]
    lines = ["| " + " | ".join(_escape(h) for h in headers) + " |",
             "|" + "|".join("---:" if n else "---" for n in numeric) + "|"]
    lines += ["| " + " | ".join(_escape(c) for c in r) + " |" for r in rows]
    return "\n".join(lines) + "\n"


def write_table(df: pd.DataFrame, stem: str | os.PathLike, *, floatfmt: str = ".2f",
                index: bool = True, markdown: bool = True) -> None:
    """Write ``df`` to ``<stem>.csv`` (full precision) and, with ``markdown``, ``<stem>.md`` (rounded
    to ``floatfmt``), each atomically; parent folders are created."""
    stem = Path(stem)
    atomic_write_text(stem.parent / f"{stem.name}.csv", df.to_csv(index=index))
    if markdown:
        atomic_write_text(stem.parent / f"{stem.name}.md", to_markdown(df, floatfmt=floatfmt, index=index))


_ALIASES = {"covid19": "covid", "covid": "covid", "ncp": "covid", "nor": "normal",
            "pneumoniabac": "pneumoniabacterial", "pneumoniavir": "pneumoniaviral",
            "avg": "mean", "average": "mean", "fmeasure": "f1", "f1score": "f1",
            "sensitivity": "recall", "ppv": "precision"}


def _canonical(label) -> str:
    key = re.sub(r"[^0-9a-z]", "", str(label).lower())
    return _ALIASES.get(key, key)


def comparison_table(ours: pd.DataFrame, published: pd.DataFrame, *,
                     row_map: Mapping[str, str] | None = None) -> pd.DataFrame:
    """Our values, the published ones and the difference side by side.

    Rows are matched by label after normalisation (case, spaces and punctuation ignored; a few
    aliases: "COVID-19" = "covid", "Pneumonia bacterial" = "pneumonia_bacterial" = "pneumonia_bac",
    "avg" = "mean"); ``row_map`` maps our row labels to published ones explicitly. Columns are
    those present in both (matched the same way), each giving ``<col> ours``, ``<col> published``
    and ``<col> diff`` (ours - published). Rows present on one side only are kept with NaN on the
    other. Both frames must use the same units (e.g. percent). ``attrs`` carries the published
    table's ``source`` and ``notes``.
    """
    row_map = dict(row_map or {})
    pub_rows = {_canonical(i): i for i in published.index}
    pub_cols = {_canonical(c): c for c in published.columns}
    columns = [(c, pub_cols[_canonical(c)]) for c in ours.columns if _canonical(c) in pub_cols]
    if not columns:
        raise ValueError(
            f"comparison_table: no column in common; ours {list(ours.columns)}, published "
            f"{list(published.columns)}")
    pairs, matched = [], set()
    for label in ours.index:
        target = row_map.get(label)
        pub_label = target if target in published.index else pub_rows.get(_canonical(label))
        pairs.append((label, pub_label))
        if pub_label is not None:
            matched.add(pub_label)
    pairs += [(None, p) for p in published.index if p not in matched]
    data, index = {}, []
    for ours_label, pub_label in pairs:
        index.append(ours_label if ours_label is not None else pub_label)
    for ours_col, pub_col in columns:
        o = np.array([float(ours.at[r, ours_col]) if r is not None else np.nan for r, _ in pairs])
        p = np.array([pd.to_numeric(published.at[q, pub_col], errors="coerce")
                      if q is not None else np.nan for _, q in pairs], dtype=float)
        data[f"{ours_col} ours"] = o
        data[f"{ours_col} published"] = p
        data[f"{ours_col} diff"] = o - p
    out = pd.DataFrame(data, index=index)
    out.attrs.update(source=published.attrs.get("source", ""), notes=published.attrs.get("notes", ""))
    return out


# ----------------------------------------------------------------------------------------------
# figures
# ----------------------------------------------------------------------------------------------
def _figure(width: float, height: float):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), dpi=120)
    FigureCanvasAgg(fig)
    return fig


def _save(fig, path: str | os.PathLike) -> None:
    path = Path(path)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format=path.suffix.lstrip(".") or "png", bbox_inches="tight")


def plot_confusion_matrix(cm, class_names: Sequence[str], path: str | os.PathLike, *,
                          normalize: bool = False, title: str | None = None) -> None:
    """Confusion-matrix heat map (rows true, columns predicted) written atomically to ``path``.

    ``normalize=True`` divides each row by its total (recall on the diagonal; a row with no
    samples stays 0) and annotates each cell with the fraction and the count. Cell text switches
    to white on dark cells. Labels are rotated when long.
    """
    names = [str(c) for c in class_names]
    counts = _metrics.validate_confusion_matrix(cm, names)
    n = len(names)
    if normalize:
        totals = counts.sum(axis=1, keepdims=True)
        values = np.divide(counts, totals, out=np.zeros(counts.shape), where=totals != 0)
        vmax = 1.0
    else:
        values = counts.astype(np.float64)
        vmax = max(float(values.max()), 1.0)
    longest = max(len(s) for s in names)
    side = max(3.6, 0.9 * n + 0.07 * longest + 1.6)
    fig = _figure(side + 1.0, side)
    ax = fig.add_subplot(1, 1, 1)
    image = ax.imshow(values, cmap="Blues", vmin=0.0, vmax=vmax, interpolation="nearest")
    cbar = fig.colorbar(image, ax=ax, fraction=0.046, pad=0.04)
    cbar.set_label("fraction of true class" if normalize else "count")
    fontsize = 11 if n <= 4 else (9 if n <= 8 else 7)
    for i in range(n):
        for j in range(n):
            text = f"{values[i, j]:.2f}\n({counts[i, j]})" if normalize else f"{counts[i, j]}"
            colour = "white" if values[i, j] > 0.5 * vmax else "black"
            ax.text(j, i, text, ha="center", va="center", color=colour, fontsize=fontsize)
    ax.set_xticks(range(n))
    ax.set_yticks(range(n))
    rotate = longest > 6 or n > 6
    ax.set_xticklabels(names, rotation=35 if rotate else 0, ha="right" if rotate else "center",
                       rotation_mode="anchor" if rotate else "default")
    ax.set_yticklabels(names)
    ax.set_xlabel("predicted class")
    ax.set_ylabel("true class")
    ax.set_xticks(np.arange(-0.5, n, 1), minor=True)
    ax.set_yticks(np.arange(-0.5, n, 1), minor=True)
    ax.grid(which="minor", color="white", linewidth=1.5)
    ax.tick_params(which="minor", length=0)
    accuracy = np.trace(counts) / counts.sum() if counts.sum() else 0.0
    default = "Confusion matrix" + (" (row-normalised)" if normalize else "")
    ax.set_title(f"{title or default}\naccuracy {accuracy:.3f}, n = {counts.sum()}", fontsize=11)
    fig.tight_layout()
    _save(fig, path)


_TRAIN_ACC = ("accuracy", "acc", "categorical_accuracy")


def _read_log(log) -> pd.DataFrame:
    if isinstance(log, pd.DataFrame):
        df = log.copy()
    else:
        path = Path(log)
        if not path.is_file():
            raise FileNotFoundError(f"training log {path} not found")
        df = pd.read_csv(path)
    if df.empty:
        raise ValueError(f"training log {log if not isinstance(log, pd.DataFrame) else ''} is empty")
    if "loss" not in df.columns:
        raise ValueError(f"training log: expected a 'loss' column, found {list(df.columns)}")
    if "epoch" in df.columns:
        df = df.drop_duplicates("epoch", keep="last").sort_values("epoch")
        df["_x"] = df["epoch"].astype(int) + 1
    else:
        df["_x"] = np.arange(1, len(df) + 1)
    return df


def plot_training_curves(log_csv_or_df, path: str | os.PathLike, *, title: str | None = None) -> None:
    """Loss and accuracy per epoch (train and, where logged, validation) in two panels.

    Reads a Keras ``CSVLogger`` file or DataFrame (columns epoch, loss, accuracy, val_loss,
    val_accuracy, optionally lr; legacy ``acc``/``val_acc`` accepted). Keras logs 0-based epochs;
    the x axis shows them 1-based. Repeated epochs (a resumed run's appended log) keep the last row.
    Learning-rate changes (``lr`` or ``learning_rate`` column) are marked by dotted vertical lines.
    The best validation accuracy is marked.
    """
    df = _read_log(log_csv_or_df)
    x = df["_x"].to_numpy()
    acc = next((c for c in _TRAIN_ACC if c in df.columns), None)
    fig = _figure(10.0, 4.0)
    ax_loss = fig.add_subplot(1, 2, 1)
    ax_acc = fig.add_subplot(1, 2, 2)
    marker = "o" if len(x) <= 30 else None
    ax_loss.plot(x, df["loss"], marker=marker, ms=3, label="train", color="tab:blue")
    if "val_loss" in df.columns and df["val_loss"].notna().any():
        ax_loss.plot(x, df["val_loss"], marker=marker, ms=3, label="validation", color="tab:orange")
    ax_loss.set_title("loss")
    if acc is not None:
        ax_acc.plot(x, df[acc], marker=marker, ms=3, label="train", color="tab:blue")
        val = f"val_{acc}"
        if val in df.columns and df[val].notna().any():
            ax_acc.plot(x, df[val], marker=marker, ms=3, label="validation", color="tab:orange")
            best = int(np.nanargmax(df[val].to_numpy()))
            ax_acc.plot([x[best]], [df[val].iloc[best]], marker="*", ms=12, color="tab:red",
                        linestyle="none", label=f"best val {df[val].iloc[best]:.3f} (epoch {x[best]})")
        ax_acc.set_title("accuracy")
    else:
        ax_acc.text(0.5, 0.5, "no accuracy column in the log", ha="center", va="center",
                    transform=ax_acc.transAxes)
        ax_acc.set_title("accuracy")
    lr_col = next((c for c in ("lr", "learning_rate") if c in df.columns), None)
    if lr_col is not None:
        lr = df[lr_col].to_numpy(dtype=float)
        for k in np.flatnonzero(~np.isclose(lr[1:], lr[:-1], rtol=1e-6)) + 1:
            for ax in (ax_loss, ax_acc):
                ax.axvline(x[k] - 0.5, color="grey", linestyle=":", linewidth=1)
            ax_loss.annotate(f"lr {lr[k]:.0e}", (x[k] - 0.5, 0.03), xycoords=("data", "axes fraction"),
                             xytext=(2, 0), textcoords="offset points", fontsize=7, color="grey",
                             ha="left", va="bottom", rotation=90)
    from matplotlib.ticker import MaxNLocator

    for ax in (ax_loss, ax_acc):
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_xlabel("epoch")
        ax.grid(alpha=0.3)
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=8)
        if len(x) == 1:
            ax.set_xlim(0.5, 1.5)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    _save(fig, path)


# ----------------------------------------------------------------------------------------------
# run report
# ----------------------------------------------------------------------------------------------
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
    def natural(p: Path):
        return [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", p.as_posix())]

    return sorted(run_dir.glob("fold_*/*.png"), key=natural)



# ----------------------------------------------------------------------------------------------
# summary layouts: CoroNet Table V, CVR-Net abstract, CORONA-Net (metric per row)
# ----------------------------------------------------------------------------------------------
#: Keys the presets name that are aliases of a published table (+ the row they pick).
_KEY_ALIASES = (
    (re.compile(r"^cvrnet/abstract_task(\d)$"), "cvrnet/abstract"),
    (re.compile(r"^coronanet/abstract$"), "coronanet/accuracy"),
)
#: Published keys shown in the metric-per-row comparison (:func:`summary_comparison`).
SUMMARY_KEYS = ("coronet/table5", "cvrnet/abstract", "coronanet/table5_ppv",
                "coronanet/table5_ppv_relabelled", "coronanet/confusion", "coronanet/accuracy")
#: A difference is highlighted when |ours - published| exceeds this many points (percent) and the
#: published value lies outside our 95% interval (when we have one).
DIFF_POINTS = 1.0
SUMMARY_COLUMNS = ("ours (pooled)", "CI low", "CI high", "ours (fold mean)", "fold std",
                   "published", "diff", "differs", "source")


def resolve_published_key(key: str | None, config: Mapping | None = None) -> tuple[str | None, dict]:
    """``(key of cxr_core.published, selection)`` for a key named in a config.

    Accepts the aliases the presets use: ``cvrnet/abstract_task<N>`` -> ``cvrnet/abstract`` with
    ``{"task": N}``; ``coronanet/abstract`` -> ``coronanet/accuracy`` (the journal abstract [PG]).
    """
    if key is None:
        return None, {}
    for pattern, target in _KEY_ALIASES:
        match = pattern.match(key)
        if match:
            return target, ({"task": int(match.group(1))} if match.groups() else {})
    return key, {}


def _task_number(config: Mapping, selection: Mapping) -> int | None:
    if selection.get("task") is not None:
        return int(selection["task"])
    extra = config.get("extra") if isinstance(config.get("extra"), Mapping) else {}
    if extra.get("task") is not None:
        return int(re.sub(r"\D", "", str(extra["task"])) or 0) or None
    for text in (config.get("name", ""), (config.get("published") or {}).get("source", "")
                 if isinstance(config.get("published"), Mapping) else ""):
        match = re.search(r"task[\s_-]*(\d)", str(text), re.IGNORECASE)
        if match:
            return int(match.group(1))
    return None


def _table5_row(config: Mapping, n_classes: int) -> str:
    published = config.get("published") if isinstance(config.get("published"), Mapping) else {}
    source = str(published.get("source") or "")
    match = re.search(r"row\s+([\w-]+)", source, re.IGNORECASE)
    if match and match.group(1).lower() in ("4-class", "3-class", "binary"):
        return match.group(1).lower()
    by_count = {4: "4-class", 3: "3-class", 2: "binary"}
    if n_classes not in by_count:
        raise ValueError(f"coronet/table5: no row for {n_classes} classes and no 'row ...' in "
                         f"published.source {source!r}; expected 4, 3 or 2 classes")
    return by_count[n_classes]


def _class_lookup(names: Sequence[str], published_label: str) -> str | None:
    target = _canonical(published_label)
    found = [n for n in names if _canonical(n) == target]
    return found[0] if found else None


def _ours(pooled, folds, metric: str) -> tuple[float, float, float, float, float]:
    """(pooled, low, high, fold mean, fold std) in percent of a metric name of
    :func:`cxr_core.metrics.evaluate_predictions`' interval table (``accuracy``, ``macro_f1``,
    ``precision[<class>]`` ...)."""
    nan = float("nan")
    match = re.match(r"^(precision|recall|specificity|f1)\[(.+)\]$", metric)

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


def _row(quantity: str, ours: tuple, published: float, source: str, basis: str = "pooled") -> dict:
    pooled, low, high, mean, std = ours
    mine = pooled if basis == "pooled" else mean
    diff = mine - published if np.isfinite(published) else float("nan")
    outside = not (np.isfinite(low) and np.isfinite(high)) or not (low <= published <= high)
    differs = bool(np.isfinite(diff) and abs(diff) > DIFF_POINTS and outside)
    return {"quantity": quantity, "ours (pooled)": pooled, "CI low": low, "CI high": high,
            "ours (fold mean)": mean, "fold std": std, "published": float(published),
            "diff": diff, "differs": differs, "source": source}


def _frame(rows: list[dict]) -> pd.DataFrame:
    df = pd.DataFrame(rows).set_index("quantity")
    return df[list(SUMMARY_COLUMNS)]


def _percent(value, units: str) -> float:
    v = float(pd.to_numeric(value, errors="coerce"))
    return 100 * v if units == "fraction" else v


def summary_comparison(key: str, config: Mapping, folds: Sequence, pooled, *,
                       selection: Mapping | None = None) -> tuple[pd.DataFrame, str, list[str]]:
    """Published figures of one experiment beside ours, one metric per row (percent).

    ``key``: one of :data:`SUMMARY_KEYS`. Returns ``(frame, heading, notes)``; the frame has
    columns :data:`SUMMARY_COLUMNS`: ours on all folds' predictions pooled with the percentile
    bootstrap 95% interval, the mean and sample std of the per-fold values, the published value,
    ``diff`` = ours (pooled) - published, and ``differs`` (|diff| > :data:`DIFF_POINTS` and the
    published value outside our interval, or no interval). ``notes`` are the published tables'
    notes plus inconsistencies we compute.

    * ``coronet/table5`` [S4 Table V]: the row named in ``config["published"]["source"]``
      (``row 3-class``) or chosen by class count (4 -> 4-class, 3 -> 3-class, 2 -> binary);
      macro Precision, Recall, Specificity, F-measure and Accuracy.
    * ``cvrnet/abstract`` [S2]: the task row from ``selection["task"]``, ``config["extra"]["task"]``
      or ``task<N>`` in ``config["name"]``; the abstract's F1 beside our macro AND weighted F1
      (its averaging is not stated, PAPERS.md §2.7 item 7), and accuracy.
    * ``coronanet/*`` [VIP], [PG]: per-class PPV (project-page 'TABLE 5', CORONA-Net row),
      per-class sensitivity (diagonal of the project-page confusion matrix) and the journal's
      overall accuracy 95.84%; notes list what the confusion matrix implies with our class counts.
    """
    selection = dict(selection or {})
    names = list(pooled.class_names)
    rows: list[dict] = []
    notes: list[str] = []
    if key == "coronet/table5":
        pub = _published.published_table(key)
        row = _table5_row(config, len(names))
        metrics = (("Precision", "macro_precision"), ("Recall", "macro_recall"),
                   ("Specificity", "macro_specificity"), ("F-measure", "macro_f1"),
                   ("Accuracy", "accuracy"))
        for column, metric in metrics:
            label = column if column == "Accuracy" else f"{column} (macro)"
            rows.append(_row(label, _ours(pooled, folds, metric), _percent(pub.at[row, column], pub.attrs["units"]),
                             f"{pub.attrs['source']}, row {row}"))
        heading = f"{pub.attrs['title']}: row {row}"
        notes.append(f"{pub.attrs['source']}: {pub.attrs['notes']}")
        notes.append("Precision, Recall, Specificity and F-measure: macro averages over classes "
                     "(the paper does not state its averaging [S4]).")
    elif key == "cvrnet/abstract":
        pub = _published.published_table(key)
        task = _task_number(config, selection)
        if task is None or f"task {task}" not in pub.index:
            raise ValueError(
                "cvrnet/abstract: cannot tell the task; expected config['extra']['task'] (1-5), a "
                f"key cvrnet/abstract_task<N>, or 'task<N>' in the name; found name "
                f"{config.get('name')!r}, extra {config.get('extra')!r}")
        row = f"task {task}"
        f1 = _percent(pub.at[row, "F1"], pub.attrs["units"])
        acc = _percent(pub.at[row, "accuracy"], pub.attrs["units"])
        src = f"{pub.attrs['source']}, Task-{task}"
        rows.append(_row("F1 (macro)", _ours(pooled, folds, "macro_f1"), f1, src))
        rows.append(_row("F1 (weighted)", _ours(pooled, folds, "weighted_f1"), f1, src))
        rows.append(_row("Accuracy", _ours(pooled, folds, "accuracy"), acc, src))
        heading = (f"{pub.attrs['title']}: Task-{task} ({pub.at[row, 'classes']} classes, "
                   f"{pub.at[row, 'dataset']})")
        notes.append(f"{pub.attrs['source']}: {pub.attrs['notes']}")
        notes.append("The abstract gives one F1 per task without its averaging: both our macro and "
                     "weighted F1 are compared with it; 'ours (pooled)' = all folds' predictions "
                     "together, 'ours (fold mean)' = mean of the per-fold values (which of the two "
                     "the authors report is not stated).")
    elif key.startswith("coronanet/"):
        ppv_key = key if key.startswith("coronanet/table5_ppv") else "coronanet/table5_ppv"
        ppv = _published.published_table(ppv_key)
        conf = _published.published_table("coronanet/confusion")
        acc = _published.published_table("coronanet/accuracy")
        for label in ppv.columns:
            ours_name = _class_lookup(names, label)
            if ours_name is None:
                notes.append(f"class {label!r} of {ppv.attrs['source']} has no counterpart in our "
                             f"classes {names}")
                continue
            rows.append(_row(f"PPV {label}", _ours(pooled, folds, f"precision[{ours_name}]"),
                             float(ppv.at["CORONA-Net", label]),
                             f"{ppv.attrs['source']}, row CORONA-Net"))
        for label in conf.index:
            ours_name = _class_lookup(names, label)
            if ours_name is None:
                continue
            rows.append(_row(f"Sensitivity {label}", _ours(pooled, folds, f"recall[{ours_name}]"),
                             100 * float(conf.at[label, label]),
                             f"{conf.attrs['source']} (diagonal)"))
        rows.append(_row("Accuracy", _ours(pooled, folds, "accuracy"),
                         float(acc.iloc[0]["Accuracy"]), acc.attrs["source"]))
        heading = "CORONA-Net: per-class PPV and sensitivity, overall accuracy"
        for table in (ppv, conf, acc):
            notes.append(f"{table.attrs['source']} ({table.attrs['key']}): {table.attrs['notes']}")
        notes += _coronanet_consistency(conf, ppv, acc, names, pooled.confusion)
    else:
        raise KeyError(f"summary_comparison: no metric-per-row layout for {key!r}; known: "
                       f"{', '.join(SUMMARY_KEYS)}")
    return _frame(rows), heading, notes


def _coronanet_consistency(conf: pd.DataFrame, ppv: pd.DataFrame, acc: pd.DataFrame,
                           names: Sequence[str], ours_cm: np.ndarray) -> list[str]:
    """What the published row-normalised confusion matrix implies for PPV and accuracy with our
    test set's class counts, against the published PPV row and accuracy (INFERRED)."""
    support = {}
    for label in conf.index:
        ours_name = _class_lookup(names, label)
        if ours_name is None:
            return []
        support[label] = int(ours_cm[list(names).index(ours_name)].sum())
    counts = np.array([support[c] for c in conf.index], dtype=float)
    rates = conf.to_numpy(dtype=float)
    expected = rates * counts[:, None]
    implied_acc = 100 * np.trace(expected) / counts.sum() if counts.sum() else float("nan")
    col = expected.sum(axis=0)
    implied_ppv = np.divide(100 * np.diag(expected), col, out=np.full(len(col), np.nan),
                            where=col > 0)
    shown = ", ".join(f"{c} {support[c]}" for c in conf.index)
    ppv_text = "; ".join(
        f"{c} {v:.1f} (published {float(ppv.at['CORONA-Net', c]):.1f})"
        for c, v in zip(conf.index, implied_ppv) if c in ppv.columns)
    return [f"INFERRED check: the published confusion matrix applied to our test set's class counts "
            f"({shown}) implies accuracy {implied_acc:.2f}% (journal abstract: "
            f"{float(acc.iloc[0]['Accuracy']):.2f}%) and PPV {ppv_text}. Where these disagree the "
            "published figures cannot all come from one run on a set of this composition."]


def _summary_markdown(df: pd.DataFrame) -> str:
    """Markdown of a :func:`summary_comparison` frame; differing rows' diff in bold, marked ``**yes**``."""
    shown = df.drop(columns=["source"]).copy().astype(object)
    for label in shown.index:
        for col in shown.columns:
            value = shown.at[label, col]
            if col == "differs":
                shown.at[label, col] = "**yes**" if value else "no"
            else:
                text = _format_cell(value, ".2f")
                if col == "diff" and df.at[label, "differs"] and text:
                    text = f"**{float(value):+.2f}**"
                elif col == "diff" and text:
                    text = f"{float(value):+.2f}"
                shown.at[label, col] = text
    shown.index.name = "percent"
    shown["source"] = df["source"]
    return to_markdown(shown, right=[c for c in shown.columns if c not in ("differs", "source")])


def write_run_report(run_dir: str | os.PathLike, config: Mapping,
                     per_fold: Sequence[_metrics.EvaluationResult],
                     published: str | Mapping | None = None, *, average: str = "macro",
                     n_boot: int = 1000, seed: int = 0) -> Path:
    """Write ``report.md``, ``results.csv`` / ``results.md`` and pooled figures into ``run_dir``.

    ``published``: a key of :mod:`cxr_core.published` (e.g. ``"coronet/table3"``), the config's
    ``published`` mapping (``{"table": ...}``), or None to use ``config["published"]``.
    The report holds: experiment name and preset, the deviations listed in
    ``config["deviations"]``, the per-fold table (CoroNet Table III layout, ``average`` over classes,
    macro by default) beside the published fold table, the class-wise table (Table IV layout) beside
    the published class-wise table (the fold table's ``companion``), pooled metrics of all folds'
    predictions with percentile bootstrap 95% CIs (``n_boot``, ``seed``), and links to the pooled
    confusion-matrix PNGs written here plus every ``fold_*/*.png`` found. ``results.csv`` = the
    per-fold table with mean and std rows (percent). Returns the path of ``report.md``.

    Summary references (:data:`SUMMARY_KEYS`: CoroNet Table V, the CVR-Net abstract's task row,
    CORONA-Net's per-class PPV / sensitivity / accuracy; aliases in :func:`resolve_published_key`)
    get a metric-per-row comparison first (:func:`summary_comparison`), also written to
    ``published_comparison.csv`` / ``.md``, with differences in bold.
    """
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    config = dict(config or {})
    folds = list(per_fold)
    if not folds:
        raise ValueError(f"write_run_report({run_dir}): per_fold is empty")
    names = list(folds[0].class_names) or [
        i for i in folds[0].per_class.index if i not in _metrics.AVERAGES]

    key, selection = resolve_published_key(_published_key(published, config), config)
    pub = _published.published_table(key) if key else None
    pub_folds = pub_class = pub_other = None
    summary_key = key if key in SUMMARY_KEYS else None
    if pub is not None and summary_key is None:
        if pub.attrs["layout"] == "folds":
            pub_folds = pub
            if pub.attrs.get("companion"):
                pub_class = _published.published_table(pub.attrs["companion"])
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
    images += [p.relative_to(run_dir) for p in _fold_dirs_images(run_dir)]

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
    md.append("\n".join(facts) + "\n\n")
    if config.get("description"):
        md.append(f"{config['description']}\n\n")
    for warning in config.get("warnings") or ():
        md.append(f"> **Warning:** {warning}\n\n")
    md.append(_md_section("Preset notes: choices and deviations from the paper, with sources", _deviations(config)))

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
        body += _summary_markdown(cmp) + "\n"
        cfg_source = (config.get("published") or {}).get("source") if isinstance(
            config.get("published"), Mapping) else None
        if cfg_source:
            body += f"Config's reference: {cfg_source}\n\n"
        body += "".join(f"- {n}\n" for n in notes)
        md.append(_md_section(f"Published reference ({key}): {heading}", body))

    body = (f"Percent; Precision, Recall, Specificity and F-measure are {average} averages over "
            "classes within each fold (the paper does not state its averaging). `mean` = mean of "
            "the folds, `std` = sample standard deviation.\n\n")
    if pub_folds is not None:
        body += to_markdown(comparison_table(table, pub_folds)) + "\n" + _source_line(pub_folds)
    else:
        body += to_markdown(table)
    md.append(_md_section("Per-fold results (CoroNet Table III layout)", body))

    body = "Percent; per class one-vs-rest, mean over folds.\n\n"
    if pub_class is not None:
        body += to_markdown(comparison_table(classwise, pub_class)) + "\n" + _source_line(pub_class)
    else:
        body += to_markdown(classwise)
    md.append(_md_section("Class-wise results (CoroNet Table IV layout)", body))

    if pub_other is not None:
        md.append(_md_section(f"Published reference ({key})",
                              to_markdown(pub_other) + "\n" + _source_line(pub_other)))

    ci = pooled.ci
    if len(ci):
        boot = (f"Percentile bootstrap over samples, {ci.attrs.get('n_boot')} resamples, seed "
                f"{ci.attrs.get('seed')}, {100 * (1 - ci.attrs.get('alpha', 0.05)):.0f}% intervals."
                if ci.attrs.get("n_boot") else "No bootstrap (n_boot = 0).")
        body = f"All folds' predictions together. {boot}\n\n" + to_markdown(ci, floatfmt=".4f")
    else:
        body = ("Folds carry no predictions: metrics of the summed confusion matrix, no intervals."
                "\n\n")
    body += "\n" + to_markdown(_metrics.pooled_fold_table(folds, average))
    body += "\n" + to_markdown(pooled.per_class, floatfmt=".4f")
    md.append(_md_section("Pooled metrics", body))

    md.append(_md_section("Figures",
                          "".join(f"- [{p.as_posix()}]({p.as_posix()})\n" for p in images)))
    report = run_dir / "report.md"
    atomic_write_text(report, "".join(md))
    return report
