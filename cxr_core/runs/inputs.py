"""What a run reads besides its training data: a separate test or validation set, the weights it starts from.

:func:`check_run_inputs` stops a run before any image is read when an input the experiment needs is
missing, naming the command-line option (``--data``, ``--test-data``, ``--val-data``,
``--init-from``) and the config key.

``model.init_from`` (``--init-from``) may name a weights file, a run directory or one fold's folder
of a run (``RUN_DIR/fold_k``). :func:`fold_init_from` resolves it for fold ``k`` of this run:

- a weights file: every fold starts from it;
- a run directory with the same protocol (``protocol.kind`` and fold count): fold ``k`` starts from
  that run's fold ``k`` selected weights (fine-tuning a k-fold run fold by fold);
- a run directory with another protocol: its final model, i.e. the selected weights of its single
  split (a ``holdout`` or ``fixed_split`` run, e.g. ``covid-cxr train``). A k-fold run has no single
  final model: name one fold (``RUN_DIR/fold_k``) instead;
- a fold folder: that fold's selected weights, for every fold.

Each fold writes what it started from to ``fold_k/init_from.txt``; :func:`init_notes` lists them in
the report, with a warning when a test sample of the fold was a training or validation sample of the
initial model (same sample id).
"""

from __future__ import annotations

import logging

from collections.abc import Mapping
from pathlib import Path

import pandas as pd
import yaml

from cxr_core.config.experiment import ExperimentConfig
from cxr_core.errors import CxrError

#: Config keys with the command-line option that sets them.
CLI_OPTIONS = {
    "data.source": "--data DIR",
    "data.test_source": "--test-data DIR",
    "data.validation_source": "--val-data DIR",
    "model.init_from": "--init-from RUN_DIR_OR_WEIGHTS",
}
SELECTED_WEIGHTS = "selected_weights.txt"
log = logging.getLogger(__name__)

INIT_NOTE = "init_from.txt"


def _value(cfg: ExperimentConfig, dotted: str):
    node = cfg
    for part in dotted.split("."):
        node = node.get(part) if isinstance(node, Mapping) else getattr(node, part, None)
        if node is None:
            return None
    return node


def _option(key: str) -> str:
    return f"give {CLI_OPTIONS[key]} ({key})" if key in CLI_OPTIONS else f"set {key} (--set {key}=...)"


def check_run_inputs(cfg: ExperimentConfig) -> None:
    """Refuse a run whose experiment lacks an input it needs.

    Raises:
        ValueError: no ``data.source``; ``protocol.kind: fixed_split`` without a separate test set
            (``data.test_source``: such an experiment never tests on its validation part);
            ``protocol.validation: validation_source`` without ``data.validation_source`` or the
            other way round, or with a protocol other than ``fixed_split``; a key listed in
            ``extra.required`` left unset.
    """
    data, proto = cfg.data, cfg.protocol
    missing = [k for k in ("data.source", *tuple((cfg.extra or {}).get("required") or ())) if _value(cfg, k) in (None, "")]
    if missing:
        raise CxrError(f"{cfg.name}: {missing[0]} is not set: {_option(missing[0])}; this experiment needs it"
                         + (" (extra.required)" if missing[0] != "data.source" else ""))
    if proto.kind == "fixed_split" and not data.test_source:
        raise CxrError(
            f"{cfg.name}: protocol.kind is fixed_split, which tests on a separate test set, and none is given: "
            f"{_option('data.test_source')}. The run never tests on its validation split"
            + (f" (protocol.validation {proto.validation})" if proto.validation != "none" else "")
            + "; for a k-fold or holdout run instead, --set protocol.kind=kfold (or holdout)"
        )
    if proto.validation == "validation_source" and not data.validation_source:
        raise CxrError(f"{cfg.name}: protocol.validation is validation_source but no validation data is given: "
                         f"{_option('data.validation_source')}")
    if data.validation_source and proto.validation != "validation_source":
        raise CxrError(f"{cfg.name}: data.validation_source is set but protocol.validation is {proto.validation}; "
                         "set --set protocol.validation=validation_source (--val-data sets both)")
    if data.validation_source and proto.kind != "fixed_split":
        raise CxrError(f"{cfg.name}: data.validation_source (--val-data) is the validation data of a fixed split; "
                         f"this experiment's protocol.kind is {proto.kind} (set --set protocol.kind=fixed_split "
                         "with --test-data DIR)")


# ----------------------------------------------------------------------------------- init_from
def record_selected_weights(fold_dir: Path, weights_path: Path) -> None:
    """``fold_k/selected_weights.txt``: the weights the fold evaluated (its selected model), relative to the fold."""
    from cxr_core.atomic_files import atomic_write_text

    fold_dir = Path(fold_dir)
    try:
        rel = Path(weights_path).resolve().relative_to(fold_dir.resolve()).as_posix()
    except ValueError:
        rel = str(Path(weights_path).resolve())
    atomic_write_text(fold_dir / SELECTED_WEIGHTS, rel + "\n")


