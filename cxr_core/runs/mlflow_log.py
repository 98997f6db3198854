"""Optional MLflow logging of a finished run directory (``--mlflow URI``, ``train.mlflow_uri``).

:func:`log_run` creates one MLflow run (experiment = the config's ``name``, run name = the run
directory's name) holding:

- params: the run's resolved config (``config.yaml``), flattened to dotted keys
  (``train.optimizer.learning_rate``); values longer than MLflow's limit are cut and end in ``...``;
- tags: package version, git commit, data manifest hash, smoke flag, the run directory;
- metrics per epoch: every ``training_log.csv`` of the run (``fold_k/`` and, for families with
  phases, ``fold_k/<phase>/``), as ``<fold>[/<phase>]/<column>`` with step = the 0-based epoch;
  and the pooled test metrics (``results_pooled_ci.csv``) as ``pooled/<metric>``, per-fold ones
  (``results.csv``) as ``fold_k/test_<column>``;
- artefacts: report.md, report.html, the result tables (CSV/Markdown), config.yaml and every PNG of
  the run and its folds (checkpoints and TensorBoard files are not copied).

It reads only files, after training (so a resumed run's history is logged once, whole). Each call
creates a new MLflow run. Tracking URIs: a database (``sqlite:///mlflow.db``) or a server; MLflow 3
accepts a ``file://`` store only with the environment variable ``MLFLOW_ALLOW_FILE_STORE=true``
(MLflow 2 always). MLflow is an optional dependency (``pip install 'covid-cxr-tf[mlflow]'``),
imported only here, when asked for.
"""

from __future__ import annotations

import logging
import re
import time
from pathlib import Path
from typing import Any, Mapping

import pandas as pd
import yaml
from cxr_core.config.notes import dotted_leaves
from cxr_core.errors import CxrError

log = logging.getLogger(__name__)

PARAM_VALUE_LIMIT = 6000
"""MLflow's maximum length of a param value (MLflow 2.x); longer values are cut."""
_BATCH = 100  # params / metrics per log_batch request


def require_mlflow():
    """The ``mlflow`` module, or ImportError saying how to install it."""
    try:
        import mlflow
    except ImportError as exc:
        raise ImportError("MLflow logging (--mlflow / train.mlflow_uri) needs the mlflow package: "
                          "pip install 'covid-cxr-tf[mlflow]' (or pip install 'mlflow>=2.10')") from exc
    return mlflow


def flatten(tree: Mapping, prefix: str = "") -> dict[str, str]:
    """``{"a": {"b": 1}, "c": [1, 2]}`` -> ``{"a.b": "1", "c": "[1, 2]"}``: every leaf as text."""
    out: dict[str, str] = {}
    for dotted, value in dotted_leaves(tree).items():
        text = str(value)
        out[prefix + dotted] = text if len(text) <= PARAM_VALUE_LIMIT else text[:PARAM_VALUE_LIMIT - 3] + "..."
    return out


def metric_name(text: str) -> str:
    """A metric name MLflow accepts (letters, digits, ``_ - . / space``): other characters -> ``_``."""
    return re.sub(r"[^0-9A-Za-z_\-./ ]", "_", text).strip("_") or "metric"


def _epoch_metrics(run_dir: Path) -> list[tuple[str, float, int]]:
    rows = []
    for csv in sorted(run_dir.glob("fold_*/training_log.csv")) + sorted(run_dir.glob("fold_*/*/training_log.csv")):
        prefix = csv.parent.relative_to(run_dir).as_posix()
        frame = pd.read_csv(csv)
        if "epoch" in frame.columns:
            frame = frame.drop_duplicates("epoch", keep="last")
        for i, row in frame.iterrows():
            step = int(row["epoch"]) if "epoch" in frame.columns else int(i)
            for column, value in row.items():
                if column != "epoch" and pd.notna(value):
                    rows.append((metric_name(f"{prefix}/{column}"), float(value), step))
    return rows


def _result_metrics(run_dir: Path) -> list[tuple[str, float, int]]:
    rows = []
    pooled = run_dir / "results_pooled_ci.csv"
    if pooled.is_file():
        frame = pd.read_csv(pooled, index_col=0)
        if "value" in frame.columns:
            rows += [(metric_name(f"pooled/{name}"), float(v), 0) for name, v in frame["value"].items() if pd.notna(v)]
    results = run_dir / "results.csv"
    if results.is_file():
        frame = pd.read_csv(results, index_col=0)
        for label, row in frame.iterrows():
            where = str(label).replace(" ", "_")
            rows += [(metric_name(f"{where}/test_{column}"), float(v), 0) for column, v in row.items() if pd.notna(v)]
    return rows


