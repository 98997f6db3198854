"""The study report ``OUT/study.md`` (+ ``study.html``, CSVs, one PNG per experiment): did it replicate?

Per experiment: each compared metric (:mod:`cxr_core.study.collect`) with the mean over seeds, the
standard deviation, the 95% t interval over seeds, the per-seed values, the verdict against the
published value and the difference in standard deviations, the seed-to-seed and fold-to-fold parts of
the variance (:mod:`cxr_core.study.stats`); a figure; the data hazards of the runs and the shortcut
probes (:mod:`cxr_core.evaluation.probes`) beside the verdict. Files:

    study.md / study.html        the report
    study_results.csv            one row per experiment and metric (mean, sd, low, high, verdict, ...)
    study_values.csv             one row per experiment, seed, fold and metric
    study_probes.csv             each fold's probe scores
    study_<experiment>.png       seed values (dots), our interval (bar), published value (red line)
"""

from __future__ import annotations

import logging
import re
from pathlib import Path
from typing import Sequence

import numpy as np
import pandas as pd

from cxr_core.study.collect import find_run_dirs, group_runs, study_values
from cxr_core.study.stats import CONFIDENCE, seed_summary
from cxr_core.errors import CxrError

log = logging.getLogger(__name__)

RESULT_COLUMNS = ("experiment", "metric", "published", "mean", "sd", "low", "high", "verdict", "diff", "diff_sd",
                  "seed_values", "n_seeds", "n_folds", "var_seed", "var_fold", "source")
MAX_FIGURE_METRICS = 24

VERDICT_TEXT = (
    "Percent. Each seed repeats the whole protocol (split seed and training seed = the study seed{vary}); a "
    "seed's value is the mean of its folds. mean, sd (sample standard deviation) and the {conf:.0f}% interval "
    "are over seeds: Student's t interval mean +- t(0.975, n-1) sd / sqrt(n), not a bootstrap. Verdict: where the "
    "published value lies against our interval (**within**; **above**: the paper scored higher than our "
    "interval; **below**: lower); diff = mean - published, also in standard deviations (diff/sd). var seed / "
    "var fold: seed-to-seed and fold-to-fold variance (percent^2; nested ANOVA, method of moments). A verdict "
    "says whether the number came back on these data with this code, not whether the model detects disease: "
    "read it with the data hazards and the shortcut probes below.\n\n")


def summarize(values: pd.DataFrame) -> pd.DataFrame:
    """One row per experiment and metric (:data:`RESULT_COLUMNS`) from :func:`study_values`' frame."""
    rows = []
    for (name, metric), part in values.groupby(["experiment", "metric"], sort=False):
        matrix = part.pivot_table(index="seed", columns="fold", values="ours", aggfunc="mean").to_numpy(float)
        published = float(part["published"].dropna().iloc[0]) if part["published"].notna().any() else float("nan")
        s = seed_summary(matrix, published, CONFIDENCE)
        rows.append({"experiment": name, "metric": metric, **{k: s[k] for k in RESULT_COLUMNS if k in s},
                     "seed_values": " ".join(f"{v:.2f}" for v in s["seed_values"]),
                     "source": str(part["source"].iloc[0] or "")})
    return pd.DataFrame(rows, columns=list(RESULT_COLUMNS))