def selected_weights(fold_dir: Path) -> Path:
    """The selected weights of a finished fold of a run (:func:`record_selected_weights`; for runs
    made before that file existed: ``checkpoints/best.weights.h5`` or ``last.weights.h5``).

    Raises:
        FileNotFoundError: the fold holds no weights (not trained, or still training).
    """
    fold_dir = Path(fold_dir)
    record = fold_dir / SELECTED_WEIGHTS
    if record.is_file():
        path = fold_dir / record.read_text().strip()
        if path.is_file():
            return path
    for name in ("best.weights.h5", "last.weights.h5"):
        if (fold_dir / "checkpoints" / name).is_file() and (fold_dir / "predictions.csv").is_file():
            return fold_dir / "checkpoints" / name
    raise FileNotFoundError(f"--init-from: {fold_dir} holds no finished fold's weights ({SELECTED_WEIGHTS} or "
                            "checkpoints/*.weights.h5 with predictions.csv); finish that run first")


def _run_folds(record: dict) -> tuple[str, int]:
    proto = (record.get("config") or {}).get("protocol") or {}
    kind = proto.get("kind", "kfold")
    return kind, int(proto.get("n_folds", 1)) if kind == "kfold" else 1


def fold_init_from(cfg: ExperimentConfig, fold: int, n_folds: int) -> tuple[str, str, Path | None]:
    """``(weights file, how it was chosen, the source fold folder or None)`` for fold ``fold`` of a run
    with ``n_folds`` folds, from ``model.init_from`` (see the module docstring).

    Raises:
        FileNotFoundError: the path does not exist or the chosen fold holds no weights.
        ValueError: a k-fold run directory for an experiment with another protocol (no single final
            model), or a folder that is no run directory.
    """
    src = Path(cfg.model.init_from)
    if src.is_file():
        return str(src), f"weights file {src}", None
    if not src.is_dir():
        raise FileNotFoundError(f"--init-from (model.init_from): {src} is neither a weights file nor a run directory")
    if (src / "config.yaml").is_file():
        record = yaml.safe_load((src / "config.yaml").read_text()) or {}
        kind, count = _run_folds(record)
        if kind == cfg.protocol.kind and count == n_folds:
            chosen = src / f"fold_{fold}"
            how = f"fold {fold} of run {src} (same protocol: {kind}, {count} fold(s))"
        elif count == 1:
            chosen = src / "fold_0"
            how = (f"the final model of run {src} (its one {kind} split; protocols differ: {kind} there, "
                   f"{cfg.protocol.kind} with {n_folds} fold(s) here)")
        else:
            raise CxrError(
                f"--init-from {src}: a {count}-fold run, and this experiment runs {cfg.protocol.kind} with "
                f"{n_folds} fold(s): the source has no single final model. Name one of its folds "
                f"(--init-from {src}/fold_K, K in 0..{count - 1}), or train one model with `covid-cxr train`")
    elif src.name.startswith("fold_") and (src.parent / "config.yaml").is_file():
        chosen, how = src, f"{src.name} of run {src.parent}"
    else:
        raise CxrError(f"--init-from {src}: a folder, but not a run directory (no config.yaml) nor a run's fold_k")
    return str(selected_weights(chosen)), how, chosen


def _overlap(source_fold: Path, fold: int, run_dir: Path) -> int:
    """Test sample ids of this run's fold that trained or validated the source fold's model."""
    ours = Path(run_dir) / "splits" / f"fold_{fold}.csv"
    theirs = source_fold.parent / "splits" / f"{source_fold.name}.csv"
    if not (ours.is_file() and theirs.is_file()):
        return 0
    a = pd.read_csv(ours, dtype=str, keep_default_na=False)
    b = pd.read_csv(theirs, dtype=str, keep_default_na=False)
    test = set(map(_unprefixed, a.loc[a["role"] == "test", "sample_id"]))
    used = set(map(_unprefixed, b.loc[b["role"].isin(["train", "val"]), "sample_id"]))
    return len(test & used)


def _unprefixed(sample_id: str) -> str:
    """A sample id without the ``train/`` / ``val/`` / ``test/`` prefix a fixed split adds to repeated ids."""
    head, _, rest = sample_id.partition("/")
    return rest if head in ("train", "val", "test") and rest else sample_id


def write_init_note(cfg: ExperimentConfig, fold: int, n_folds: int, run_dir: Path) -> str | None:
    """Resolve ``model.init_from`` for ``fold`` (:func:`fold_init_from`), write ``fold_k/init_from.txt``
    and return the weights file (None without ``model.init_from``)."""
    from cxr_core.atomic_files import atomic_write_text

    if not cfg.model.init_from:
        return None
    path, how, source_fold = fold_init_from(cfg, fold, n_folds)
    note = f"fold {fold} started from {how}: {path}"
    shared = _overlap(source_fold, fold, run_dir) if source_fold is not None else 0
    if shared:
        note += (f". WARNING: {shared} test sample(s) of this fold have the sample ids of training or validation "
                 "samples of that model; if both runs read the same files, this fold's test is not independent")
    atomic_write_text(Path(run_dir) / f"fold_{fold}" / INIT_NOTE, note + "\n")
    (log.warning if shared else log.info)("%s", note)
    return path


def init_notes(run_dir: str | Path) -> list[str]:
    """The ``init_from.txt`` lines of every fold of ``run_dir`` (for the report)."""
    return [p.read_text().strip() for p in sorted(Path(run_dir).glob(f"fold_*/{INIT_NOTE}"))]
