"""Looking up published tables and writing the report of an existing run do not import TensorFlow.

Each check runs in a fresh interpreter (this one has imported TensorFlow long ago) and asserts that
``tensorflow`` and ``keras`` are absent from ``sys.modules`` afterwards: the paper packages' family
records (``<paper>/family.py``) hold lazy references to everything that imports Keras.
"""

from __future__ import annotations

import pytest

import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

REPO = Path(__file__).resolve().parents[3]


def _run_fresh(code: str) -> str:
    """Run ``code`` in a new interpreter at the repository root, then fail if it imported TensorFlow."""
    check = textwrap.dedent(code) + textwrap.dedent("""
        import sys
        heavy = sorted(m for m in ("tensorflow", "keras", "torch") if m in sys.modules)
        assert not heavy, f"imported {heavy}"
        print("NO-TENSORFLOW")
    """)
    env = {"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin", "HOME": str(Path.home())}
    done = subprocess.run([sys.executable, "-c", check], cwd=REPO, env=env, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0 and "NO-TENSORFLOW" in done.stdout, done.stdout + done.stderr
    return done.stdout


def test_every_published_table_and_family_record_loads_without_tensorflow():
    out = _run_fresh("""
        from cxr_core.family import iter_families
        from cxr_core.report import published as P
        from cxr_core.report.markdown import summary_keys
        import coronet_tf, cvrnet_tf, coronanet_tf  # the packages themselves stay light

        families = list(iter_families())
        keys = P.list_tables()
        frames = [P.published_table(key) for key in keys]
        assert P.resolve_published_key("cvrnet/abstract_task2") == ("cvrnet/abstract", {"task": 2})
        assert len(summary_keys()) >= 3 and all(len(f) for f in frames)
        recipes = [name for f in families for name in f.data.recipes]
        presets = [(f.name, name) for f in families for name in f.presets]
        print(len(families), len(keys), len(recipes), len(presets))
    """)
    n_families, n_tables = map(int, out.split()[:2])
    assert n_families >= 3 and n_tables >= 18  # the three papers' tables (9 + 3 + 6)


@pytest.mark.slow
def test_report_of_an_existing_run_does_not_import_tensorflow(tmp_path):
    """``covid-cxr report RUN`` on a finished CVR-Net task-1 run (hand-written predictions): the report,
    with its published comparison (``cvrnet/abstract`` through the family's layout), is written
    without importing TensorFlow."""
    from cxr_core.config.experiment import config_to_dict, load_config

    cfg = load_config(REPO / "experiments/cvrnet/task1.yaml")
    names = list(cfg.data.class_names)
    run = tmp_path / "run"
    record = {"config": config_to_dict(cfg), "class_names": names, "smoke": False, "n_samples": 40,
              "data_manifest_sha256": "0" * 64}
    rng = np.random.default_rng(0)
    for fold in range(cfg.protocol.n_folds):
        labels = np.arange(8) % len(names)
        probs = np.clip(np.eye(len(names))[labels] * 0.8 + rng.uniform(0, 0.2, (8, len(names))), 0, None)
        probs /= probs.sum(axis=1, keepdims=True)
        frame = pd.DataFrame({"sample_id": [f"f{fold}_{i}" for i in range(8)], "label_index": labels,
                              **{f"prob_{c}": probs[:, j] for j, c in enumerate(names)}})
        (run / f"fold_{fold}").mkdir(parents=True)
        frame.to_csv(run / f"fold_{fold}" / "predictions.csv", index=False)
    (run / "config.yaml").write_text(yaml.safe_dump(record, sort_keys=False))

    _run_fresh(f"""
        from cxr_core.cli.main import main
        assert main(["report", {str(run)!r}]) == 0
        assert main(["report", {str(run)!r}, "--out", {str(tmp_path / "merged")!r}]) == 0  # provenance.json too
    """)
    assert (tmp_path / "merged" / "provenance.json").is_file()
    text = (run / "report.md").read_text()
    # the family's layout picked the task-1 row from extra.cvrnet.task: the abstract's 0.997 / 0.998 [S2]
    assert "## Published reference (cvrnet/abstract): CVR-Net task results (abstract): Task-1" in text
    assert "| Accuracy | 100.00 |" in text and "| 99.80 | +0.20 |" in text
