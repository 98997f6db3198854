"""Provenance: which software, devices and weight files produced a result.

:func:`environment` records the package version and git commit, Python, TensorFlow, Keras and NumPy
versions, the CUDA and cuDNN versions TensorFlow was built with (``tf.sysconfig.get_build_info()``;
``null`` on a CPU-only build), and the devices TensorFlow sees (GPU names from
``tf.config.experimental.get_device_details``). :func:`weights_record` adds a weight file with
its SHA-256.

Where it is written:

- a run: the ``provenance`` section of ``config.yaml`` (the process that created the run) and
  ``fold_k/provenance.json`` (the process that trained fold k: its environment, the weights it
  started from, ``model.init_from``, and the selected weights it produced);
- ``covid-cxr evaluate``: ``provenance.json`` in ``--out`` (environment, the weights read);
- a report (``report.md``): one line per run with the versions and devices, and, for a merged
  report (``covid-cxr report A B``), the run directories merged (also in ``provenance.json``
  beside the report).
"""

from __future__ import annotations

import json
import platform
import subprocess
from pathlib import Path
from typing import Any, Iterable, Mapping

from cxr_core.atomic_files import atomic_write_text, file_sha256

PROVENANCE_JSON = "provenance.json"


def git_commit() -> str | None:
    """The commit of the package's source checkout, if it is one."""
    here = Path(__file__).resolve().parent
    try:
        out = subprocess.run(
            ["git", "-C", str(here), "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5, check=False
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None


def weights_record(path: str | Path, role: str) -> dict[str, Any]:
    """``{"role", "path", "sha256", "bytes"}`` of a weight file that was read or written
    (``role``: ``init_from``, ``evaluated``, ``selected`` ...)."""
    path = Path(path)
    return {"role": role, "path": str(path.resolve()), "sha256": file_sha256(path), "bytes": path.stat().st_size}


def _devices() -> list[str]:
    import tensorflow as tf

    names = []
    for device in tf.config.list_physical_devices():
        label = f"{device.device_type}:{device.name.rsplit(':', 1)[-1]}"
        if device.device_type == "GPU":
            try:
                details = tf.config.experimental.get_device_details(device)
                label += f" {details.get('device_name', '')}".rstrip()
                if details.get("compute_capability"):
                    label += f" (compute capability {'.'.join(map(str, details['compute_capability']))})"
            except (ValueError, RuntimeError):
                pass
        names.append(label)
    return names


def environment() -> dict[str, Any]:
    """Versions and devices of this process. A process that has imported TensorFlow (training,
    evaluation) asks it for its build and devices; one that has not (``covid-cxr report`` merging runs)
    reads the installed versions, TensorFlow's build record and ``nvidia-smi`` instead of importing it."""
    import sys

    import numpy as np

    from cxr_core.version import __version__

    record = {"package": "covid-cxr-tf", "package_version": __version__, "git_commit": git_commit(),
              "python": platform.python_version(), "numpy": np.__version__, "platform": platform.platform()}
    if "tensorflow" in sys.modules:
        import keras
        import tensorflow as tf

        build = dict(tf.sysconfig.get_build_info())
        return {**record, "tensorflow": tf.__version__, "keras": keras.__version__,
                "cuda": build.get("cuda_version"), "cudnn": build.get("cudnn_version"), "devices": _devices()}
    from importlib import metadata

    from cxr_core.tf_console import _device_without_tensorflow, _tensorflow_build_info

    def installed(name: str) -> str | None:
        try:
            return metadata.version(name)
        except metadata.PackageNotFoundError:
            return None

    build = _tensorflow_build_info()
    return {**record, "tensorflow": installed("tensorflow"), "keras": installed("keras"),
            "cuda": build.get("cuda_version"), "cudnn": build.get("cudnn_version"),
            "devices": [_device_without_tensorflow()]}


def summary_line(env: Mapping[str, Any]) -> str:
    """One line for a report: ``covid-cxr-tf 0.1.0 (git 1a2b3c4), Python 3.11.9, TensorFlow 2.21.0,
    Keras 3.15.1, TensorFlow built without CUDA, devices CPU:0`` (or ``TensorFlow built for CUDA 12.5 /
    cuDNN 9``: the versions TensorFlow was compiled against, not those of the driver)."""
    commit = env.get("git_commit")
    devices = ", ".join(env.get("devices") or []) or "unknown"
    return (f"{env.get('package', 'covid-cxr-tf')} {env.get('package_version')}"
            f"{f' (git {str(commit)[:10]})' if commit else ''}, Python {env.get('python')}, "
            f"TensorFlow {env.get('tensorflow')}, Keras {env.get('keras')}, {_built_for(env)}, devices {devices}")


def _built_for(env: Mapping[str, Any]) -> str:
    if not env.get("cuda"):
        return "TensorFlow built without CUDA"
    return f"TensorFlow built for CUDA {env['cuda']} / cuDNN {env.get('cudnn') or '-'}"


def write_provenance(folder: str | Path, *, weights: Iterable[Mapping[str, Any]] = (), **extra: Any) -> Path:
    """``folder/provenance.json``: :func:`environment`, the weight files (:func:`weights_record`) and
    ``extra`` entries (e.g. ``run_dirs`` of a merged report). Returns its path."""
    record = {"environment": environment(), "weights": list(weights), **extra}
    path = Path(folder) / PROVENANCE_JSON
    atomic_write_text(path, json.dumps(record, indent=2, default=str) + "\n")
    return path


def write_fold_provenance(fold_dir: str | Path, init_from: str | Path | None, selected: str | Path) -> Path:
    """``fold_k/provenance.json``: the environment that trained the fold, the weights it started from
    (``model.init_from``, resolved for this fold) and the selected weights it produced."""
    weights = [weights_record(init_from, "init_from")] if init_from and Path(init_from).is_file() else []
    if Path(selected).is_file():
        weights.append(weights_record(selected, "selected"))
    return write_provenance(fold_dir, weights=weights)


def evaluation_provenance(out: str | Path, inference, data: str | Path) -> Path:
    """``provenance.json`` of ``covid-cxr evaluate``: environment, the weights evaluated (sha256) and,
    with ``--run``, the run directory and fold, and the data evaluated."""
    chosen = getattr(inference, "run_model", None)
    if chosen is not None and chosen.ensemble_weights:
        weights = [weights_record(path, f"evaluated (fold {k} of the ensemble)") for k, path in chosen.ensemble_weights]
    else:
        weights = [weights_record(inference.weights_path, "evaluated")] if getattr(inference, "weights_path", None) else []
    return write_provenance(out, weights=weights, data=str(Path(data).resolve()),
                            run=None if chosen is None else {"run_dir": str(Path(chosen.run_dir).resolve()),
                                                             "fold": chosen.fold,
                                                             "ensemble_folds": [k for k, _ in chosen.ensemble_weights]})


def read_provenance(folder: str | Path) -> dict | None:
    """``folder/provenance.json`` as a dict, or None when absent."""
    path = Path(folder) / PROVENANCE_JSON
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else None


def report_lines(run_dirs: Iterable[str | Path], merged: bool) -> list[str]:
    """Provenance lines for a report: each fold's software and devices (from ``fold_k/provenance.json``,
    else the run's ``config.yaml``), the sha256 of the weights each fold started from, and the run
    directories merged."""
    import yaml

    lines: list[str] = []
    run_dirs = [Path(r) for r in run_dirs]
    for rd in run_dirs:
        software: dict[str, list[str]] = {}
        starts: list[str] = []
        for fold_dir in sorted(rd.glob("fold_*")):
            record = read_provenance(fold_dir)
            if record is None:
                continue
            software.setdefault(summary_line(record.get("environment") or {}), []).append(fold_dir.name)
            starts += [f"{rd.name}/{fold_dir.name} started from {w.get('path')} (sha256 {w.get('sha256')})"
                       for w in record.get("weights") or [] if w.get("role") == "init_from"]
        if not software and (rd / "config.yaml").is_file():
            env = (yaml.safe_load((rd / "config.yaml").read_text()) or {}).get("provenance") or {}
            if env:
                software[summary_line(env)] = ["run created"]
        lines += [f"software ({rd.name}: {', '.join(where)}): {line}" for line, where in software.items()] + starts
    if merged:
        lines.append("merged run directories: " + ", ".join(str(r.resolve()) for r in run_dirs))
    return lines
