"""The ``covid-cxr`` command: demo, cv, train, evaluate, predict, report, convert, explain, export.

Every subcommand's ``--help`` explains each option. The paper packages are found through the
``covid_cxr.models`` entry points (:mod:`cxr_core.registry`).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path
from typing import Sequence

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

EPILOG = "Experiments: experiments/<paper>/<task>.yaml. Docs: README.md."


def _log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


def _parse_folds(text: str | None) -> list[int] | None:
    if text is None:
        return None
    try:
        return [int(v) for v in text.split(",") if v.strip() != ""]
    except ValueError:
        raise SystemExit(f"--folds: expected comma-separated fold numbers like 0,1, found {text!r}") from None


def _overrides(args) -> dict:
    from cxr_core.config import deep_merge, parse_override

    merged: dict = {}
    for text in getattr(args, "set", None) or []:
        merged = deep_merge(merged, parse_override(text))
    if getattr(args, "data", None):
        merged = deep_merge(merged, {"data": {"source": str(args.data)}})
    if getattr(args, "test_data", None):
        merged = deep_merge(merged, {"data": {"test_source": str(args.test_data)}})
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
        merged = deep_merge(merged, {"train": {"jit_compile": True}})
    return merged


def _experiment(args):
    from cxr_core.config import load_config, replace, smoke_overrides

    cfg = load_config(args.config, overrides=_overrides(args))
    if getattr(args, "smoke", False):
        cfg = replace(cfg, smoke_overrides(cfg))
        cfg = replace(cfg, _overrides(args))  # explicit options win over the smoke settings
    return cfg


def _run_dir(args, cfg) -> Path:
    if args.run_dir:
        return Path(args.run_dir)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    return Path(args.out) / cfg.name / stamp


def _add_experiment_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("config", help="experiment YAML (e.g. experiments/coronet/4class.yaml)")
    p.add_argument("--data", help="dataset: class-per-folder directory, CSV manifest (path,label[,patient_id]) or COVIDx split file; overrides data.source")
    p.add_argument("--test-data", help="fixed test split (protocol.kind fixed_split); overrides data.test_source")
    p.add_argument("--run-dir", help="run directory to create or resume (default: OUT/<name>/<timestamp>)")
    p.add_argument("--out", default="runs", help="parent folder for new run directories (default: runs)")
    p.add_argument("--smoke", action="store_true", help="CPU smoke mode: tiny input, 1 epoch, 2 steps, few bootstrap resamples")
    p.add_argument("--set", action="append", metavar="KEY=VALUE", help="override a config value, e.g. --set train.epochs=3 (repeatable; VALUE is YAML)")
    p.add_argument("--epochs", type=int, help="override train.epochs")
    p.add_argument("--batch-size", type=int, help="override train.batch_size (global batch across replicas)")
    p.add_argument("--mixed-precision", choices=["mixed_float16", "mixed_bfloat16"], help="Keras mixed precision policy (softmax stays float32)")
    p.add_argument("--jit-compile", action="store_true", help="compile train/predict steps with XLA (slower on CPU; try it on GPUs)")
    p.add_argument("--strategy", choices=["default", "mirrored", "multi_worker"], help="tf.distribute strategy; multi_worker reads TF_CONFIG")


def cmd_cv(args) -> int:
    from cxr_core.protocol import run_protocol

    cfg = _experiment(args)
    run_dir = _run_dir(args, cfg)
    _log(f"{cfg.name}: run directory {run_dir}")
    run_protocol(cfg, run_dir, folds=_parse_folds(args.folds), smoke=args.smoke, progress=_log)
    _log(f"done: {run_dir / 'report.md'}")
    return 0


def cmd_train(args) -> int:
    from cxr_core.config import replace
    from cxr_core.protocol import run_protocol

    cfg = _experiment(args)
    if cfg.protocol.kind == "kfold":
        cfg = replace(cfg, {"protocol": {"kind": "holdout", "holdout_fraction": args.holdout}})
    run_dir = _run_dir(args, cfg)
    _log(f"{cfg.name}: training one {cfg.protocol.kind} split into {run_dir}")
    run_protocol(cfg, run_dir, smoke=args.smoke, progress=_log)
    _log(f"weights: {run_dir / 'fold_0' / 'checkpoints'}; report: {run_dir / 'report.md'}")
    return 0


def cmd_demo(args) -> int:
    from cxr_core.demo import run_demo

    run_demo(args.out, args.per_class, args.seed, progress=_log)
    return 0


def _inference_setup(args):
    """(family, experiment config, model) for evaluate / predict."""
    from cxr_core.config import load_config, resolve_config
    from cxr_core.registry import get_family

    if args.config:
        cfg = load_config(args.config)
    else:
        cfg = resolve_config({"preset": f"{args.model}/{args.preset}"}, origin="--model/--preset")
    family = get_family(cfg.model.family if args.config else args.model)
    class_names = tuple(args.class_names.split(",")) if args.class_names else cfg.data.class_names
    if not class_names:
        raise SystemExit("--class-names is required: the preset names no classes")
    model = load_model_weights(family, cfg, class_names, args.weights)
    return family, cfg, model, tuple(class_names)


def load_model_weights(family, cfg, class_names, weights: str):
    """Build the family's model for ``cfg`` and load ``weights`` (ours, or the authors' legacy files)."""
    from cxr_core.protocol import model_builder

    path = Path(weights)
    if not path.is_file():
        raise SystemExit(f"--weights: file not found: {path}")
    model = model_builder(cfg, len(class_names), for_weights=True)()
    if path.name.endswith(".weights.h5") or path.suffix == ".keras":
        model.load_weights(path)
        return model
    if family.load_weights is None:
        raise SystemExit(f"model family {family.name!r} cannot load {path.name}; give a Keras 3 .weights.h5 file")
    return family.load_weights(model, str(path)) or model


def _image_paths(items: Sequence[str]) -> list[Path]:
    from cxr_core.data.images import IMAGE_EXTENSIONS

    paths: list[Path] = []
    for item in items:
        p = Path(item)
        if p.is_dir():
            found = sorted(q for q in p.rglob("*") if q.suffix.lower() in IMAGE_EXTENSIONS)
            if not found:
                raise SystemExit(f"{p}: folder holds no images ({', '.join(IMAGE_EXTENSIONS)})")
            paths.extend(found)
        elif p.is_file():
            paths.append(p)
        else:
            raise SystemExit(f"{p}: no such file or folder")
    return paths


def cmd_predict(args) -> int:
    import numpy as np
    import pandas as pd

    from cxr_core.data.pipeline import build_dataset
    from cxr_core.data.samples import SampleTable
    from cxr_core.protocol import pipeline_spec, predict_probabilities

    family, cfg, model, class_names = _inference_setup(args)
    paths = _image_paths(args.images)
    frame = pd.DataFrame(
        {
            "sample_id": [str(p) for p in paths],
            "path": [str(p.resolve()) for p in paths],
            "label": class_names[0],
            "label_index": 0,
            "patient_id": pd.NA,
            "source": pd.NA,
        }
    )
    table = SampleTable(frame, class_names)
    if not args.no_verify:
        from cxr_core.data.images import verify_images

        table = verify_images(table, on_error="skip" if args.skip_bad else "raise")
        for _, row in table.skipped.iterrows():
            print(f"SKIPPED {row['path']}: {row['reason']}", file=sys.stderr)
    spec = pipeline_spec(cfg)
    ds = build_dataset(table, spec, batch_size=args.batch_size, shuffle=False, augment=False)
    probs = predict_probabilities(model, ds, output_kind=family.output_kind)
    rows = []
    for sid, p in zip(table.frame["sample_id"], probs):
        best = int(np.argmax(p))
        probs_text = " ".join(f"{c}={v:.4f}" for c, v in zip(class_names, p))
        print(f"{sid}\t{class_names[best]}\t{probs_text}")
        rows.append({"path": sid, "predicted": class_names[best], **{f"prob_{c}": float(v) for c, v in zip(class_names, p)}})
    if args.csv:
        from cxr_core.io import atomic_path

        with atomic_path(args.csv) as tmp:
            pd.DataFrame(rows).to_csv(tmp, index=False)
    if len(table.skipped):
        print(f"{len(table.skipped)} file(s) skipped (listed above)", file=sys.stderr)
    return 0


def cmd_evaluate(args) -> int:
    from cxr_core.config import replace
    from cxr_core.data.pipeline import build_dataset
    from cxr_core.metrics import evaluate_predictions
    from cxr_core.protocol import load_samples, pipeline_spec, predict_probabilities, predictions_frame
    from cxr_core.report import plot_confusion_matrix, write_table

    family, cfg, model, class_names = _inference_setup(args)
    data_over = {"source": str(args.data), "class_names": list(class_names), "on_bad_file": "skip" if args.skip_bad else "raise"}
    if not args.config:
        # A preset's label map and split-file format describe its training data, not the user's.
        data_over.update(label_map=None, format="auto")
    if args.image_dir:
        data_over["image_dir"] = args.image_dir
    cfg = replace(cfg, {"data": data_over})
    table = load_samples(cfg)
    out = Path(args.out)
    ds = build_dataset(table, pipeline_spec(cfg), batch_size=args.batch_size, shuffle=False, augment=False)
    _log(f"evaluating {len(table)} images ({len(table.skipped)} skipped)")
    probs = predict_probabilities(model, ds, output_kind=family.output_kind)
    result = evaluate_predictions(table.labels, probs, class_names, n_boot=args.n_bootstrap, seed=0)
    write_table(result.per_class, out / "metrics")
    write_table(result.ci, out / "metrics_ci")
    write_table(predictions_frame(table, probs), out / "predictions", floatfmt=".6f")
    plot_confusion_matrix(result.confusion, class_names, out / "confusion_matrix.png", title="evaluation")
    plot_confusion_matrix(result.confusion, class_names, out / "confusion_matrix_normalized.png", normalize=True,
                          title="evaluation (row-normalised)")
    if len(table.skipped):
        from cxr_core.io import atomic_path

        with atomic_path(out / "skipped.csv") as tmp:
            table.skipped.to_csv(tmp, index=False)
    print(result.per_class.round(4).to_string())
    print(f"accuracy {result.accuracy:.4f} on {len(table)} images; tables in {out}")
    return 0


def cmd_report(args) -> int:
    from cxr_core.protocol import summarize_runs

    path = summarize_runs(args.run_dirs, out_dir=args.out)
    _log(f"report written: {path}")
    return 0


def cmd_convert(args) -> int:
    from cxr_core.registry import get_family

    family = get_family(args.family)
    converter = family.convert
    if converter is None:
        raise SystemExit(f"model family {args.family!r} has no converter")
    report = converter(args.src, args.dst)
    print(report)
    return 0


def _add_inference_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", default="coronet", help="model family: coronet, cvrnet, coronanet (default coronet)")
    p.add_argument("--preset", default="authors_code", help="preset giving input size, resize and scaling (default authors_code)")
    p.add_argument("--config", help="experiment YAML instead of --model/--preset")
    p.add_argument("--weights", required=True, help="weights: our .weights.h5, or the authors' released Keras-2 HDF5")
    p.add_argument("--class-names", help="comma-separated class names in the model's output order (default: the preset's)")
    p.add_argument("--batch-size", type=int, default=32, help="images per prediction batch (default 32)")
    p.add_argument("--skip-bad", action="store_true", help="skip undecodable files (listed) instead of stopping")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="covid-cxr",
        description="Reference reimplementations of CoroNet, CVR-Net and CORONA-Net: train, cross-validate, evaluate, predict.",
        epilog=EPILOG,
    )
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("demo", help="run the CoroNet 4-fold protocol in smoke size on a generated SYNTHETIC dataset",
                       description="Generate a small synthetic dataset (drawings, no network) and run the CoroNet "
                                   "4-fold protocol in smoke configuration on it; writes a full run directory.")
    p.add_argument("--out", default="demo-output", help="output folder (default demo-output)")
    p.add_argument("--per-class", type=int, default=24, help="synthetic images per class (default 24)")
    p.add_argument("--seed", type=int, default=0, help="seed of the synthetic data (default 0)")
    p.set_defaults(func=cmd_demo)

    p = sub.add_parser("cv", help="run an experiment's protocol (k-fold, holdout or fixed split), resumable",
                       description="Run or resume an experiment's protocol fold by fold. Finished folds are skipped.")
    _add_experiment_options(p)
    p.add_argument("--folds", help="only these folds, e.g. 0,1 (others can run elsewhere; merge with covid-cxr report)")
    p.set_defaults(func=cmd_cv)

    p = sub.add_parser("train", help="train one model on a holdout split of the data",
                       description="Train one model (a k-fold experiment becomes a single holdout split).")
    _add_experiment_options(p)
    p.add_argument("--holdout", type=float, default=0.2, help="held-out fraction when the experiment is k-fold (default 0.2)")
    p.set_defaults(func=cmd_train)

    p = sub.add_parser("evaluate", help="metrics tables for a labelled folder, manifest or split file",
                       description="Predict a labelled dataset and write metrics (CSV + Markdown), CIs and confusion matrices.")
    _add_inference_options(p)
    p.add_argument("--data", required=True, help="labelled data: class-per-folder directory, CSV manifest or COVIDx split file")
    p.add_argument("--image-dir", help="image folder of a COVIDx split file")
    p.add_argument("--out", default="evaluation", help="output folder (default evaluation)")
    p.add_argument("--n-bootstrap", type=int, default=1000, help="bootstrap resamples for 95%% CIs (default 1000)")
    p.set_defaults(func=cmd_evaluate)

    p = sub.add_parser("predict", help="class probabilities for images, one line per image",
                       description="Print one line per image: path, predicted class, then each class probability.")
    _add_inference_options(p)
    p.add_argument("images", nargs="+", help="image files or folders")
    p.add_argument("--csv", help="also write the predictions to this CSV")
    p.add_argument("--no-verify", action="store_true", help="do not check files before decoding")
    p.set_defaults(func=cmd_predict)

    p = sub.add_parser("report", help="merge run directories (e.g. folds run on several machines) into one report",
                       description="Read every finished fold of the given run directories and write results.csv and report.md.")
    p.add_argument("run_dirs", nargs="+", help="run directories of the same experiment and data")
    p.add_argument("--out", help="where to write the merged report (default: the first run directory)")
    p.set_defaults(func=cmd_report)

    p = sub.add_parser("convert", help="convert the authors' weights (e.g. CORONA-Net PyTorch checkpoint) to Keras",
                       description="Convert released weights of another framework into a Keras .weights.h5 file.")
    p.add_argument("family", help="model family, e.g. coronanet")
    p.add_argument("src", help="source file (e.g. covid.pth.tar)")
    p.add_argument("dst", help="destination .weights.h5")
    p.set_defaults(func=cmd_convert)

    from cxr_core.explain import add_explain_parser
    from cxr_core.export import add_export_parser

    add_explain_parser(sub)
    add_export_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    from cxr_core.config import ConfigError
    from cxr_core.legacy import WeightFileError
    from cxr_core.protocol import RunDirectoryError

    if os.environ.get("COVID_CXR_DEBUG"):
        return int(args.func(args) or 0)  # full tracebacks
    try:
        return int(args.func(args) or 0)
    except (ConfigError, WeightFileError, RunDirectoryError, FileNotFoundError, ValueError, KeyError) as exc:
        print(f"covid-cxr {args.command}: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
