"""Folds run apart and merged, through the command line: ``covid-cxr cv --folds`` then ``covid-cxr report``.

Two "machines" (two run directories) each run half of CoroNet's 4-fold protocol in smoke size on an
undersample of the real cxr4-mini images; ``covid-cxr report A B --out C`` must merge them into
the full 4-fold table, with every sample predicted exactly once. The runs are the session's
``coronet_two_machines`` (tests/cxr_core/two_machines.py: the exact ``covid-cxr cv`` arguments are there),
which ``protocol/test_protocol.py`` also reads.
"""

from __future__ import annotations

import pandas as pd
import pytest

from cxr_core.cli.main import main
from tests.cxr_core.two_machines import UNDERSAMPLE

pytestmark = pytest.mark.slow  # two CoroNet smoke runs through the CLI, as two machines

#: cxr4-mini's classes after the undersampling (the two pneumonia classes are not undersampled)
SAMPLES = {**UNDERSAMPLE, "pneumonia_bac": 42, "pneumonia_vir": 50}


@pytest.fixture(scope="module")
def merged(coronet_two_machines):
    runs = coronet_two_machines
    return runs.a, runs.b, runs.merged


def test_each_machine_ran_only_its_folds(merged):
    a, b, _ = merged
    assert sorted(p.name for p in a.glob("fold_*")) == ["fold_0", "fold_1"]
    assert sorted(p.name for p in b.glob("fold_*")) == ["fold_2", "fold_3"]
    for k in range(4):  # same seed, same data: both machines wrote the same split files
        assert (a / "splits" / f"fold_{k}.csv").read_bytes() == (b / "splits" / f"fold_{k}.csv").read_bytes()


def test_report_merges_the_full_table(merged):
    a, b, c = merged
    assert (c / "report.md").is_file() and (c / "results.csv").is_file()
    preds = pd.concat(
        [pd.read_csv(d / f"fold_{k}" / "predictions.csv") for d, k in ((a, 0), (a, 1), (b, 2), (b, 3))]
    )
    samples = pd.read_csv(a / "samples.csv")
    assert samples["label"].value_counts().to_dict() == SAMPLES and len(samples) == sum(SAMPLES.values())
    assert sorted(preds["sample_id"]) == sorted(samples["sample_id"]), "every sample tested exactly once"
    merged_table = pd.read_csv(c / "results.csv")
    half_table = pd.read_csv(a / "results.csv")
    first = merged_table.columns[0]
    merged_rows = [str(v) for v in merged_table[first]]
    half_rows = [str(v) for v in half_table[first]]
    # One row per fold plus summary rows: the merged table has two fold rows more than one machine's.
    assert len(merged_rows) == len(half_rows) + 2, (merged_rows, half_rows)
    assert "4" in (c / "report.md").read_text()


def test_report_of_unrelated_runs_is_refused(merged, tmp_path):
    import shutil

    import yaml

    a, _, _ = merged
    other = tmp_path / "other"  # a run of another config: same folds, different learning rate
    shutil.copytree(a, other)
    record = yaml.safe_load((other / "config.yaml").read_text())
    record["config"]["train"]["optimizer"]["learning_rate"] = 0.5
    (other / "config.yaml").write_text(yaml.safe_dump(record, sort_keys=False))
    try:
        code = main(["report", str(a), str(other), "--out", str(tmp_path / "bad")])
    except ValueError as exc:  # RunDirectoryError; the CLI may let it through rather than exit 2
        assert "differs" in str(exc)
    else:
        assert code != 0
    assert not (tmp_path / "bad" / "results.csv").exists()