def artefacts(run_dir: Path) -> list[Path]:
    """The files :func:`log_run` copies: report, tables, config and figures (no checkpoints)."""
    names = ["report.md", "report.html", "config.yaml"]
    found = [run_dir / n for n in names if (run_dir / n).is_file()]
    found += sorted(p for p in run_dir.glob("*.csv") if p.is_file())
    found += sorted(p for p in run_dir.glob("*.md") if p.name != "report.md")
    found += sorted(run_dir.glob("*.png"))
    found += sorted(run_dir.glob("fold_*/*.png")) + sorted(run_dir.glob("fold_*/*/*.png"))
    found += sorted(run_dir.glob("fold_*/metrics.*"))
    return [p for p in found if "tensorboard" not in p.parts and "checkpoints" not in p.parts]


def log_run(run_dir: str | Path, tracking_uri: str, *, experiment: str | None = None) -> str:
    """Log ``run_dir`` (a finished or partly finished run directory) to MLflow at ``tracking_uri``
    (e.g. ``file:///path/mlruns``, ``http://host:5000``); returns the MLflow run id.

    Raises:
        ImportError: mlflow is not installed (says how to install it).
        FileNotFoundError: ``run_dir`` has no config.yaml.
    """
    mlflow = require_mlflow()
    from mlflow.entities import Metric, Param, RunTag
    from mlflow.tracking import MlflowClient

    run_dir = Path(run_dir)
    config_path = run_dir / "config.yaml"
    if not config_path.is_file():
        raise FileNotFoundError(f"{run_dir}: not a run directory (no config.yaml) to log to MLflow")
    record = yaml.safe_load(config_path.read_text(encoding="utf-8")) or {}
    config = record.get("config") or {}
    name = experiment or str(config.get("name") or "covid-cxr")
    try:
        client = MlflowClient(tracking_uri=tracking_uri)
        found = client.get_experiment_by_name(name)
        experiment_id = found.experiment_id if found is not None else client.create_experiment(name)
    except mlflow.exceptions.MlflowException as exc:
        # e.g. MLflow 3 refuses file:// stores unless MLFLOW_ALLOW_FILE_STORE=true; sqlite:///mlflow.db works
        raise CxrError(f"--mlflow {tracking_uri}: MLflow refused the tracking URI ({exc.message}). The run itself "
                         f"is complete in {run_dir}; run the same command again to retry the logging") from exc
    tags = {"mlflow.runName": run_dir.name, "run_dir": str(run_dir.resolve()),
            "package_version": str(record.get("package_version")), "git_commit": str(record.get("git_commit")),
            "data_manifest_sha256": str(record.get("data_manifest_sha256")), "smoke": str(bool(record.get("smoke")))}
    run = client.create_run(experiment_id, tags=tags, run_name=run_dir.name)
    run_id = run.info.run_id
    status = "FAILED"
    try:
        params = [Param(k, v) for k, v in flatten(config).items()]
        for i in range(0, len(params), _BATCH):
            client.log_batch(run_id, params=params[i:i + _BATCH])
        now = int(time.time() * 1000)
        metrics = [Metric(k, v, now, step) for k, v, step in _epoch_metrics(run_dir) + _result_metrics(run_dir)]
        for i in range(0, len(metrics), _BATCH):
            client.log_batch(run_id, metrics=metrics[i:i + _BATCH])
        client.log_batch(run_id, tags=[RunTag("class_names", ",".join(record.get("class_names") or []))])
        for path in artefacts(run_dir):
            folder = path.parent.relative_to(run_dir).as_posix()
            client.log_artifact(run_id, str(path), artifact_path=None if folder == "." else folder)
        status = "FINISHED"
    finally:
        client.set_terminated(run_id, status=status)
    log.info("MLflow: run %s in experiment %r at %s (%s)", run_id, name, tracking_uri, mlflow.__version__)
    return run_id


def log_run_if_asked(run_dir: str | Path, cfg: Any) -> str | None:
    """:func:`log_run` to ``cfg.train.mlflow_uri`` when it is set; else None."""
    uri = getattr(getattr(cfg, "train", None), "mlflow_uri", None)
    return log_run(run_dir, uri) if uri else None
