"""What the ``covid-cxr`` subcommands share: option groups and the mapping of parsed options onto the library.

:mod:`cxr_core.cli.main` defines the subcommands; a new subcommand (or a module of them) takes its option
groups from here (:func:`add_experiment_options`, :func:`add_model_options`,
:func:`add_inference_options`) and turns parsed options into library calls with
:func:`experiment` and :func:`inference_model`. Nothing here prints
results; skipped files and counts go to stderr.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from cxr_core.config.choices import MIXED_PRECISIONS, STRATEGIES

log = logging.getLogger(__name__)


def parse_folds(text: str | None) -> list[int] | None:
    if text is None:
        return None
    try:
        return [int(v) for v in text.split(",") if v.strip() != ""]
    except ValueError:
        raise SystemExit(f"--folds: expected comma-separated fold numbers like 0,1, found {text!r}") from None


def set_overrides(args) -> dict:
    """The ``--set KEY=VALUE`` options alone, merged in order (a later one wins); ``{}`` without any."""
    from cxr_core.config.experiment import deep_merge, parse_override

    merged: dict = {}
    for text in getattr(args, "set", None) or []:
        merged = deep_merge(merged, parse_override(text))
    return merged


def config_overrides(args) -> dict:
    """``--set`` and the experiment options (``--data``, ``--epochs``, ...) as nested config values."""
    from cxr_core.config.experiment import deep_merge
    from cxr_core.protocol.experiment_from import input_overrides

    merged = deep_merge(set_overrides(args), input_overrides(
        data=getattr(args, "data", None) or None, test_data=getattr(args, "test_data", None) or None,
        val_data=getattr(args, "val_data", None) or None, init_from=getattr(args, "init_from", None) or None))
    for flag, section, key in (
        ("mixed_precision", "train", "mixed_precision"),
        ("strategy", "train", "strategy"),
        ("epochs", "train", "epochs"),
        ("batch_size", "train", "batch_size"),
    ):
        value = getattr(args, flag, None)
        if value is not None:
            merged = deep_merge(merged, {section: {key: value}})
    if getattr(args, "jit_compile", False):
        merged = deep_merge(merged, {"train": {"jit_compile": True, "deterministic": False}})
    if getattr(args, "mlflow", None):
        merged = deep_merge(merged, {"train": {"mlflow_uri": args.mlflow}})
    return merged


def experiment(args, *, holdout: float | None = None):
    """The :class:`~cxr_core.protocol.experiment_from.Experiment` (config and run directory) of ``cv`` /
    ``train``'s options: :func:`~cxr_core.protocol.experiment_from.experiment_from`, as the Python API."""
    from cxr_core.protocol.experiment_from import experiment_from

    return experiment_from(args.config, config_overrides(args), smoke=getattr(args, "smoke", False),
                           holdout=holdout, run_dir=args.run_dir or None, out=args.out)


def inference_model(args):
    from cxr_core.inference.model import load_inference_model

    inference = load_inference_model(
        args.weights, config=args.config, family=args.model, preset=args.preset,
        class_names=args.class_names.split(",") if args.class_names else None,
        run=args.run, fold=args.fold, overrides=set_overrides(args),
        ensemble=args.command in ("predict", "evaluate"),  # a k-fold run without --fold: the fold ensemble
    )
    if inference.run_model is not None:
        size = "x".join(map(str, inference.cfg.preprocess.image_size))
        notes = [text for flag, text in ((inference.run_model.smoke, "SMOKE run"),
                                         (inference.run_model.synthetic, "trained on SYNTHETIC drawings, not X-rays"))
                 if flag]
        log.info("model: %s, input %s, classes %s%s", inference.run_model.description, size,
                 ",".join(inference.class_names), f" ({'; '.join(notes)})" if notes else "")
    return inference


def evaluation_setting(args, inference, name: str):
    """``--batch-size`` / ``--n-bootstrap`` when given, else the model's config ``evaluation.<name>``
    (the run's / config's / preset's, after ``--set``), so ``evaluate --run`` computes what the run's
    own report computed."""
    value = getattr(args, name, None)
    return getattr(inference.cfg.evaluation, name) if value is None else value


def image_files(args) -> list[Path]:
    """The image files of ``args.images``; every other file of the folders is printed as SKIPPED."""
    from cxr_core.inference.model import folder_files

    paths, left_out = folder_files(args.images)
    args.n_left_out = len(left_out)
    for path, why in left_out:
        print(f"SKIPPED {path}: {why}", file=sys.stderr)
    return paths


def print_count(args, done: int, what: str, skipped: int) -> None:
    """The closing count line of predict / evaluate / explain (stderr)."""
    total = skipped + getattr(args, "n_left_out", 0)
    print(f"{done} image(s) {what}, {total} file(s) skipped" + (" (each listed above as SKIPPED)" if total else ""),
          file=sys.stderr)


# ----------------------------------------------------------------------------------- option groups
def families_text() -> str:
    """The registered model families, for help texts (entry points are read, not imported)."""
    from cxr_core.family import available_families

    return ", ".join(available_families()) or "none registered"


