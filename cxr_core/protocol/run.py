"""Run an experiment's protocol fold by fold: k-fold, one holdout split, or a fixed train/test split.

The orchestrator of the flow in docs/DESIGN.md §1; each stage is its own module:

    cxr_core.protocol.experiment_data   config -> sample table (read, verify, relabel, undersample), pipeline spec
    cxr_core.runs.directory              run directory: config.yaml with provenance, samples.csv, merging runs
    cxr_core.protocol.split_files       splits/fold_k.csv: which sample trains, validates, tests in fold k
    cxr_core.models.build            the family's model, its initial weights, its parameter count
    cxr_core.training.fit          fit one split (or the family's own ``fit``), resumable
    cxr_core.inference.model         predictions of the trained model on the test rows
    cxr_core.report.predictions       fold_k/predictions.csv, metrics, figures

:func:`run_protocol` turns an :class:`~cxr_core.config.experiment.ExperimentConfig` into a run directory
(:mod:`cxr_core.runs.directory`). Folds are independent: ``folds=[0, 1]`` on one machine and ``[2, 3]`` on
another, into the same directory or two, and :func:`cxr_core.runs.directory.summarize_runs` (``covid-cxr
report``) merges them. A fold whose ``predictions.csv`` exists is never redone; an interrupted fold
resumes from its last finished epoch (:func:`cxr_core.training.fit.fit_split`). Progress goes to the
``cxr_core.protocol.run`` logger at INFO (:func:`cxr_core.logs.configure_logging`).
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Sequence

import pandas as pd

from cxr_core.config.experiment import ExperimentConfig, replace
from cxr_core.data.audit.hazards import require_patient_ids, run_hazard_checks
from cxr_core.atomic_files import remove_stale_temporaries
from cxr_core.protocol.experiment_data import load_samples, pipeline_spec, prepare_samples
from cxr_core.protocol.split_files import Split, fixed_split, n_splits, resolve_splits
from cxr_core.runs.progress import PROGRESS
from cxr_core.models.build import check_parameter_count, model_builder
from cxr_core.weights.imagenet import require_pretrained_weights
from cxr_core.runs.inputs import check_run_inputs, fold_init_from, record_selected_weights, write_init_note
from cxr_core.runs.directory import (
    check_resume_config, fold_dir, predictions_path, summarize_runs, write_run_config, write_samples,
)
from cxr_core.seeds import fold_seed, train_data_seed, validation_data_seed
from cxr_core.errors import CxrError

log = logging.getLogger(__name__)


def run_protocol(cfg: ExperimentConfig, run_dir: str | Path, **options) -> Path:
    """Run (or resume) the experiment's protocol into ``run_dir``; returns ``run_dir``.

    ``options`` (``folds``, ``smoke``, ``write_report``) and errors: :func:`run_protocol_steps`. A
    start that fails (an error or Ctrl-C) before any fold saved a result leaves no run directory
    behind (:func:`cxr_core.runs.start.discard_failed_start`); each fold is locked for this process
    (:mod:`cxr_core.runs.lock`: a second process refuses, naming pid and host); :data:`cxr_core.runs.progress.PROGRESS`
    says which fold and epoch the run is at.
    """
    from cxr_core.runs.disk import require_writable
    from cxr_core.runs.lock import run_lock
    from cxr_core.runs.start import discard_failed_start

    require_writable(run_dir, "run directory")  # read-only: said now, before any work
    folds = options.get("folds") or range(n_splits(cfg))
    with discard_failed_start(run_dir), run_lock(run_dir, folds):  # one process per fold (cxr_core.runs.lock)
        return run_protocol_steps(cfg, run_dir, **options)


def run_protocol_steps(
    cfg: ExperimentConfig,
    run_dir: str | Path,
    *,
    folds: Sequence[int] | None = None,
    smoke: bool = False,
    write_report: bool = True,
) -> Path:
    """Run (or resume) the experiment's protocol into ``run_dir``; returns ``run_dir``.

    Args:
        cfg: the experiment.
        run_dir: the run directory, created or resumed (same config and data, or
            :class:`cxr_core.runs.directory.RunDirectoryError`).
        folds: only these folds (default: every fold of the protocol).
        smoke: a smoke run (``--smoke``): undersampling counts capped at the images available, no
            parameter-count check, marked in config.yaml and the report.
        write_report: write results.csv and report.md of the folds finished so far.

    Raises:
        ValueError: ``data.test_source`` without ``protocol.kind: fixed_split``, a fold that does not
            exist, or ``model.num_classes`` that differs from the data's classes.
    """
    from cxr_core.training.fit import make_strategy, seed_everything
    from cxr_core.training.precision import set_precision

    run_dir = Path(run_dir)
    PROGRESS.start(run_dir)
    if cfg.data.test_source and cfg.protocol.kind != "fixed_split":
        raise CxrError(
            f"data.test_source ({cfg.data.test_source}) is only used by protocol.kind fixed_split, and this "
            f"experiment's protocol is {cfg.protocol.kind}; set --set protocol.kind=fixed_split (and "
            "protocol.validation inner_split for a validation part of the training data)"
        )
    check_run_inputs(cfg)
    count = n_splits(cfg)
    for k in folds or ():
        if not 0 <= k < count:
            raise CxrError(f"--folds: fold {k} does not exist; this protocol has folds 0..{count - 1}")
    for k in (folds or range(count)) if cfg.model.init_from else ():
        fold_init_from(cfg, k, count)  # a bad --init-from stops the run before any image is read
    if cfg.train.mlflow_uri:
        from cxr_core.runs.mlflow_log import require_mlflow

        require_mlflow()  # before any work: a missing package is said now, not after training
    check_resume_config(run_dir, cfg)  # a resume with another config is refused before any download
    require_pretrained_weights(cfg)  # ImageNet files in the Keras cache, or one line saying where to put them
    run_dir.mkdir(parents=True, exist_ok=True)
    # Temporaries of interrupted writes; other --folds processes may share run_dir, so only old ones.
    for stale in remove_stale_temporaries(run_dir, recursive=False, older_than_s=600):
        log.info("removed %s, a temporary file of an interrupted write", stale)
    remove_stale_temporaries(run_dir / "splits", older_than_s=600)
    set_precision(cfg.train.mixed_precision)
    seed_everything(cfg.train.seed, cfg.train.deterministic)
    strategy = make_strategy(cfg.train.strategy)

    table = prepare_samples(cfg, load_samples(cfg), smoke=smoke)
    if cfg.model.num_classes is not None and cfg.model.num_classes != len(table.class_names):
        raise CxrError(
            f"model.num_classes is {cfg.model.num_classes} but the data has {len(table.class_names)} classes "
            f"{list(table.class_names)} (data.class_names / label_map)"
        )
    counts = ", ".join(f"{c} {n}" for c, n in table.class_counts().items())
    log.info("%s: %d images (%s); %d skipped", cfg.name, len(table), counts, len(table.skipped))
    # A fixed validation set (data.validation_source) is part of the data fingerprint, as the training data.
    val_part = load_samples(cfg, validation=True) if cfg.data.validation_source else None
    # A fixed test set is fingerprinted as the training data: resuming or merging with another one is refused.
    test_part = load_samples(cfg, test=True) if cfg.protocol.kind == "fixed_split" else None
    fingerprint = table if val_part is None and test_part is None else with_fixed_test_set(table, test_part, val_part)
    write_run_config(run_dir, cfg, fingerprint, smoke)
    write_samples(run_dir, table)
    if not smoke:
        check_parameter_count(cfg, len(table.class_names))

    if cfg.protocol.kind == "fixed_split":
        n_train, n_val = len(table), 0 if val_part is None else len(val_part)
        table = with_fixed_test_set(table, test_part, val_part)
        write_samples(run_dir, table)
        require_patient_ids(cfg.protocol, table)
        splits = resolve_splits(cfg, table, run_dir, new_splits=lambda: [fixed_split(cfg, table, n_train, n_val)])
        check_fixed_test_rows(cfg, splits[0], n_train + n_val, len(table))
    else:
        require_patient_ids(cfg.protocol, table)
        splits = resolve_splits(cfg, table, run_dir)
    # Exact duplicates, patients on both sides, class x source: report.md "Data hazards", WARNINGs.
    run_hazard_checks(table, splits, run_dir, (cfg.data.source, cfg.data.test_source, cfg.data.validation_source))
    from cxr_core.training.model_reuse import reusing_models

    # One compiled model for all folds (and phases): reset to each fold's fresh build, traced once.
    with reusing_models(cfg.train.reuse_model_across_folds):
        for k in range(count) if folds is None else list(folds):
            run_fold(cfg, table, splits[k], run_dir, strategy)
    PROGRESS.finished()
    if write_report:
        summarize_runs([run_dir])
        from cxr_core.runs.mlflow_log import log_run_if_asked

        log_run_if_asked(run_dir, cfg)  # train.mlflow_uri (--mlflow): params, metrics per epoch, report
    return run_dir


def check_fixed_test_rows(cfg: ExperimentConfig, split: Split, first_test: int, n_rows: int) -> None:
    """A fixed split's test rows are exactly the ``data.test_source`` rows, also when the split was
    reused (``protocol.splits_from``, a resumed run).

    Raises:
        RunDirectoryError: the reused split tests other rows, naming where it came from.
    """
    from cxr_core.runs.directory import RunDirectoryError

    expected = list(range(first_test, n_rows))
    if sorted(int(i) for i in split.test) != expected:
        origin = f"protocol.splits_from ({cfg.protocol.splits_from})" if cfg.protocol.splits_from else "this run's splits/"
        raise RunDirectoryError(
            f"{origin}: its test rows ({len(split.test)}) are not the fixed test set of data.test_source / "
            f"--test-data ({len(expected)} rows); a fixed split tests exactly the --test-data files. Reuse the "
            "splits of a run with the same --data and --test-data, or drop protocol.splits_from"
        )


def with_fixed_test_set(train_table, test_table, val_table=None):
    """One table of the training rows, then the fixed validation rows (``data.validation_source``, when
    given), then the fixed test rows (``protocol.kind: fixed_split``, COVIDx); ``test_table`` may be
    None (the training and validation rows alone, as the run's data fingerprint covers them).

    When a sample id appears twice, every id gets a ``train/``, ``val/`` or ``test/`` prefix.

    Raises:
        ValueError: the test or validation data's classes differ from the training data's.
    """
    from cxr_core.data.tables.sample_table import SampleTable

    parts = [("train/", train_table, "data.source")]
    parts += [("val/", val_table, "data.validation_source")] if val_table is not None else []
    parts += [("test/", test_table, "data.test_source")] if test_table is not None else []
    for _, part, key in parts[1:]:
        if tuple(part.class_names) != tuple(train_table.class_names):
            raise CxrError(
                f"{key} classes {list(part.class_names)} differ from data.source classes "
                f"{list(train_table.class_names)}"
            )
    frame = pd.concat([part.frame for _, part, _ in parts], ignore_index=True)
    if frame["sample_id"].duplicated().any():
        frame["sample_id"] = [prefix for prefix, part, _ in parts for _ in range(len(part))] + frame["sample_id"]
    return SampleTable(frame, train_table.class_names,
                       pd.concat([part.skipped for _, part, _ in parts], ignore_index=True))


def run_fold(cfg: ExperimentConfig, table, split: Split, run_dir: Path, strategy=None) -> Path:
    """Train and evaluate one fold; returns its predictions.csv (skips a finished fold)."""
    from cxr_core.training.fit import seed_everything

    pred_path = predictions_path(run_dir, split.fold)
    if pred_path.is_file():
        log.info("fold %d: finished earlier, skipped (%s)", split.fold, pred_path)
        return pred_path
    out_dir = fold_dir(run_dir, split.fold)
    out_dir.mkdir(parents=True, exist_ok=True)
    for stale in remove_stale_temporaries(out_dir):  # a write cut short by a kill (checkpoints, logs)
        log.info("fold %d: removed %s, a temporary file of an interrupted write", split.fold, stale)
    # Each fold seeds itself, so a fold trained alone (--folds, another machine, a restart) starts from
    # the same weights as in a full run.
    seed_everything(fold_seed(cfg.train.seed, split.fold), cfg.train.deterministic)
    # model.init_from naming a run directory: this fold's weights file (cxr_core.runs.inputs), noted in the report
    init = write_init_note(cfg, split.fold, n_splits(cfg), run_dir)
    if init is not None and init != cfg.model.init_from:
        cfg = replace(cfg, {"model": {"init_from": init}})
    train_table = table.subset(split.train)
    test_table = table.subset(split.test)
    val_table = table.subset(split.val) if split.val is not None else None
    log.info(
        "fold %d: train %d, validation %d%s, test %d", split.fold, len(train_table),
        0 if val_table is None else len(val_table), " (= test fold)" if split.val is split.test else "", len(test_table),
    )
    t0 = time.perf_counter()
    PROGRESS.fold_started(split.fold)
    result = fit_fold(cfg, train_table, val_table, split.fold, out_dir, len(table.class_names), strategy)
    log.info("fold %d: %s", split.fold, trained_text(result, time.perf_counter() - t0))
    record_selected_weights(out_dir, result.weights_path)
    from cxr_core.runs.provenance import write_fold_provenance

    write_fold_provenance(out_dir, init, result.weights_path)  # versions, devices, sha256 of weights read and made
    PROGRESS.evaluating()
    evaluation = evaluate_fold(cfg, test_table, result.weights_path, split.fold, out_dir, result.log_path)
    log.info("fold %d: test accuracy %.4f on %d images", split.fold, evaluation.accuracy, len(test_table))
    return pred_path


def trained_text(result, seconds: float) -> str:
    """``trained 3 epochs in 12 s`` or, after a resume, ``trained 2 epochs in this process in 8 s
    (5 in total; resumed after epoch 3)``: what this process trained and what the fold holds."""
    now = result.epochs_done - result.resumed_from
    text = f"trained {now} epoch{'s' if now != 1 else ''}"
    if result.resumed_from:
        return (f"{text} in this process in {seconds:.0f} s ({result.epochs_done} in total; resumed after "
                f"epoch {result.resumed_from})")
    return f"{text} in {seconds:.0f} s"


def fit_fold(cfg: ExperimentConfig, train_table, val_table, fold: int, out_dir: Path, num_classes: int,
             strategy=None):
    """Train the fold's model on ``train_table`` (validating on ``val_table``, may be None): the family's
    own ``fit`` or :func:`cxr_core.training.fit.fit_split`. Returns the :class:`~cxr_core.training.fit.FitResult`."""
    from cxr_core.data.keras2_iteration import keras2_fit_plan
    from cxr_core.data.pipeline import build_dataset, device_augmentation
    from cxr_core.family import get_family
    from cxr_core.training.fit import class_weights, fit_split

    train_cfg = cfg.train
    spec = pipeline_spec(cfg)
    seed = fold_seed(train_cfg.seed, fold)
    n_val = 0 if val_table is None else len(val_table)
    # train.steps_mode other than full_pass: Keras 2's n // batch steps over its iterators' sample order
    # (cxr_core.data.keras2_iteration); an explicit train.steps_per_epoch / validation_steps (--smoke) wins.
    plan_steps = keras2_fit_plan(train_cfg.steps_mode, len(train_table), n_val, train_cfg.batch_size,
                                 train_cfg.epochs, 0, seed)
    steps_per_epoch, validation_steps = train_cfg.steps_per_epoch, train_cfg.validation_steps
    if plan_steps is not None:
        steps_per_epoch = steps_per_epoch or plan_steps[0]
        validation_steps = validation_steps or plan_steps[1]
        log.info("fold %d: train.steps_mode %s: %d steps per epoch, %s validation steps", fold,
                 train_cfg.steps_mode, steps_per_epoch, validation_steps)

    if validation_steps and n_val > validation_steps * train_cfg.batch_size:
        log.warning("fold %d: each epoch's validation metric covers %d batch(es) of %d (%d of %d validation images; "
                    "train.validation_steps %d; --smoke sets 1), not the whole validation fold; the test predictions "
                    "cover every test image", fold, validation_steps, -(-n_val // train_cfg.batch_size),
                    validation_steps * train_cfg.batch_size, n_val, validation_steps)

    def plan(first_epoch: int):
        return keras2_fit_plan(train_cfg.steps_mode, len(train_table), n_val, train_cfg.batch_size,
                               train_cfg.epochs, first_epoch, seed)

    def train_data(first_epoch: int):
        if plan_steps is not None:
            return build_dataset(train_table, spec, batch_size=train_cfg.batch_size, augment=cfg.augment.enabled,
                                 seed=train_data_seed(seed, first_epoch), index_batches=plan(first_epoch)[2])
        return build_dataset(
            train_table, spec, batch_size=train_cfg.batch_size, shuffle=True, augment=cfg.augment.enabled,
            seed=train_data_seed(seed, first_epoch), repeat=train_cfg.steps_per_epoch is not None,
        )

    def val_data(first_epoch: int):
        augment = cfg.augment.enabled and cfg.augment.on_validation
        if plan_steps is not None:
            return build_dataset(val_table, spec, batch_size=train_cfg.batch_size, augment=augment,
                                 seed=validation_data_seed(seed, first_epoch), index_batches=plan(first_epoch)[3])
        return build_dataset(
            val_table, spec, batch_size=train_cfg.batch_size, shuffle=False,
            augment=augment, seed=validation_data_seed(seed, first_epoch),
            repeat=train_cfg.validation_steps is not None,
        )

    family = get_family(cfg.model.family)
    weights = class_weights(train_cfg.class_weight, train_table.labels, train_table.class_names)
    make_val = val_data if n_val else None
    build = model_builder(cfg, num_classes)
    if family.training.fit is not None:
        if plan_steps is not None:  # the family's own fit reads the steps from its config
            cfg = replace(cfg, {"train": {"steps_per_epoch": steps_per_epoch, "validation_steps": validation_steps}})
        return family.training.fit(cfg, build, train_data, make_val, out_dir, class_weight=weights, strategy=strategy)
    return fit_split(
        build, train_data, make_val, out_dir, train_cfg, class_weight=weights,
        steps_per_epoch=steps_per_epoch, validation_steps=validation_steps, strategy=strategy,
        input_scaling=cfg.preprocess.scaling, device_augmentation=device_augmentation(spec),
    )


def evaluate_fold(cfg: ExperimentConfig, test_table, weights_path: Path, fold: int, out_dir: Path,
                  log_path: Path | None = None):
    """Predict the fold's test rows with the trained weights and write its files
    (:func:`cxr_core.report.predictions.write_fold_evaluation`); returns the evaluation."""
    from cxr_core.data.pipeline import build_dataset
    from cxr_core.inference.model import predict_probabilities
    from cxr_core.report.predictions import write_fold_evaluation
    from cxr_core.family import get_family

    family = get_family(cfg.model.family)
    model = model_builder(cfg, len(test_table.class_names))(bare=True)
    model.load_weights(weights_path)
    test_ds = build_dataset(test_table, pipeline_spec(cfg), batch_size=cfg.evaluation.batch_size,
                            shuffle=False, augment=False)
    probs = predict_probabilities(model, test_ds, output_kind=family.model.output_kind, scaling=cfg.preprocess.scaling)
    kept, monitor = kept_epoch_rule(cfg.train)
    return write_fold_evaluation(out_dir, test_table, probs, title=f"{cfg.name} fold {fold}",
                                 n_boot=cfg.evaluation.n_bootstrap, seed=cfg.evaluation.seed, log_path=log_path,
                                 kept=kept, monitor=monitor)


def kept_epoch_rule(train) -> tuple[str | None, str]:
    """Which epoch's weights a split keeps, as ``(kept, monitor)`` for
    :func:`cxr_core.report.figures.plot_training_curves`: ``train.checkpoint`` with
    ``train.checkpoint_monitor``, except that Keras' EarlyStopping with ``restore_best_weights`` puts its
    best epoch's weights back at the end of training (stopped early or not), so ``last`` keeps the best by
    the early-stopping monitor; ``(None, ...)`` where that best cannot be told from the log alone
    (``baseline``, ``start_from_epoch`` or an explicit ``mode``)."""
    es = dict(train.early_stopping or {})
    if train.checkpoint == "last" and es.get("restore_best_weights"):
        if es.get("baseline") is not None or es.get("start_from_epoch", 0) or es.get("mode", "auto") != "auto":
            return None, train.checkpoint_monitor
        return "best", es.get("monitor", "val_loss")
    return train.checkpoint, train.checkpoint_monitor
