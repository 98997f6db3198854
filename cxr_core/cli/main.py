"""The ``covid-cxr`` command: demo, cv, train, evaluate, predict, report, convert, explain, export.

Every subcommand's ``--help`` explains each option. This module defines the subcommands (option
groups and the options-to-library mapping they share are in :mod:`cxr_core.cli.options`), parses
arguments and calls the
library (:mod:`cxr_core.protocol.run`, :mod:`cxr_core.runs.directory`, :mod:`cxr_core.inference.model`,
:mod:`cxr_core.report.predictions`, :mod:`cxr_core.explain.overlays`, :mod:`cxr_core.inference.export`); it prints results
and sets up logging (``--quiet`` / ``--verbose``), nothing else. The paper packages are found
through the ``covid_cxr.models`` entry points (:mod:`cxr_core.family`).
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path
from typing import Sequence

from cxr_core.cli.config_show import add_config_parser
from cxr_core.cli.data import add_data_parser
from cxr_core.cli.study import add_probes_option, add_study_parser
from cxr_core.cli.options import (
    VersionAction,
    add_experiment_options,
    add_inference_options,
    add_model_options,
    evaluation_setting,
    experiment,
    families_text,
    image_files,
    inference_model,
    logging_options,
    parse_folds,
    print_count,
    set_overrides,
)
from cxr_core.errors import CxrError

# TensorFlow's start-up lines are hidden by main() (cxr_core.tf_console) before anything imports it.

EPILOG = "Experiments: experiments/<paper>/<task>.yaml. Docs: README.md."
log = logging.getLogger(__name__)


# ----------------------------------------------------------------------------------- commands
def print_written(folder: Path) -> None:
    """stdout, for scripts: the files a command wrote into ``folder`` (report, tables, figures), one per line,
    then ``folder`` itself as the last line. Progress and logs go to stderr."""
    for name in ("report.md", "report.html", "results.csv", "results_classwise.csv", "results_pooled_ci.csv",
                 "metrics.csv", "predictions.csv", "per_class.csv"):
        if (folder / name).is_file():
            print(folder / name)
    print(folder)


def cmd_cv(args) -> int:
    from cxr_core.protocol.experiment_from import require_inputs

    chosen = experiment(args)
    cfg, run_dir = chosen.config, chosen.run_dir
    require_inputs(cfg)  # a wrong path is said before TensorFlow is imported or a run directory made
    from cxr_core.protocol.run import run_protocol

    log.info("%s: run directory %s", cfg.name, run_dir)
    run_protocol(cfg, run_dir, folds=parse_folds(args.folds), smoke=args.smoke)
    log.info("done: %s", run_dir / "report.md")
    print_written(run_dir)
    return 0


def cmd_train(args) -> int:
    from cxr_core.protocol.experiment_from import require_inputs

    chosen = experiment(args, holdout=args.holdout)  # a k-fold experiment becomes one holdout split
    cfg, run_dir = chosen.config, chosen.run_dir
    require_inputs(cfg)
    from cxr_core.protocol.run import run_protocol

    log.info("%s: training one %s split into %s", cfg.name, cfg.protocol.kind, run_dir)
    run_protocol(cfg, run_dir, smoke=args.smoke)
    log.info("weights: %s; report: %s", run_dir / "fold_0" / "checkpoints", run_dir / "report.md")
    print_written(run_dir)
    return 0


def cmd_demo(args) -> int:
    from cxr_core.cli.demo import run_demo

    run_dir = run_demo(args.out, args.per_class, args.seed)
    print_written(Path(run_dir))
    return 0


def cmd_predict(args) -> int:
    from cxr_core.inference.model import predict_images
    from cxr_core.report.predictions import image_predictions_frame

    inference = inference_model(args)
    batch_size = evaluation_setting(args, inference, "batch_size")
    table, probs = predict_images(inference, image_files(args), batch_size=batch_size,
                                  verify=not args.no_verify, skip_bad=args.skip_bad)
    for _, row in table.skipped.iterrows():
        print(f"SKIPPED {row['path']}: {row['reason']}", file=sys.stderr)
    frame = image_predictions_frame(table, probs)
    names = inference.class_names
    for _, row in frame.iterrows():
        probs_text = " ".join(f"{c}={row[f'prob_{c}']:.4f}" for c in names)
        print(f"{row['path']}\t{row['predicted']}\t{probs_text}")
    if args.csv:
        from cxr_core.atomic_files import atomic_path

        with atomic_path(args.csv) as tmp:
            frame.to_csv(tmp, index=False)
    print_count(args, len(frame), "predicted", len(table.skipped))
    return 0


def cmd_evaluate(args) -> int:
    from cxr_core.inference.model import evaluation_samples, predict_table
    from cxr_core.report.predictions import write_evaluation

    if args.probes:
        from cxr_core.cli.study import cmd_probes

        return cmd_probes(args)
    inference = inference_model(args)
    run_model = inference.run_model
    if args.split == "test" and (run_model is None or run_model.fold is None):
        raise CxrError("--split test needs --run RUN_DIR (and --fold K for a k-fold run: the held-out images of "
                         "one fold)")
    data = args.data
    if data is None:
        if args.split != "test":
            raise CxrError("give --data DATA (labelled images), or --split test with --run to evaluate a fold's "
                             "held-out images")
        data = run_model.config.data.test_source if run_model.config.protocol.kind == "fixed_split" \
            else run_model.config.data.source
    table = evaluation_samples(inference, data, image_dir=args.image_dir, skip_bad=args.skip_bad)
    for _, row in table.skipped.iterrows():
        print(f"SKIPPED {row['path']}: {row['reason']}", file=sys.stderr)
    if run_model is not None:
        from cxr_core.inference.held_out import fold_test_rows, seen_warning

        if args.split == "test":
            table = fold_test_rows(run_model, table)
            log.info("--split test: the %d held-out test images of fold %d", len(table), run_model.fold)
        else:
            warning = seen_warning(run_model, table)
            if warning:
                print(warning, file=sys.stderr)
    log.info("evaluating %d images (%d skipped)", len(table), len(table.skipped))
    probs = predict_table(inference, table, batch_size=evaluation_setting(args, inference, "batch_size"))
    # the bootstrap of the run's own report (cxr_core.runs.directory.summarize_runs): evaluation.n_bootstrap and seed
    model = inference.run_model.description if inference.run_model is not None else (
        f"{inference.family.name}, weights {getattr(args, 'weights', None) or '-'}")
    if run_model is not None:
        model += "".join(note for flag, note in ((run_model.smoke, "; a SMOKE run: its weights mean nothing"),
                                                 (run_model.synthetic, "; trained on SYNTHETIC drawings, not X-rays"))
                         if flag)
    result = write_evaluation(Path(args.out), table, probs, n_boot=evaluation_setting(args, inference, "n_bootstrap"),
                              seed=inference.cfg.evaluation.seed,
                              notes=[f"model: {model}", f"data: {data}"])
    from cxr_core.runs.provenance import evaluation_provenance

    evaluation_provenance(args.out, inference, data)  # versions, devices, sha256 of the weights read
    log.info("per class:\n%s", result.per_class.round(4).to_string())
    log.info("accuracy %.4f on %d images; tables in %s", result.accuracy, len(table), args.out)
    print_count(args, len(table), "evaluated", len(table.skipped))
    print_written(Path(args.out))
    return 0


def cmd_report(args) -> int:
    from cxr_core.runs.directory import summarize_runs

    path = summarize_runs(args.run_dirs, out_dir=args.out)
    log.info("report written: %s", path)
    return 0


def cmd_convert(args) -> int:
    from cxr_core.family import get_family

    family = get_family(args.family)
    if family.weights.convert is None:
        raise SystemExit(f"model family {args.family!r} has no converter")
    result = family.weights.convert(args.src, args.dst)
    summary = getattr(result, "summary", None)  # a report object: its few lines, not its repr
    print(summary() if callable(summary) else result)
    return 0


def cmd_explain(args) -> int:
    from cxr_core.data.tables.sample_table import SampleError
    from cxr_core.explain.overlays import explain_images
    from cxr_core.inference.model import unreadable_images

    inference = inference_model(args)
    paths = image_files(args)
    bad = unreadable_images(paths)
    if bad and not args.skip_bad:
        listing = "\n  ".join(f"{p}: {why}" for p, why in list(bad.items())[:20])
        more = f"\n  ... and {len(bad) - 20} more" if len(bad) > 20 else ""
        raise SampleError(f"{len(bad)} of {len(paths)} image files cannot be decoded:\n  {listing}{more}\n"
                         "Give --skip-bad to explain the others (each bad file printed as SKIPPED)")
    for p, why in bad.items():
        print(f"SKIPPED {p}: {why}", file=sys.stderr)
    paths = [p for p in paths if p not in bad]
    written = explain_images(inference.family.name, inference.model, paths, args.out, inference.cfg.preprocess,
                             class_names=inference.class_names, target_class=args.target_class,
                             layer_name=args.layer, output_kind=inference.family.model.output_kind,
                             batch_size=evaluation_setting(args, inference, "batch_size"))
    for path in written:
        print(path)
    log.info("%d Grad-CAM overlay(s) in %s", len(written), args.out)
    print_count(args, len(paths), "explained", len(bad))
    return 0


def cmd_summary(args) -> int:
    from cxr_core.models.summary import counts_table, model_summary

    summary = model_summary(args.model, args.preset, set_overrides(args))
    print(summary.layers)
    print(counts_table(summary))
    return 0


def cmd_export(args) -> int:
    from cxr_core.inference.export import export_model, inference_metadata

    inference = inference_model(args)
    model = inference.model
    path = export_model(model, args.out, args.format, verify=not args.no_verify,
                        metadata=inference_metadata(inference))  # class names, preprocessing, provenance
    what = inference.run_model.description if inference.run_model is not None else f"the {inference.family.name} model"
    log.info("exported %s as %s: %s%s", what, args.format, path,
             "" if args.no_verify else " (reloaded: same predictions)")
    from cxr_core.inference.model_card import model_card_path

    print(model_card_path(path))
    print(path)
    return 0


def build_parser() -> argparse.ArgumentParser:
    common = logging_options()
    parser = argparse.ArgumentParser(
        prog="covid-cxr", parents=[common],
        description=f"Reference reimplementations of published chest X-ray classifiers (model families: "
                    f"{families_text()}): train, cross-validate, evaluate, predict.",
        epilog=EPILOG,
    )
    parser.add_argument("--version", action=VersionAction,
                        help="print the package, Python, TensorFlow and Keras versions and the device, then exit")
    sub = parser.add_subparsers(dest="command", required=True)

    def add(name: str, **kwargs) -> argparse.ArgumentParser:
        return sub.add_parser(name, parents=[common], **kwargs)

    p = add("demo", help="run the packaged demo experiment in smoke size on a generated SYNTHETIC dataset",
            description="Generate a small synthetic dataset (drawings, no network) and run the packaged "
                        "demo experiment (the demo.yaml a model family packages) in smoke configuration on it; writes a full "
                        "run directory.")
    p.add_argument("--out", default="demo-output", help="output folder (default demo-output)")
    p.add_argument("--per-class", type=int, default=24, help="synthetic images per class (default 24)")
    p.add_argument("--seed", type=int, default=0, help="seed of the synthetic data (default 0)")
    p.set_defaults(func=cmd_demo)

    p = add("cv", help="run an experiment's protocol (k-fold, holdout or fixed split), resumable",
            description="Run or resume an experiment's protocol fold by fold. Finished folds are skipped.")
    add_experiment_options(p)
    p.add_argument("--folds", help="only these folds, e.g. 0,1 (others can run elsewhere; merge with covid-cxr report)")
    p.set_defaults(func=cmd_cv)

    p = add("train", help="train one model on a holdout split of the data",
            description="Train one model (a k-fold experiment becomes a single holdout split).")
    add_experiment_options(p)
    p.add_argument("--holdout", type=float, default=0.2, help="held-out fraction when the experiment is k-fold (default 0.2)")
    p.set_defaults(func=cmd_train)

    p = add("evaluate", help="metrics tables for a labelled folder, manifest or split file",
            description="Predict a labelled dataset and write metrics (CSV + Markdown), CIs and confusion matrices.")
    add_inference_options(p)
    p.add_argument("--data", help="labelled data: class-per-folder directory, CSV manifest or COVIDx split file "
                   "(with --split test: default the run's own data)")
    p.add_argument("--split", choices=("all", "test"), default="all",
                   help="all: every image of --data (a WARNING counts the fold's training / validation images among "
                        "them); test: exactly the held-out test images of --run's --fold")
    p.add_argument("--image-dir", help="image folder of a COVIDx split file")
    p.add_argument("--out", default="evaluation", help="output folder (default evaluation)")
    p.add_argument("--n-bootstrap", type=int, help="bootstrap resamples for 95%% CIs (default: the run's / config's / "
                   "preset's evaluation.n_bootstrap, 1000 unless it sets one; the seed is evaluation.seed)")
    add_probes_option(p)
    p.set_defaults(func=cmd_evaluate)

    p = add("predict", help="class probabilities for images, one line per image",
            description="Print one line per image: path, predicted class, then each class probability.")
    add_inference_options(p)
    p.add_argument("images", nargs="+", help="image files or folders")
    p.add_argument("--csv", help="also write the predictions to this CSV")
    p.add_argument("--no-verify", action="store_true", help="do not check files before decoding")
    p.set_defaults(func=cmd_predict)

    p = add("report", help="merge run directories (e.g. folds run on several machines) into one report",
            description="Read every finished fold of the given run directories and write results.csv and report.md.")
    p.add_argument("run_dirs", nargs="+", help="run directories of the same experiment and data")
    p.add_argument("--out", help="where to write the merged report (default: the first run directory)")
    p.set_defaults(func=cmd_report)

    p = add("convert", help="convert the authors' weights of another framework (e.g. a PyTorch checkpoint) to Keras",
            description="Convert released weights of another framework into a Keras .weights.h5 file.")
    p.add_argument("family", help=f"model family with a converter, one of {families_text()}")
    p.add_argument("src", help="source file (e.g. covid.pth.tar)")
    p.add_argument("dst", help="destination .weights.h5")
    p.set_defaults(func=cmd_convert)

    p = add("explain", help="Grad-CAM heat maps over images (PNG), per branch for multi-branch ensembles",
            description="Write one Grad-CAM overlay PNG per image: the last convolutional feature map "
                        "of the model (the family's last_conv_layer); for a family with explain_branches, "
                        "each branch and the averaged output.")
    add_inference_options(p)
    p.add_argument("images", nargs="+", help="image files or folders")
    p.add_argument("--out", default="explanations", help="output folder (default explanations)")
    p.add_argument("--target-class", help="class name or index to explain (default: the predicted class)")
    p.add_argument("--layer", help="layer for Grad-CAM (default: the family's last convolutional layer; for a "
                   "multi-branch ensemble, naming one gives the averaged output at that layer instead of the per-branch grid)")
    p.set_defaults(func=cmd_explain)

    p = add("summary", help="a model's layer table and parameter counts beside the published ones",
            description="Build a family's model as a preset describes it (no weights read), print Keras' "
                        "layer table and the total, trainable and non-trainable parameter counts beside the "
                        "published ones the preset records (extra.expected_params).")
    p.add_argument("--model", required=True, help=f"model family, one of {families_text()}")
    p.add_argument("--preset", default="authors_code", help="preset (default authors_code)")
    p.add_argument("--set", action="append", metavar="KEY=VALUE",
                   help="override a config value, e.g. --set preprocess.image_size=[224,224] (repeatable)")
    p.set_defaults(func=cmd_summary)

    from cxr_core.inference.export import FORMATS

    p = add("export", help="export a model with its weights as .keras or TensorFlow SavedModel",
            description="Build the model, load the weights, write it as a Keras 3 .keras archive or a "
                        "TensorFlow SavedModel folder, reload it and check it predicts the same.")
    p.add_argument("out", help="destination: OUT.keras (keras) or folder OUT (savedmodel)")
    add_model_options(p, "the input size")
    p.add_argument("--format", choices=FORMATS, default="keras", help="keras (default) or savedmodel")
    p.add_argument("--no-verify", action="store_true", help="skip reloading the export and comparing predictions")
    p.set_defaults(func=cmd_export)

    add_data_parser(sub)  # covid-cxr data build | data audit
    add_config_parser(sub, common)  # covid-cxr config show
    add_study_parser(sub, common)  # covid-cxr study
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    from cxr_core.logs import configure_logging

    parser = build_parser()
    args = parser.parse_args(argv)
    quiet, verbose = getattr(args, "quiet", False), getattr(args, "verbose", False)
    from cxr_core.tf_console import quiet_tensorflow

    quiet_tensorflow(verbose=verbose)  # before anything imports TensorFlow
    configure_logging(logging.WARNING if quiet else logging.DEBUG if verbose else logging.INFO)
    from cxr_core.errors import EXPLAINED_OS_ERRORS, CxrError

    from cxr_core.runs.disk import disk_full_message, is_disk_full
    from cxr_core.runs.progress import PROGRESS

    if os.environ.get("COVID_CXR_DEBUG"):
        return int(args.func(args) or 0)  # full tracebacks
    try:
        _require_writable_outputs(args)  # a read-only --run-dir / --out is found before any work
        return int(args.func(args) or 0)
    except (CxrError, *EXPLAINED_OS_ERRORS) as exc:  # bad input: one line; anything else is a bug (traceback)
        print(f"covid-cxr {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except Exception as exc:  # TensorFlow's errors from inside tf.data: plain words, no {{function_node ...}}
        if is_disk_full(exc):  # OSError ENOSPC, or h5py / TensorFlow saying it
            print(f"covid-cxr {args.command}: error: {disk_full_message(exc, PROGRESS.run_dir)}", file=sys.stderr)
            return 2
        if isinstance(exc, OSError):  # permissions, a read-only disk...: one line naming the file
            print(f"covid-cxr {args.command}: error: {exc.filename or ''}: {exc.strerror or exc}".replace(
                "error: : ", "error: "), file=sys.stderr)
            return 2
        tf = sys.modules.get("tensorflow")
        if tf is None or not isinstance(exc, tf.errors.OpError):
            raise
        from cxr_core.data.decode.formats import pipeline_error_text

        print(f"covid-cxr {args.command}: error: {pipeline_error_text(exc)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return _interrupted(args)


def _require_writable_outputs(args) -> None:
    """Every output the command names (``--run-dir``, else ``--out``; ``--csv``) can be written."""
    from cxr_core.runs.disk import require_writable

    run_dir = getattr(args, "run_dir", None)
    outputs = [("--run-dir", run_dir)] if run_dir else [("--out", getattr(args, "out", None))]
    for option, path in [*outputs, ("--csv", getattr(args, "csv", None))]:
        if path:
            require_writable(path, option)


def _interrupted(args) -> int:
    """Ctrl-C: one line saying where the run stopped and how to resume (cxr_core.runs.progress); exit 130."""
    from cxr_core.runs.progress import PROGRESS, RESUME_HINT

    for handler in logging.getLogger().handlers:
        handler.flush()
    sys.stdout.flush()
    text = "interrupted"
    if PROGRESS.run_dir is not None:
        text = PROGRESS.interrupted_message()
        if getattr(args, "run_dir", "given") is None:  # a new timestamped run directory: name it
            text = text.replace(RESUME_HINT, f"run the same command with --run-dir {PROGRESS.run_dir} to resume")
    print(f"covid-cxr {args.command}: {text}", file=sys.stderr, flush=True)
    return 130


if __name__ == "__main__":
    sys.exit(main())