def add_experiment_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("config", help="experiment YAML (e.g. experiments/<family>/<experiment>.yaml)")
    p.add_argument("--data", help="dataset: class-per-folder directory, CSV manifest (path,label[,patient_id]) or COVIDx split file; overrides data.source")
    p.add_argument("--test-data", help="fixed test split (protocol.kind fixed_split); overrides data.test_source")
    p.add_argument("--val-data", help="fixed validation split of a fixed_split protocol (e.g. COVID-CT's valid list); "
                   "sets data.validation_source and protocol.validation=validation_source")
    p.add_argument("--init-from", help="start from these weights (model.init_from): a weights file, a run directory "
                   "(fold k from its fold k with the same protocol, else its final model) or a run's fold_k folder")
    p.add_argument("--run-dir", help="run directory to create or resume (default: OUT/<name>/<timestamp>)")
    p.add_argument("--out", default="runs", help="parent folder for new run directories (default: runs)")
    p.add_argument("--smoke", action="store_true", help="CPU smoke mode: tiny input, 1 epoch, 2 steps, few bootstrap resamples")
    p.add_argument("--set", action="append", metavar="KEY=VALUE", help="override a config value, e.g. --set train.epochs=3 (repeatable; VALUE is YAML)")
    p.add_argument("--epochs", type=int, help="override train.epochs")
    p.add_argument("--batch-size", type=int, help="override train.batch_size (global batch across replicas)")
    p.add_argument("--mixed-precision", choices=MIXED_PRECISIONS,
                   help="Keras mixed precision policy (softmax stays float32); mixed_float16_on_gpu: mixed_float16 where a "
                        "GPU is visible, else float32 (train.mixed_precision)")
    p.add_argument("--jit-compile", action="store_true",
                   help="compile train/predict steps with XLA (slower on CPU; try it on GPUs); also sets "
                        "train.deterministic=false, since Keras compiles without XLA while op determinism is on")
    p.add_argument("--strategy", choices=STRATEGIES, help="tf.distribute strategy; multi_worker reads TF_CONFIG")
    p.add_argument("--mlflow", metavar="URI", help="also log the run to MLflow at this tracking URI (e.g. sqlite:///mlflow.db): "
                   "config, metrics per epoch, report and figures; needs pip install 'covid-cxr-tf[mlflow]' (train.mlflow_uri)")


def add_model_options(p: argparse.ArgumentParser, what: str = "input size, resize and scaling") -> None:
    p.add_argument("--run", metavar="RUN_DIR", help="a finished run directory (or its fold_K folder): its resolved config "
                   "(input size, scaling, classes) and the fold's selected weights; replaces --model/--config/--weights")
    p.add_argument("--fold", type=int, metavar="K", help="with --run: the fold whose model to use; without it a k-fold "
                   "run gives the fold ensemble for predict/evaluate (mean of the finished folds' probabilities) and is "
                   "required by explain/export; a run with one split needs none")
    p.add_argument("--model", help=f"model family, one of {families_text()} (required without --config or --run)")
    p.add_argument("--preset", default="authors_code", help=f"preset giving {what} (default authors_code)")
    p.add_argument("--config", help="experiment YAML instead of --model/--preset")
    p.add_argument("--weights", help="weights: our .weights.h5, or the authors' released Keras-2 HDF5 (required "
                   "without --run; with --run it replaces the fold's selected weights)")
    p.add_argument("--class-names", help="comma-separated class names in the model's output order (default: the "
                   "run's / preset's)")
    p.add_argument("--set", action="append", metavar="KEY=VALUE", help="override a config value of the run / config / "
                   "preset, e.g. --set evaluation.batch_size=8 (repeatable; VALUE is YAML)")


def add_inference_options(p: argparse.ArgumentParser) -> None:
    add_model_options(p)
    p.add_argument("--batch-size", type=int, help="images per prediction batch (default: the run's / config's / "
                   "preset's evaluation.batch_size, 32 unless it sets one; also --set evaluation.batch_size=N)")
    p.add_argument("--skip-bad", action="store_true", help="skip undecodable files (listed) instead of stopping")


def logging_options() -> argparse.ArgumentParser:
    """-q/--quiet and -v/--verbose, accepted before or after the subcommand."""
    common = argparse.ArgumentParser(add_help=False)
    group = common.add_mutually_exclusive_group()
    group.add_argument("-q", "--quiet", action="store_true", default=argparse.SUPPRESS,
                       help="only warnings and errors (no progress lines)")
    group.add_argument("-v", "--verbose", action="store_true", default=argparse.SUPPRESS,
                       help="debug lines too, with the logger's name, and TensorFlow's own log lines")
    return common


class VersionAction(argparse.Action):
    """``--version``: package, Python, TensorFlow, Keras and device; TensorFlow is imported (quietly) only
    with ``--verbose``, to list the devices it sees."""

    def __init__(self, option_strings, dest=argparse.SUPPRESS, default=argparse.SUPPRESS, help=None):
        super().__init__(option_strings, dest=dest, default=default, nargs=0, help=help)

    def __call__(self, parser, namespace, values, option_string=None):
        from cxr_core.tf_console import quiet_tensorflow, version_text

        verbose = bool(getattr(namespace, "verbose", False))
        if verbose:
            quiet_tensorflow(verbose=True)
        print(version_text(probe_devices=verbose))
        parser.exit()