def plot_experiment(name: str, results: pd.DataFrame, path: Path) -> Path:
    """One row per metric: seed values as dots, our interval as a bar, the published value as a red line."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from cxr_core.atomic_files import atomic_path

    shown = results.head(MAX_FIGURE_METRICS)
    fig, ax = plt.subplots(figsize=(7, 1.0 + 0.45 * len(shown)))
    for i, row in enumerate(shown.itertuples()):
        y = len(shown) - 1 - i
        seeds = [float(v) for v in str(row.seed_values).split()]
        if np.isfinite(row.low):
            ax.plot([row.low, row.high], [y, y], color="tab:blue", lw=6, alpha=0.35, solid_capstyle="butt",
                    label="our 95% t interval" if i == 0 else None)
        ax.plot(seeds, [y] * len(seeds), "o", color="tab:blue", ms=5, label="seeds" if i == 0 else None)
        if np.isfinite(row.published):
            ax.plot([row.published] * 2, [y - 0.35, y + 0.35], color="tab:red", lw=2,
                    label="published" if i == 0 else None)
    ax.set_yticks(range(len(shown)))
    ax.set_yticklabels(list(shown["metric"])[::-1], fontsize=8)
    finite = [v for v in (*shown["low"], *shown["high"], *shown["published"]) if np.isfinite(v)]
    ax.set_xlim(max(-2.0, min(finite + [0.0]) - 2), min(102.0, max(finite + [100.0]) + 2))  # intervals may pass 0 / 100
    ax.set_xlabel("percent")
    ax.set_title(f"{name}: {int(shown['n_seeds'].max()) if len(shown) else 0} seeds", fontsize=10)
    ax.grid(axis="x", alpha=0.3)
    handles, labels = ax.get_legend_handles_labels()
    if handles:
        ax.legend(fontsize=7, loc="lower left")
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=110, format="png")
    plt.close(fig)
    return path


def collect_probes(seeds: dict[int, list[Path]], compute: bool) -> pd.DataFrame:
    """Each finished fold's ``probes.csv`` (run with :func:`cxr_core.evaluation.probes.run_probes` first
    when missing and ``compute``), with ``seed`` and ``fold`` columns."""
    from cxr_core.evaluation.probes import run_probes

    frames = []
    for seed, dirs in seeds.items():
        for run_dir in dirs:
            for pred in sorted(run_dir.glob("fold_*/predictions.csv")):
                fold = int(pred.parent.name.split("_", 1)[1])
                path = pred.parent / "probes.csv"
                if not path.is_file() and compute:
                    log.info("probes of %s fold %d", run_dir, fold)
                    run_probes(run_dir, fold)
                if path.is_file():
                    frames.append(pd.read_csv(path).assign(seed=seed, fold=fold))
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def _probe_section(probes: pd.DataFrame) -> str:
    from cxr_core.evaluation.probes import PROBE_TEXT, CENTRE_FRACTION, CITATIONS
    from cxr_core.report.tables import to_markdown

    if probes.empty:
        return "No probes (run without them: `covid-cxr study ... --no-probes`, or no finished fold).\n\n"
    table = (probes.groupby(["probe", "variant"], sort=False)
             .agg(runs=("accuracy", "size"), accuracy_mean=("accuracy", "mean"), accuracy_min=("accuracy", "min"),
                  accuracy_max=("accuracy", "max"), macro_f1_mean=("macro_f1", "mean"), chance=("chance", "mean"))
             .reset_index().set_index("probe"))
    return (PROBE_TEXT.format(cite=CITATIONS, fraction=CENTRE_FRACTION) + "Over every seed and fold:\n\n"
            + to_markdown(table, floatfmt=".3f") + "\n")


def _slug(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", name)


def _seed_note(seeds: dict[int, list[Path]]) -> str:
    from cxr_core.inference.run_model import read_run_record

    pairs = set()
    for dirs in seeds.values():
        for d in dirs:
            cfg = read_run_record(d).get("config") or {}
            pairs.add(((cfg.get("protocol") or {}).get("seed"), (cfg.get("train") or {}).get("seed")))
    if all(p == t for p, t in pairs):
        return ""
    return "; here the split and training seeds differ in some runs: " + ", ".join(
        f"protocol.seed {p} / train.seed {t}" for p, t in sorted(pairs, key=str))


def write_study_report(out: str | Path, run_dirs: Sequence[Path] | None = None, *, probes: bool = True) -> Path:
    """Write ``out/study.md`` (+ html, CSVs, PNGs) from the run directories under ``out`` (or
    ``run_dirs``); ``probes``: run the shortcut probes of folds that have none. Returns study.md's path.

    Raises:
        CxrError: no finished run under ``out``.
    """
    from cxr_core.atomic_files import atomic_path, atomic_write_text
    from cxr_core.report.html import write_html
    from cxr_core.report.tables import to_markdown

    out = Path(out)
    dirs = list(run_dirs) if run_dirs is not None else find_run_dirs(out)
    if not dirs:
        raise CxrError(f"{out}: no run directory with a finished fold (config.yaml and fold_*/predictions.csv)")
    groups = group_runs(dirs)
    values = study_values(groups)
    results = summarize(values)
    out.mkdir(parents=True, exist_ok=True)
    for frame, stem in ((values, "study_values"), (results, "study_results")):
        with atomic_path(out / f"{stem}.csv") as tmp:
            frame.to_csv(tmp, index=False)
    md = ["# Replication study\n\n",
          f"{len(groups)} experiment(s); {len(dirs)} run director{'y' if len(dirs) == 1 else 'ies'}. "
          "Tables: study_results.csv (verdicts), study_values.csv (every fold), study_probes.csv.\n\n"]
    all_probes = []
    for name, seeds in groups.items():
        part = results[results["experiment"] == name].drop(columns=["experiment"])
        figure = plot_experiment(name, part, out / f"study_{_slug(name)}.png")
        shown = part.drop(columns=["source", "n_seeds", "n_folds"]).set_index("metric")
        first = seeds[min(seeds)][0]
        md.append(f"## {name}\n\n")
        md.append(f"- seeds: {', '.join(map(str, seeds))}; folds per seed: {int(part['n_folds'].max())}; "
                  f"run directories: {', '.join(str(d.relative_to(out) if d.is_relative_to(out) else d) for ds in seeds.values() for d in ds)}\n")
        sources = sorted(set(part["source"]) - {""})
        md.append(f"- published: {'; '.join(sources) if sources else 'no comparable published table'}\n\n")
        md.append("### Verdict\n\n" + VERDICT_TEXT.format(conf=100 * CONFIDENCE, vary=_seed_note(seeds)))
        md.append(to_markdown(shown, floatfmt=".2f") + "\n")
        md.append(f"![{name}]({figure.name})\n\n")
        hazards = first / "data_hazards.md"
        md.append("### Data hazards (the same data in every seed)\n\n")
        md.append((hazards.read_text(encoding="utf-8").replace("## Data hazards\n", "", 1).replace("## ", "#### ")
                   if hazards.is_file()
                   else "No data_hazards.md in the run directory.\n") + "\n")
        probes_frame = collect_probes(seeds, probes)
        if not probes_frame.empty:
            all_probes.append(probes_frame.assign(experiment=name))
        md.append("### Shortcut probes\n\n" + _probe_section(probes_frame) + "\n")
    if all_probes:
        with atomic_path(out / "study_probes.csv") as tmp:
            pd.concat(all_probes, ignore_index=True).to_csv(tmp, index=False)
    report = out / "study.md"
    atomic_write_text(report, "".join(md))
    write_html(report)
    return report
