"""Run a study's runs as Ray tasks (or one after another in this process), resumable and interruptible.

Each :class:`~cxr_core.study.plan.StudyRun` is one Ray task asking for ``gpus_per_run`` GPUs (a
fraction shares a GPU between runs; TensorFlow then grows its memory instead of taking it all, set in
each task) and ``cpus_per_run`` CPUs. Ray places the tasks, retries a task whose worker process died
(``max_retries``) and reports; this module schedules nothing itself. A retried run resumes from its
own checkpoint (the fold's ``checkpoints/``, :func:`cxr_core.training.fit.fit_split`); a finished run
(its ``predictions.csv``) is skipped, so the same study command resumes a study. Every task runs in a
fresh worker process (``max_calls=1``): a run sees the same process state as ``covid-cxr cv`` alone.

Without ``address`` Ray starts on this machine (its default: every local CPU and GPU); with one
(``auto``, ``HOST:PORT``) it joins that cluster, whose nodes must have this package and the data at
the same paths. Each seed's run report (``report.md``) is written by the driver once the seed's
runs are done, never by two tasks at once.
"""

from __future__ import annotations

import importlib
import logging
import os
import socket
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping, Sequence

from cxr_core.study.plan import StudyRun
from cxr_core.errors import CxrError

log = logging.getLogger(__name__)

ENGINES = ("ray", "serial")
RESUME_TEXT = "run the same study command again to resume (finished runs are skipped, interrupted ones resume from their last epoch)"


class StudyInterrupted(RuntimeError):
    """Ctrl-C during a study: the message says how many runs finished and how to resume."""


class StudyFailed(RuntimeError):
    """Runs that failed with an error (not a dead worker, which Ray retries); each named with its error."""


@dataclass
class StudyOutcome:
    """What :func:`run_study` did: runs finished now, runs skipped (finished earlier), seconds per run,
    the Ray start-up seconds (0 for the serial engine) and the wall time."""

    finished: list[StudyRun] = field(default_factory=list)
    skipped: list[StudyRun] = field(default_factory=list)
    run_seconds: dict[str, float] = field(default_factory=dict)
    startup_s: float = 0.0
    wall_s: float = 0.0


def call_setup(setup: str | None) -> None:
    """Call ``"module:function"`` (e.g. one that registers a model family) in this process."""
    if setup:
        module, _, function = setup.partition(":")
        getattr(importlib.import_module(module), function or "setup")()


def grow_gpu_memory() -> None:
    """Let TensorFlow grow its GPU memory as needed (several runs may share one GPU); before any GPU use."""
    os.environ.setdefault("TF_FORCE_GPU_ALLOW_GROWTH", "true")
    import tensorflow as tf

    for gpu in tf.config.list_physical_devices("GPU"):
        try:
            tf.config.experimental.set_memory_growth(gpu, True)
        except RuntimeError:  # already initialised in this process
            pass


def execute_run(cv_args: Sequence[str], fold: int, setup: str | None = None) -> dict:
    """The body of one run (a Ray task, or a call of the serial engine): ``covid-cxr cv`` with
    ``cv_args`` for fold ``fold``, without the run report (the driver writes it). Returns the fold's
    test accuracy, the seconds it took, the worker's process id and host name."""
    from cxr_core.tf_console import quiet_tensorflow

    call_setup(setup)
    quiet_tensorflow()
    grow_gpu_memory()
    from cxr_core.cli.options import experiment
    from cxr_core.protocol.run import run_protocol
    from cxr_core.runs.directory import predictions_path
    from cxr_core.study.plan import cv_namespace

    args = cv_namespace(cv_args)
    cfg = experiment(args).config
    t0 = time.perf_counter()
    run_protocol(cfg, Path(args.run_dir), folds=[fold], smoke=args.smoke, write_report=False)
    import pandas as pd

    pred = pd.read_csv(predictions_path(Path(args.run_dir), fold))
    accuracy = float((pred["label_index"] == pred["predicted_index"]).mean()) if len(pred) else float("nan")
    return {"accuracy": accuracy, "seconds": time.perf_counter() - t0, "pid": os.getpid(),
            "host": socket.gethostname()}


