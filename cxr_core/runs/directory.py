"""Run directories: provenance, the resolved config, resume bookkeeping, and merging runs.

A run directory (docs/DESIGN.md §4) holds::

    config.yaml          resolved config, package version, git commit, data manifest hash, and a
                         ``provenance`` section (versions, CUDA/cuDNN, devices: :mod:`cxr_core.runs.provenance`)
    samples.csv          the sample table used (after label mapping and undersampling)
    skipped.csv          files left out and why (only when some were)
    data_hazards.md      cheap data checks of the run's splits (cxr_core.data.audit.hazards), in report.md
    splits/fold_k.csv    which sample went where (:mod:`cxr_core.protocol.split_files`)
    fold_k/              one fold's outputs (:mod:`cxr_core.protocol.run`, :mod:`cxr_core.report.predictions`)
    results.csv, report.md and the pooled confusion matrices (:func:`summarize_runs`)

A run started again into the same directory must have the same experiment config and data
(:func:`write_run_config` refuses otherwise). Runs of the same experiment and data made on several
machines (``--folds``) merge with :func:`summarize_runs` (``covid-cxr report``).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Sequence

import pandas as pd
import yaml

from cxr_core.version import __version__
from cxr_core.config.experiment import ExperimentConfig, config_to_dict
from cxr_core.config.notes import dotted_leaves
from cxr_core.protocol.experiment_data import manifest_hash
from cxr_core.runs.provenance import git_commit
from cxr_core.atomic_files import atomic_path, atomic_write_text
from cxr_core.errors import CxrError

log = logging.getLogger(__name__)


class RunDirectoryError(CxrError):
    """A run directory holds results of a different experiment or data, or is not a run directory."""


#: ``train`` keys that only say where logs go (TensorBoard, MLflow) or how the run executes without
#: changing its results (model reuse across folds): a run may resume or merge with others.
LOGGING_ONLY_KEYS = ("tensorboard", "mlflow_uri", "reuse_model_across_folds")


def experiment_part(config: dict | None) -> dict:
    """A resolved config without its data section and the logging-only ``train`` keys
    (:data:`LOGGING_ONLY_KEYS`): what must agree for runs to resume or merge."""
    out = {k: v for k, v in (config or {}).items() if k != "data"}
    if isinstance(out.get("train"), dict):
        out["train"] = {k: v for k, v in out["train"].items() if k not in LOGGING_ONLY_KEYS}
    return out


def write_run_config(run_dir: Path, cfg: ExperimentConfig, table, smoke: bool) -> None:
    """config.yaml: resolved config plus provenance; a resumed run must match it.

    Raises:
        RunDirectoryError: ``run_dir`` was made from other data (manifest hash) or with another
            experiment config (any section but ``data``).
    """
    resolved = config_to_dict(cfg)
    digest = manifest_hash(table)
    record = {
        "config": resolved,
        "package_version": __version__,
        "git_commit": git_commit(),
        "data_manifest_sha256": digest,
        "n_samples": len(table),
        "class_names": list(table.class_names),
        "smoke": smoke,
    }
    path = Path(run_dir) / "config.yaml"
    if not path.is_file():
        from cxr_core.runs.provenance import environment

        record["provenance"] = environment()  # the process that created the run (each fold: fold_k/provenance.json)
    if path.is_file():
        old = yaml.safe_load(path.read_text()) or {}
        if old.get("data_manifest_sha256") != digest:
            raise RunDirectoryError(
                f"{path}: this run directory was made from other data (manifest hash {old.get('data_manifest_sha256')}, "
                f"now {digest}); use a new --run-dir"
            )
        check_resume_config(run_dir, cfg)
        log.debug("%s: same config and data, resuming", path)
        return
    atomic_write_text(path, yaml.safe_dump(record, sort_keys=False))


def config_differences(old: dict | None, new: dict | None, limit: int = 6) -> list[str]:
    """``["train.epochs: 80 -> 3", ...]``: the experiment values (not ``data``) that differ, dotted keys."""
    from cxr_core.config.retired import without_retired_keys

    def flat(config):
        part = experiment_part(without_retired_keys(config))
        return dotted_leaves(part) if part else {"": part}  # no experiment part at all: one row says so

    a, b = flat(old), flat(new)
    changed = [f"{k}: {a.get(k, '(absent)')!r} -> {b.get(k, '(absent)')!r}" for k in sorted(set(a) | set(b))
               if a.get(k) != b.get(k)]
    return changed[:limit] + ([f"... and {len(changed) - limit} more"] if len(changed) > limit else [])


def check_resume_config(run_dir: Path, cfg: ExperimentConfig) -> None:
    """Before any work (and any ImageNet download): refuse to resume ``run_dir`` with another experiment
    config, naming each differing key with the run's value and the new one.

    Raises:
        RunDirectoryError: ``run_dir/config.yaml`` exists and its experiment part differs.
    """
    path = Path(run_dir) / "config.yaml"
    if not path.is_file():
        return
    old = (yaml.safe_load(path.read_text()) or {}).get("config")
    changed = config_differences(old, config_to_dict(cfg))
    if changed:
        raise RunDirectoryError(
            f"{path}: this run directory was made with another config ({'; '.join(changed)}, run's value -> "
            "this command's); give the run's own values (or a --set for each) to resume, or a new --run-dir")


def write_samples(run_dir: Path, table) -> None:
    """samples.csv (and skipped.csv when files were left out)."""
    run_dir = Path(run_dir)
    with atomic_path(run_dir / "samples.csv") as tmp:
        table.frame.drop(columns=["path"]).to_csv(tmp, index=False)
    if len(table.skipped):
        with atomic_path(run_dir / "skipped.csv") as tmp:
            table.skipped.to_csv(tmp, index=False)


def fold_dir(run_dir: Path, fold: int) -> Path:
    """``run_dir/fold_k``: one fold's checkpoints, logs, predictions and figures."""
    return Path(run_dir) / f"fold_{fold}"


