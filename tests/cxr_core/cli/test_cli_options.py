"""The option-to-config mapping the ``covid-cxr`` subcommands share (cxr_core.cli.options)."""

from __future__ import annotations

from pathlib import Path

import pytest

import cxr_core
from cxr_core.cli.main import build_parser
from cxr_core.cli.options import config_overrides, set_overrides

CLI_MODULES = ("cli/main.py", "cli/options.py", "cli/data.py")


@pytest.mark.parametrize("argv", [
    ["summary", "--model", "m"],
    ["predict", "--model", "m", "img.png"],
    ["cv", "x.yaml"],
])
def test_set_options_merge_in_order_for_every_subcommand(argv):
    sets = ["--set", "train.epochs=3", "--set", "train.optimizer={name: sgd}", "--set", "train.epochs=5",
            "--set", "train.optimizer.learning_rate=0.1"]
    args = build_parser().parse_args([*argv, *sets])
    assert set_overrides(args) == {"train": {"epochs": 5, "optimizer": {"name": "sgd", "learning_rate": 0.1}}}
    assert set_overrides(build_parser().parse_args(argv)) == {}


def test_experiment_options_come_on_top_of_set():
    args = build_parser().parse_args(["cv", "x.yaml", "--set", "train.epochs=3", "--set", "data.source=A",
                                      "--data", "B", "--epochs", "7"])
    assert config_overrides(args) == {"train": {"epochs": 7}, "data": {"source": "B"}}


def test_the_set_merge_is_written_once():
    """cmd_summary, config_overrides and inference_model share :func:`set_overrides`."""
    package = Path(cxr_core.__file__).parent
    calls = {name: (package / name).read_text(encoding="utf-8").count("parse_override(") for name in CLI_MODULES}
    assert sum(calls.values()) == 1 and calls["cli/options.py"] == 1, calls