def _done_line(run: StudyRun, result: Mapping) -> str:
    return (f"done {run.label}: test accuracy {result['accuracy']:.4f}, {result['seconds']:.1f} s "
            f"(pid {result['pid']} on {result['host']})")


class _NoBar:
    """Stands in for tqdm's bar where tqdm is not installed (the serial engine needs no extra): lines only."""

    disable = True

    def __getattr__(self, name):
        return lambda *args, **kwargs: None


def _progress_bar(total: int, initial: int, enabled: bool):
    try:
        from tqdm import tqdm
    except ImportError:
        return _NoBar()

    return tqdm(total=total, initial=initial, unit="run", desc="study", file=sys.stderr, disable=not enabled,
                dynamic_ncols=True, bar_format="{desc}: {n}/{total} runs |{bar}| {elapsed}<{remaining} {postfix}")


def run_study(runs: Sequence[StudyRun], *, engine: str = "ray", address: str | None = None,
              gpus_per_run: float = 0.0, cpus_per_run: float = 1.0, num_cpus: int | None = None,
              max_retries: int = 3, setup: str | None = None, worker_env: Mapping[str, str] | None = None,
              progress: bool = True, write_reports: bool = True, fresh_workers: bool = True) -> StudyOutcome:
    """Run every unfinished run of ``runs``; then write each seed's run report.

    ``engine``: ``ray`` (tasks; ``address`` joins a cluster, none starts Ray here with ``num_cpus``
    CPUs, default all) or ``serial`` (one after another in this process, no Ray). ``setup``:
    ``"module:function"`` called in each worker first (e.g. to register a model family that is no
    installed entry point); ``worker_env``: environment variables of the workers; ``fresh_workers``:
    a new worker process per run (Ray ``max_calls=1``, the default: each run starts as ``cv`` alone
    does) or workers that run several runs one after another (saves a TensorFlow start per run).

    Raises:
        StudyInterrupted: Ctrl-C; running tasks are cancelled, the message says how to resume.
        StudyFailed: runs that raised an error, after the others finished.
        ImportError: ``engine="ray"`` without Ray installed (``pip install 'covid-cxr-tf[ray]'``).
    """
    if engine not in ENGINES:
        raise CxrError(f"--engine: expected one of {ENGINES}, found {engine!r}")
    outcome = StudyOutcome()
    t_start = time.perf_counter()
    todo = [r for r in runs if not r.finished]
    outcome.skipped = [r for r in runs if r.finished]
    for run in outcome.skipped:
        log.info("skipped %s: finished earlier (%s)", run.label, run.run_dir / f"fold_{run.fold}" / "predictions.csv")
    for run in todo:  # made here, so a task's failed start never removes a folder another task writes into
        run.run_dir.mkdir(parents=True, exist_ok=True)
    failures: list[str] = []
    bar = _progress_bar(len(runs), len(outcome.skipped), progress)
    try:
        if todo and engine == "serial":
            _run_serial(todo, setup, outcome, bar, failures)
        elif todo:
            _run_ray(todo, outcome, bar, failures, address=address, gpus_per_run=gpus_per_run,
                     cpus_per_run=cpus_per_run, num_cpus=num_cpus, max_retries=max_retries, setup=setup,
                     worker_env=worker_env, fresh_workers=fresh_workers)
    finally:
        bar.close()
    if write_reports:
        write_seed_reports(runs)
    outcome.wall_s = time.perf_counter() - t_start
    if failures:
        raise StudyFailed(f"{len(failures)} of {len(runs)} runs failed:\n  " + "\n  ".join(failures))
    return outcome


