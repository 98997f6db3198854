"""``covid-cxr demo`` learns its synthetic task: pooled test accuracy >= 0.9 over CoroNet's 4 folds, and
the report says what the task is. The accuracy is computed from the run's predictions against the
classes the generator drew (MANIFEST.csv), never from the run's own labels."""

from __future__ import annotations

import pandas as pd
import pytest

from cxr_core.data.synthetic import CLASS_FEATURES, CLASSES, PATTERNS, make_synthetic_dataset

MIN_POOLED_ACCURACY = 0.9


def test_synthetic_dataset_says_what_it_is_and_is_reused(tmp_path):
    out = make_synthetic_dataset(tmp_path / "data", per_class=4, size=96, seed=3)
    manifest = pd.read_csv(out / "MANIFEST.csv")
    assert manifest["label"].value_counts().to_dict() == {c: 4 for c in CLASSES}
    assert manifest.groupby("patient_id").size().eq(2).all(), "two images per synthetic patient"
    readme = (out / "README.md").read_text()
    assert "SYNTHETIC" in readme and "not X-rays" in readme
    assert all(f"- {name}: {CLASS_FEATURES[name]}" in readme for name in CLASSES)
    stamp = (out / "MANIFEST.csv").stat().st_mtime_ns
    make_synthetic_dataset(tmp_path / "data", per_class=4, size=96, seed=3)
    assert (out / "MANIFEST.csv").stat().st_mtime_ns == stamp, "same settings: reused, not redrawn"
    with pytest.raises(FileExistsError, match="other settings"):
        make_synthetic_dataset(tmp_path / "data", per_class=5, size=96, seed=3)


def test_synthetic_class_names_are_given_to_the_patterns_in_order(tmp_path):
    names = ["covid", "normal", "pneumonia_bac", "pneumonia_vir"]
    out = make_synthetic_dataset(tmp_path / "named", per_class=2, size=64, seed=1, class_names=names)
    manifest = pd.read_csv(out / "MANIFEST.csv")
    assert sorted(manifest["label"].unique()) == sorted(names)
    readme = (out / "README.md").read_text()
    assert all(f"- {name}: {CLASS_FEATURES[p]}" in readme for name, p in zip(names, PATTERNS))
    same_seed = make_synthetic_dataset(tmp_path / "plain", per_class=2, size=64, seed=1)
    for name, pattern in zip(names, PATTERNS):  # same drawings, other folder names
        a = sorted((out / name).iterdir())[0].read_bytes()
        b = sorted((same_seed / pattern).iterdir())[0].read_bytes()
        assert a == b
    with pytest.raises(ValueError, match="4 distinct names"):
        make_synthetic_dataset(tmp_path / "bad", class_names=["a", "a", "b", "c"])


@pytest.mark.slow
def test_demo_at_its_real_size_learns_the_synthetic_task(tmp_path):
    from cxr_core.cli.demo import pooled_accuracy, run_demo

    run_dir = run_demo(tmp_path / "demo")  # the size of `covid-cxr demo`: 24 per class, 4 folds
    truth = pd.read_csv(tmp_path / "demo" / "synthetic-data" / "MANIFEST.csv")
    truth = dict(zip(truth["path"], truth["label"]))
    folds = [pd.read_csv(run_dir / f"fold_{k}" / "predictions.csv") for k in range(4)]
    pooled = pd.concat(folds, ignore_index=True)
    assert len(pooled) == pooled["sample_id"].nunique() == len(truth), "each image tested exactly once"
    true_labels = pooled["sample_id"].map(lambda sid: truth[sid.replace("\\", "/")])
    accuracy = float((true_labels == pooled["predicted"]).mean())
    assert accuracy >= MIN_POOLED_ACCURACY, f"pooled accuracy {accuracy:.3f} < {MIN_POOLED_ACCURACY}"
    for k, fold in enumerate(folds):
        assert fold["predicted"].nunique() > 1, f"fold {k} predicts one class for every image"
    correct, total = pooled_accuracy(run_dir)
    assert (correct, total) == (int((true_labels == pooled["predicted"]).sum()), len(truth))
    report = (run_dir / "report.md").read_text(encoding="utf-8")
    assert "SYNTHETIC task, not X-rays" in report and "says nothing about X-rays" in report
    assert "one lung entirely white" in report


def test_demo_bn_momentum_sets_every_batchnorm_layer_nested_ones_too(tmp_path):
    """The demo's own ``demo.bn_momentum`` (not an experiment key): read from the YAML the CoroNet family
    packages, checked, and applied to every BatchNormalization layer the family builds while the demo runs."""
    import keras

    from cxr_core.cli import demo as D
    from cxr_core.config.schema import ConfigError
    from cxr_core.family import ModelFamily, ModelPart, get_family, register_family, unregister_family

    inner = keras.Sequential([keras.Input((8, 8, 3)), keras.layers.Conv2D(4, 3), keras.layers.BatchNormalization()])
    model = keras.Sequential([keras.Input((8, 8, 3)), inner, keras.layers.BatchNormalization(), keras.layers.Flatten()])
    assert D.set_bn_momentum(model, None) == 0
    assert D.set_bn_momentum(model, 0.9) == 2
    assert [l.momentum for l in (inner.layers[-1], model.layers[1])] == [0.9, 0.9]

    cfg, settings = D.load_demo_config()
    assert settings.bn_momentum == 0.9 and cfg.model.family == "coronet"
    assert D.demo_config_path() == get_family("coronet").experiments["demo"]
    assert "bn_momentum" not in {f for f in type(cfg.train).__dataclass_fields__}
    bad = tmp_path / "demo.yaml"
    bad.write_text(D.demo_config_path().read_text().replace("bn_momentum: 0.9", "bn_momentum: 1.5"))
    with pytest.raises(ConfigError, match="demo.bn_momentum"):
        D.load_demo_config(bad)

    def build(**kwargs):
        return keras.Sequential([keras.Input((4, 4, 3)), keras.layers.BatchNormalization()])

    family = register_family(ModelFamily(name="bnfamily", model=ModelPart(build=build), presets={}))
    try:
        with D._family_with_bn_momentum("bnfamily", 0.8):
            assert get_family("bnfamily").model.build(num_classes=2).layers[0].momentum == 0.8
        assert get_family("bnfamily") is family  # the family as it was before the demo
        assert family.model.build(num_classes=2).layers[0].momentum == 0.99
    finally:
        unregister_family("bnfamily")
