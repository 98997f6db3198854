"""Commands that need no model start without importing TensorFlow (issue: 10-19 s per call before).

The commands run one after another in a fresh interpreter, through the same entry point as the
``covid-cxr`` script; after each, the probe records whether ``tensorflow`` or ``keras`` is in
``sys.modules`` (once imported they stay, so the first command that imports them is the one named).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path


REPO = Path(__file__).resolve().parents[3]

PROBE = """
import contextlib, io, json, sys
from cxr_core.cli.main import main
results = []
for args in json.loads(sys.argv[1]):
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        try:
            code = main(args)
        except SystemExit as stop:
            code = stop.code
    results.append({"args": args, "code": code, "tensorflow": "tensorflow" in sys.modules,
                    "keras": "keras" in sys.modules})
print(json.dumps(results))
"""

SUBCOMMANDS = ("demo", "cv", "train", "evaluate", "predict", "report", "convert", "explain", "summary",
               "export", "data", "data build", "data audit", "config", "config show")


def _probe(commands: list[list[str]]) -> list[dict]:
    out = subprocess.run([sys.executable, "-c", PROBE, json.dumps(commands)], cwd=REPO, capture_output=True,
                         text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_commands_that_need_no_model_do_not_import_tensorflow(tmp_path):
    commands = [["--help"], ["--version"], *[[*c.split(), "--help"] for c in SUBCOMMANDS],
                ["data", "build", "list"],
                ["config", "show", "experiments/coronet/4class.yaml", "--smoke"],
                ["cv", "experiments/coronet/4class.yaml", "--data", str(tmp_path), "--set",
                 "preprocess.resize_method=cubic"],
                ["cv", "experiments/coronet/4class.yaml", "--data", str(tmp_path / "nowhere"), "--smoke"]]
    expected_codes = [0] * (len(commands) - 2) + [2, 2]  # the last two: a config error, a missing --data
    results = _probe(commands)
    first = next((r for r in results if r["tensorflow"] or r["keras"]), None)
    assert first is None, f"imports TensorFlow/Keras: covid-cxr {' '.join(first['args'])}"
    assert [r["code"] for r in results] == expected_codes, results