def _finished(run: StudyRun, result: Mapping, outcome: StudyOutcome, bar) -> None:
    outcome.finished.append(run)
    outcome.run_seconds[run.label] = float(result["seconds"])
    if bar.disable:
        log.info(_done_line(run, result))
    else:
        bar.write(_done_line(run, result), file=sys.stderr)
    mean = sum(outcome.run_seconds.values()) / len(outcome.run_seconds)
    bar.set_postfix_str(f"{mean:.1f} s/run")
    bar.update(1)


def _failed(run: StudyRun, exc: BaseException, failures: list[str]) -> None:
    text = str(exc).strip().splitlines()
    line = f"{run.label}: {text[-1] if text else type(exc).__name__}"
    failures.append(line)
    log.error("FAILED %s", line)


def _run_serial(todo, setup, outcome, bar, failures) -> None:
    for run in todo:
        try:
            result = execute_run(run.cv_args, run.fold, setup)
        except KeyboardInterrupt:
            raise StudyInterrupted(_interrupted_text(outcome, todo)) from None
        except Exception as exc:  # one failed run does not stop the others
            _failed(run, exc, failures)
            continue
        _finished(run, result, outcome, bar)


def _interrupted_text(outcome: StudyOutcome, todo) -> str:
    return (f"study interrupted: {len(outcome.finished)} of {len(todo)} runs finished now "
            f"({len(outcome.skipped)} earlier); {RESUME_TEXT}")


def start_ray(address: str | None, num_cpus: int | None, worker_env: Mapping[str, str] | None) -> float:
    """``ray.init`` (joining ``address``, or a local Ray); returns the seconds it took."""
    try:
        import ray
    except ImportError:
        raise ImportError("--engine ray needs Ray: pip install 'covid-cxr-tf[ray]' (or use --engine serial)") from None
    env = {"TF_CPP_MIN_LOG_LEVEL": os.environ.get("TF_CPP_MIN_LOG_LEVEL", "2"), "TF_FORCE_GPU_ALLOW_GROWTH": "true",
           **dict(worker_env or {})}
    t0 = time.perf_counter()
    if address:
        ray.init(address=address, runtime_env={"env_vars": env}, log_to_driver=True)
    else:
        ray.init(num_cpus=num_cpus, include_dashboard=False, runtime_env={"env_vars": env}, log_to_driver=True)
    return time.perf_counter() - t0


def _run_ray(todo, outcome, bar, failures, *, address, gpus_per_run, cpus_per_run, num_cpus, max_retries,
             setup, worker_env, fresh_workers) -> None:
    import ray

    outcome.startup_s = start_ray(address, num_cpus, worker_env)
    log.info("Ray started in %.1f s: %s", outcome.startup_s, ray.cluster_resources())
    task = ray.remote(max_calls=1 if fresh_workers else 0)(execute_run)
    pending = {}
    try:
        for run in todo:
            ref = task.options(num_cpus=cpus_per_run, num_gpus=gpus_per_run, max_retries=max_retries,
                               retry_exceptions=False, name=f"covid-cxr {run.label}").remote(run.cv_args, run.fold, setup)
            pending[ref] = run
        while pending:
            ready, _ = ray.wait(list(pending), num_returns=1)
            for ref in ready:
                run = pending.pop(ref)
                try:
                    result = ray.get(ref)
                except ray.exceptions.RayError as exc:
                    _failed(run, exc, failures)
                    continue
                _finished(run, result, outcome, bar)
    except KeyboardInterrupt:
        for ref in pending:
            ray.cancel(ref, force=True)
        raise StudyInterrupted(_interrupted_text(outcome, todo)) from None
    finally:
        ray.shutdown()


def seed_dirs(runs: Sequence[StudyRun]) -> list[Path]:
    """The run directories of ``runs``, each once, in order."""
    return list(dict.fromkeys(r.run_dir for r in runs))


def write_seed_reports(runs: Sequence[StudyRun]) -> None:
    """``covid-cxr report`` of each seed's run directory that has a finished fold."""
    from cxr_core.runs.directory import summarize_runs

    for run_dir in seed_dirs(runs):
        if any(run_dir.glob("fold_*/predictions.csv")):
            summarize_runs([run_dir])
