"""``covid-cxr config show EXPERIMENT``: the resolved config and where each value came from, before anything runs.

Each leaf value is printed as ``key: value  # origin``, the origin being the first that set it of:
``smoke`` (``--smoke``'s settings), ``--set`` / the experiment option that sets it (``--data``,
``--epochs`` ...), ``yaml`` (the experiment file), ``preset <family/name>``, ``default`` (the config
schema's default). Nothing here imports TensorFlow; a bad value is the same one-line error as ``cv``.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any, Mapping

import yaml

from cxr_core.cli.options import add_experiment_options, config_overrides, experiment
from cxr_core.config.notes import MISSING, dotted_leaves, lookup


def add_config_parser(sub, common: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """Add ``config show`` to the sub-parsers ``sub`` of ``covid-cxr``."""
    p = sub.add_parser("config", parents=[common], help="show an experiment's resolved config and each value's origin",
                       description="Inspect an experiment's configuration without running anything.")
    csub = p.add_subparsers(dest="config_command", required=True, metavar="{show}")
    s = csub.add_parser("show", parents=[common], help="the resolved config, each value with its origin "
                        "(preset, yaml, --set or option, smoke, default)",
                        description="Print the config a `cv`/`train` with the same options would run, each value "
                                    "followed by where it came from.")
    add_experiment_options(s)
    s.add_argument("--format", choices=("yaml", "csv"), default="yaml",
                   help="yaml: key: value  # origin (default); csv: key,value,origin rows")
    s.set_defaults(func=cmd_config_show)
    return p


def value_origins(args) -> list[tuple[str, Any, str]]:
    """``(dotted key, value, origin)`` for every leaf of the config ``args`` resolve to (see the module doc)."""
    from cxr_core.config.experiment import config_to_dict, preset_values, smoke_overrides

    cfg = experiment(args).config
    resolved = dotted_leaves(config_to_dict(cfg))
    raw = yaml.safe_load(Path(args.config).read_text(encoding="utf-8")) or {}
    explicit = config_overrides(args)
    preset_name = explicit.get("preset") or raw.get("preset")
    preset = dotted_leaves(preset_values(preset_name)[0]) if preset_name else {}
    smoke = dotted_leaves(smoke_overrides(cfg)) if getattr(args, "smoke", False) else {}
    options = _option_names(args)
    rows = []
    for key, value in resolved.items():
        if key in dotted_leaves(explicit) or _under(key, explicit):
            origin = options.get(key, "--set")
        elif key in smoke:
            origin = "smoke"
        elif key in dotted_leaves(raw) or _under(key, raw):
            origin = "yaml"
        elif key in preset or _under(key, preset_values(preset_name)[0] if preset_name else {}):
            origin = f"preset {preset_name}"
        else:
            origin = "default"
        rows.append((key, value, origin))
    return rows


def _under(key: str, tree: Mapping) -> bool:
    """Whether ``key`` (dotted) lies inside a value that ``tree`` sets as a whole (e.g. a mapping option)."""
    return lookup(tree, key) is not MISSING


def _option_names(args) -> dict[str, str]:
    names = {"data.source": "--data", "data.test_source": "--test-data", "data.validation_source": "--val-data",
             "model.init_from": "--init-from", "train.epochs": "--epochs", "train.batch_size": "--batch-size",
             "train.mixed_precision": "--mixed-precision", "train.strategy": "--strategy",
             "train.mlflow_uri": "--mlflow", "train.jit_compile": "--jit-compile"}
    from cxr_core.cli.options import set_overrides

    from_set = set(dotted_leaves(set_overrides(args)))
    return {key: option for key, option in names.items() if key not in from_set}


def cmd_config_show(args) -> int:
    rows = value_origins(args)
    if args.format == "csv":
        import csv
        import sys

        writer = csv.writer(sys.stdout)
        writer.writerow(["key", "value", "origin"])
        for key, value, origin in rows:
            writer.writerow([key, json.dumps(value), origin])
        return 0
    width = max(len(f"{k}: {json.dumps(v)}") for k, v, _ in rows)
    for key, value, origin in rows:
        text = f"{key}: {json.dumps(value)}"
        print(f"{text:<{min(width, 80)}}  # {origin}")
    return 0