def predictions_path(run_dir: Path, fold: int) -> Path:
    """``fold_k/predictions.csv``; its presence marks a finished fold, never trained again."""
    return fold_dir(run_dir, fold) / "predictions.csv"


# ----------------------------------------------------------------------------------- merging runs
def collect_folds(run_dirs: Sequence[str | Path]) -> tuple[dict, dict[int, Path]]:
    """The shared config record and each finished fold's predictions.csv across run directories.

    Runs made with ``--folds`` on different machines merge when they share config and data (their
    config.yaml must agree); a fold present in two directories must be the same file content.

    Raises:
        RunDirectoryError: a directory without config.yaml, differing configs or data, or one fold
            with two different prediction files.
    """
    record = None
    found: dict[int, Path] = {}
    for rd in map(Path, run_dirs):
        cfg_path = rd / "config.yaml"
        if not cfg_path.is_file():
            raise RunDirectoryError(f"{rd}: not a run directory (no config.yaml)")
        this = yaml.safe_load(cfg_path.read_text()) or {}
        if record is None:
            record = this
        else:
            for key in ("data_manifest_sha256", "class_names"):
                if this.get(key) != record.get(key):
                    raise RunDirectoryError(f"{cfg_path}: cannot merge, {key} differs from the first run directory's "
                                            f"({record.get(key)!r} -> {this.get(key)!r}): the runs read other data")
            changed = config_differences(record.get("config"), this.get("config"))
            if changed:
                raise RunDirectoryError(f"{cfg_path}: cannot merge, its experiment config differs from the first run "
                                        f"directory's ({'; '.join(changed)}, first -> this)")
        for pred in sorted(rd.glob("fold_*/predictions.csv")):
            k = int(pred.parent.name.split("_")[1])
            if k in found and found[k].read_bytes() != pred.read_bytes():
                raise RunDirectoryError(f"fold {k} appears in {found[k]} and {pred} with different predictions")
            found.setdefault(k, pred)
    if record is None:
        raise RunDirectoryError("no run directory given")
    return record, dict(sorted(found.items()))


def _report_warnings(record: dict, run_dirs: Sequence[str | Path], folds: dict[int, Path]) -> list[str]:
    """Smoke run, files left out, folds missing: said at the top of the report."""
    cfg = record.get("config") or {}
    warnings: list[str] = []
    if record.get("smoke"):
        warnings.append(
            "SMOKE RUN: reduced input size where the model allows it and a few training steps from the config's "
            "initial weights. These figures check that the pipeline runs end to end; they say nothing about the "
            "model or the paper."
        )
    skipped = [(Path(rd) / "skipped.csv") for rd in run_dirs if (Path(rd) / "skipped.csv").is_file()]
    if skipped:
        n = len(pd.read_csv(skipped[0]))
        warnings.append(
            f"{n} file(s) were left out of this run (data.on_bad_file: skip or label mapping); each is listed "
            f"with the reason in {skipped[0].name}"
        )
    protocol = cfg.get("protocol") or {}
    n_expected = int(protocol.get("n_folds", 1)) if protocol.get("kind") == "kfold" else 1
    missing = [k for k in range(n_expected) if k not in folds]  # numbered from 0, as the fold_k folders
    if missing:
        warnings.append(
            f"INCOMPLETE: folds {missing} of {n_expected} have not been run (or their run directory was not "
            "given); the mean and pooled figures cover only the folds listed"
        )
    return warnings


