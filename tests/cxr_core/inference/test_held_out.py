"""``evaluate --run RUN --fold K`` on a fold's own training images warns; ``--split test`` evaluates exactly
the fold's held-out images; a smoke run says its validation metric is one batch (issue 17, section 1)."""

from __future__ import annotations

import pandas as pd
import pytest

from cxr_core.cli.main import main
from tests.log_capture import captured_logs
from tests.tiny_family import write_separable_dataset


@pytest.fixture(scope="module")
def smoke_run(tmp_path_factory, tiny_family):
    root = tmp_path_factory.mktemp("held_out")
    write_separable_dataset(root / "data", per_class=8, seed=5)
    (root / "tiny.yaml").write_text("name: tiny_held_out\npreset: tinycnn/paper\n", encoding="utf-8")
    return root


@pytest.mark.slow
def test_evaluate_on_the_folds_own_images_warns_and_split_test_is_exact(smoke_run, capsys):
    root = smoke_run
    with captured_logs() as lines:
        assert main(["-q", "cv", str(root / "tiny.yaml"), "--data", str(root / "data"), "--run-dir", str(root / "run"),
                     "--smoke", "--folds", "0", "--set", "protocol.validation=test_fold"]) == 0
    assert any("validation metric covers 1 batch(es)" in ln for ln in lines)  # --smoke: validation_steps 1
    split = pd.read_csv(root / "run" / "splits" / "fold_0.csv", dtype=str)
    counts = split["role"].value_counts()
    capsys.readouterr()
    assert main(["-q", "evaluate", "--run", str(root / "run"), "--fold", "0", "--data", str(root / "data"),
                 "--out", str(root / "ev_all"), "--n-bootstrap", "5"]) == 0
    err = capsys.readouterr().err
    assert (f"WARNING: {counts.get('train', 0)} training and {counts.get('val', 0)} validation images of fold 0"
            in err)
    assert main(["-q", "evaluate", "--run", str(root / "run"), "--fold", "0", "--split", "test",
                 "--out", str(root / "ev_test"), "--n-bootstrap", "5"]) == 0
    assert "WARNING" not in capsys.readouterr().err
    predicted = pd.read_csv(next((root / "ev_test").glob("predictions*.csv")), dtype=str)
    assert sorted(predicted["sample_id"]) == sorted(split.loc[split["role"] == "test", "sample_id"])


def test_seen_by_fold_and_fold_test_rows_match_sample_id_and_label(tmp_path):
    from types import SimpleNamespace

    from cxr_core.data.tables.sample_table import table_from_rows
    from cxr_core.inference.held_out import fold_test_rows, seen_warning

    (tmp_path / "splits").mkdir()
    pd.DataFrame({"sample_id": ["a/1.png", "a/2.png", "b/3.png", "b/4.png"], "label": ["a", "a", "b", "b"],
                  "patient_id": ["", "", "", ""], "role": ["train", "val", "test", "test"]}
                 ).to_csv(tmp_path / "splits" / "fold_2.csv", index=False)
    run = SimpleNamespace(run_dir=tmp_path, fold=2)
    rows = [{"sample_id": s, "path": f"/x/{s}", "label": s[0]} for s in ("a/1.png", "a/2.png", "b/3.png", "b/4.png")]
    table = table_from_rows(rows, ("a", "b"))
    assert seen_warning(run, table).startswith("WARNING: 1 training and 1 validation images of fold 2")
    assert seen_warning(run, table.subset([2, 3])) is None
    assert fold_test_rows(run, table).frame["sample_id"].tolist() == ["b/3.png", "b/4.png"]
    with pytest.raises(ValueError, match=r"1 of the 2 test images of fold 2 .* \(first: b/4.png\)"):
        fold_test_rows(run, table.subset([0, 1, 2]))
