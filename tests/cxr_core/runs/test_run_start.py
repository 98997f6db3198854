"""A run that fails after training started but before a fold saved anything leaves no directory."""

from __future__ import annotations

import pytest

from cxr_core.cli.main import main
from cxr_core.runs.start import holds_results
from cxr_core.training import precision
from tests.tiny_family import write_separable_dataset


def test_holds_results_counts_saved_epochs_and_predictions_not_start_notes(tmp_path):
    ckpt = tmp_path / "fold_0" / "checkpoints"
    ckpt.mkdir(parents=True)
    (ckpt / "precision.json").write_text("[]")
    (tmp_path / "fold_0" / "training_log.csv").write_text("epoch\n")
    assert not holds_results(tmp_path), "precision.json is written before the first epoch"
    (ckpt / "state.json").write_text("{}")
    assert holds_results(tmp_path)

    phased = tmp_path / "phased"
    (phased / "fold_1" / "phase2" / "checkpoints").mkdir(parents=True)
    (phased / "fold_1" / "phase2" / "checkpoints" / "precision.json").write_text("[]")
    assert not holds_results(phased)
    (phased / "fold_1" / "phase2" / "checkpoints" / "resume.weights.h5").write_bytes(b"1")
    assert holds_results(phased)

    predicted = tmp_path / "predicted"
    (predicted / "fold_0").mkdir(parents=True)
    (predicted / "fold_0" / "predictions.csv").write_text("sample_id\n")
    assert holds_results(predicted)


@pytest.mark.slow
def test_a_start_that_fails_inside_fit_after_the_model_is_built_removes_its_run_directory(
        tiny_family, tmp_path, monkeypatch, capsys):
    import cxr_core.training.fit as training

    data = tmp_path / "data"
    write_separable_dataset(data, per_class=4)
    exp = tmp_path / "tiny.yaml"
    exp.write_text("name: tiny\npreset: tinycnn/paper\n", encoding="utf-8")
    built = []
    real_record = precision.record_precision

    def record_then_note(ckpt_dir, first_epoch, model):
        built.append(ckpt_dir)
        return real_record(ckpt_dir, first_epoch, model)

    def broken_checkpointer(*args, **kwargs):  # bad input (a CxrError), so the CLI explains it in one line
        from cxr_core.errors import CxrError

        raise CxrError("train.early_stopping: a callback refused its arguments")

    monkeypatch.setattr(training, "record_precision", record_then_note)
    monkeypatch.setattr(training, "make_checkpointer", broken_checkpointer)
    run_dir = tmp_path / "runs" / "tiny"
    code = main(["cv", str(exp), "--data", str(data), "--run-dir", str(run_dir)])
    assert code == 2 and "callback refused" in capsys.readouterr().err
    assert built, "the start must fail after the model was built and precision.json written"
    assert not run_dir.exists() and not (tmp_path / "runs").exists()


def test_a_failed_start_leaves_the_folders_of_other_processes_alone(tmp_path):
    """A study starts the folds of one seed together: one failing must not remove another's work, nor the
    experiment folder holding the other seeds."""
    from cxr_core.runs.start import discard_failed_start

    experiment = tmp_path / "out" / "coronet-4class"
    run_dir = experiment / "seed_0"
    with pytest.raises(RuntimeError), discard_failed_start(run_dir):
        (run_dir / "locks").mkdir(parents=True)
        (run_dir / "locks" / "fold_1.lock").write_text("pid 123 host other")  # another worker, fold 1
        raise RuntimeError("fold 0: bad data")
    assert (run_dir / "locks" / "fold_1.lock").is_file()
    # alone, a failed start removes what it made; a sibling seed's folder keeps the experiment folder
    (experiment / "seed_1").mkdir()
    (run_dir / "locks" / "fold_1.lock").unlink()
    other = experiment / "seed_2"
    with pytest.raises(RuntimeError), discard_failed_start(other):
        other.mkdir()
        raise RuntimeError("bad data")
    assert not other.exists() and (experiment / "seed_1").is_dir()