def summarize_runs(run_dirs: Sequence[str | Path], out_dir: str | Path | None = None) -> Path:
    """Merge the folds of one or more run directories into results.csv + report.md (+ PNGs).

    Returns the report's path. The output goes to ``out_dir`` (default: the first run directory).
    Each fold is evaluated from its predictions.csv with the run's ``evaluation`` settings
    (bootstrap resamples and seed).
    """
    from cxr_core.evaluation.metrics import evaluate_predictions
    from cxr_core.report.predictions import read_predictions
    from cxr_core.report.markdown import write_run_report
    from cxr_core.training.precision import precision_notes
    from cxr_core.runs.inputs import init_notes

    record, folds = collect_folds(run_dirs)
    out = Path(out_dir) if out_dir else Path(run_dirs[0])
    class_names = tuple(record["class_names"])
    cfg = dict(record.get("config") or {})
    evaluation = cfg.get("evaluation") or {}
    n_boot, seed = int(evaluation.get("n_bootstrap", 1000)), int(evaluation.get("seed", 0))
    per_fold = []
    for k, path in folds.items():
        y, p = read_predictions(path, class_names)
        result = evaluate_predictions(y, p, class_names, n_boot=n_boot, seed=seed)
        result.fold = k
        per_fold.append(result)
    warnings = _report_warnings(record, run_dirs, folds)
    if warnings:
        cfg["warnings"] = warnings
    hazards = [Path(rd) / "data_hazards.md" for rd in run_dirs if (Path(rd) / "data_hazards.md").is_file()]
    if hazards:  # the cheap data checks of the run's own splits (cxr_core.data.audit.hazards)
        cfg["data_hazards"] = hazards[0].read_text(encoding="utf-8")
    run_notes = [note for rd in run_dirs for note in (*init_notes(rd), *precision_notes(rd))]
    from cxr_core.runs.provenance import report_lines, write_provenance

    merged = len(run_dirs) > 1 or out.resolve() != Path(run_dirs[0]).resolve()
    run_notes += [f"provenance: {line}" for line in report_lines(run_dirs, merged)]
    if merged:  # a merged report names the run directories it merged
        out.mkdir(parents=True, exist_ok=True)
        write_provenance(out, run_dirs=[str(Path(rd).resolve()) for rd in run_dirs])
    if run_notes:
        cfg["run_notes"] = run_notes  # what actually ran (e.g. mixed_float16_on_gpu resolved), listed in the report
    not_comparable = _not_comparable(record, run_dirs)
    if not_comparable:
        cfg["reference_only"] = not_comparable
    published = (cfg.get("published") or {}).get("table")
    return Path(write_run_report(out, cfg, per_fold, published, n_boot=n_boot, seed=seed))


def _not_comparable(record: dict, run_dirs: Sequence[str | Path]) -> str | None:
    """Why the run's numbers must not stand beside the published ones: ``"a SMOKE run on DATA"`` or ``"a
    run on SYNTHETIC images (DATA)"``; None for a real run."""
    from cxr_core.data.synthetic import SYNTHETIC_SOURCE

    data = ((record.get("config") or {}).get("data") or {}).get("source") or "its data"
    sources: set[str] = set()
    for rd in run_dirs:
        samples = Path(rd) / "samples.csv"
        if samples.is_file():
            frame = pd.read_csv(samples, dtype=str, keep_default_na=False)
            if "source" in frame.columns:
                sources |= set(frame["source"])
    synthetic = bool(sources) and sources <= {SYNTHETIC_SOURCE}
    if record.get("smoke"):
        return f"a SMOKE run ({'SYNTHETIC images, ' if synthetic else ''}{data})"
    if synthetic:
        return f"a run on SYNTHETIC images ({data})"
    return None
