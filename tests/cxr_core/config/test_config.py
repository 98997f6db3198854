"""Experiment configs: presets merged with YAML, unknown keys rejected with the key named."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from cxr_core.config.schema import ConfigError
from cxr_core.config.experiment import (
    config_to_dict,
    load_config,
    parse_override,
    replace,
    resolve_config,
    smoke_overrides,
)

REPO = Path(__file__).resolve().parents[3]


def test_coronet_experiment_resolves_to_the_papers_protocol():
    cfg = load_config(REPO / "experiments/coronet/4class.yaml")
    assert cfg.model.family == "coronet"
    assert (cfg.train.optimizer.name, cfg.train.optimizer.learning_rate) == ("adam", 1e-4)
    assert (cfg.train.batch_size, cfg.train.epochs) == (10, 80)
    assert (cfg.protocol.kind, cfg.protocol.n_folds) == ("kfold", 4)
    assert dict(cfg.data.undersample) == {"covid": 284, "normal": 310, "pneumonia_bac": 330, "pneumonia_vir": 327}
    assert sum(cfg.data.undersample.values()) == 1251  # Table I [S4]
    assert cfg.preprocess.image_size == (150, 150)
    assert cfg.deviations, "the preset's notes travel with the resolved config"


def test_unknown_keys_are_rejected_with_their_path(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("preset: coronet/paper\ntrain:\n  epoch: 3\n")
    with pytest.raises(ConfigError, match=r"unknown key train\.epoch.*allowed keys in train"):
        load_config(path)
    path.write_text("presets: coronet/paper\n")
    with pytest.raises(ConfigError, match="unknown top-level key 'presets'"):
        load_config(path)


def test_types_are_checked():
    with pytest.raises(ConfigError, match="train.epochs must be an integer"):
        resolve_config({"train": {"epochs": "many"}})
    with pytest.raises(ConfigError, match="augment.horizontal_flip must be true or false"):
        resolve_config({"augment": {"horizontal_flip": "yes"}})


def test_unknown_preset_lists_the_existing_ones():
    with pytest.raises(KeyError, match="available: \\['authors_code', 'authors_code_2class', 'authors_code_3class', "
                       "'paper', 'paper_2class', 'paper_3class', 'paper_dataset2'\\]"):
        resolve_config({"preset": "coronet/papper"})


def test_overrides_and_smoke_keep_everything_else():
    cfg = load_config(REPO / "experiments/coronet/4class.yaml", overrides=parse_override("train.epochs=3"))
    assert cfg.train.epochs == 3 and cfg.train.batch_size == 10
    smoke = replace(cfg, smoke_overrides(cfg))
    assert smoke.train.epochs == 1 and smoke.preprocess.image_size == (71, 71)
    assert smoke.protocol == cfg.protocol and smoke.augment == cfg.augment
    assert config_to_dict(smoke)["preset"] == "coronet/paper"


def test_parse_override_reads_yaml_values():
    assert parse_override("preprocess.image_size=[224,224]") == {"preprocess": {"image_size": [224, 224]}}
    with pytest.raises(ConfigError):
        parse_override("no-equals-sign")


# --- values checked at load: every enumerated field, numeric ranges, where the value came from ------

from cxr_core.config.experiment import ExperimentConfig
from cxr_core.config.notes import deviation_notes
from cxr_core.config.schema import enumerated_fields  # noqa: E402

ENUMERATED = enumerated_fields(ExperimentConfig)


def _nested(dotted: str, value) -> dict:
    out: dict = value
    for part in reversed(dotted.split(".")):
        out = {part: out}
    return out


def _text(value) -> str:
    return {None: "null", True: "true", False: "false"}.get(value, str(value)) if not isinstance(value, int) or \
        isinstance(value, bool) else str(value)


def test_the_enumerated_fields_of_the_issue_are_declared():
    named = {"preprocess.resize_method", "preprocess.scaling", "protocol.kind", "protocol.validation",
             "train.checkpoint", "train.strategy", "train.mixed_precision", "data.on_bad_file",
             "data.drop_duplicates", "protocol.split_style", "train.loss", "augment.fill_mode", "train.verbose",
             "data.undersample", "train.class_weight"}
    assert named <= set(ENUMERATED), sorted(named - set(ENUMERATED))
    assert ENUMERATED["preprocess.resize_method"] == ("nearest", "bilinear", "area", "shorter_side_center_crop")
    assert ENUMERATED["data.drop_duplicates"] == (False, True, "keep")


def test_the_declared_values_are_the_ones_the_consumers_accept():
    """The Literal of each field is the one in cxr_core.config.choices, whose tuples the consumers check."""
    from cxr_core.config import choices

    assert ENUMERATED["preprocess.resize_method"] == choices.RESIZE_METHODS
    assert ENUMERATED["preprocess.scaling"] == choices.SCALINGS
    assert ENUMERATED["augment.fill_mode"] == choices.FILL_MODES
    assert ENUMERATED["augment.placement"] == choices.AUGMENT_PLACEMENTS
    assert ENUMERATED["train.loss"] == choices.LOSSES
    assert ENUMERATED["train.steps_mode"] == choices.STEPS_MODES
    assert ENUMERATED["train.strategy"] == choices.STRATEGIES
    assert ENUMERATED["train.mixed_precision"] == (*choices.MIXED_PRECISIONS, None)
    assert ENUMERATED["protocol.validation"] == choices.VALIDATION_MODES
    assert ENUMERATED["data.on_bad_file"] == choices.ON_BAD_FILE


@pytest.mark.parametrize("key", sorted(ENUMERATED))
def test_a_typo_in_any_enumerated_field_fails_at_load_naming_file_key_value_and_allowed_values(tmp_path, key):
    path = tmp_path / "x.yaml"
    path.write_text(yaml.safe_dump({"name": "t", **_nested(key, "typo_value")}))
    with pytest.raises(ConfigError) as err:
        load_config(path)
    message = str(err.value)
    assert message.startswith(f"{path}: {key}: 'typo_value' is not one of "), message
    for allowed in ENUMERATED[key]:
        assert _text(allowed) in message.split(" is not one of ", 1)[1], (allowed, message)
    # the same typo given with --set names --set
    with pytest.raises(ConfigError, match=rf"^--set: {re.escape(key)}: 'typo_value' is not one of "):
        load_config(REPO / "experiments/coronet/4class.yaml", overrides=parse_override(f"{key}=typo_value"))


@pytest.mark.parametrize("setting, message", [
    ("train.epochs=0", "train.epochs must be an integer >= 1, found 0"),
    ("train.batch_size=-2", "train.batch_size must be an integer >= 1, found -2"),
    ("train.steps_per_epoch=0", "train.steps_per_epoch must be an integer >= 1 or null, found 0"),
    ("train.optimizer.learning_rate=0", "train.optimizer.learning_rate must be a number > 0, found 0.0"),
    ("protocol.holdout_fraction=1.0", "protocol.holdout_fraction must be a number in (0, 1), found 1.0"),
    ("protocol.inner_val_fraction=0", "protocol.inner_val_fraction must be a number in (0, 1), found 0.0"),
    ("protocol.n_folds=0", "protocol.n_folds must be an integer >= 1, found 0"),
    ("preprocess.image_size=[150,0]", "preprocess.image_size[1] must be an integer >= 1, found 0"),
    ("preprocess.image_size=[150]", "preprocess.image_size must be a list of 2, found [150]"),
    ("augment.rotation_range=-5", "augment.rotation_range must be a number >= 0, found -5.0"),
    ("model.num_classes=1", "model.num_classes must be an integer >= 2 or null, found 1"),
    ("evaluation.batch_size=0", "evaluation.batch_size must be an integer >= 1, found 0"),
    ("extra.expected_params=[1,2]", "extra.expected_params must be a list of 3, found [1, 2]"),
    ("extra.typo=1", "unknown key extra.typo for model family coronet; allowed keys in extra:"),
    ("model.family=coronett", "model.family: 'coronett' is not one of "),
    ("data.format=covidxx", "data.format: 'covidxx' is not one of auto, folders, manifest, covidx"),
])
def test_numeric_ranges_and_family_fields_are_checked_at_load(setting, message):
    with pytest.raises(ConfigError, match="^--set: " + re.escape(message)):
        load_config(REPO / "experiments/coronet/4class.yaml", overrides=parse_override(setting))


def test_an_error_names_the_layer_the_value_came_from(tmp_path):
    path = tmp_path / "x.yaml"
    path.write_text("preset: coronet/paper\ntrain:\n  checkpoint: bestest\n")
    with pytest.raises(ConfigError, match=rf"^{re.escape(str(path))}: train\.checkpoint: 'bestest' is not one of last, "
                       "best$"):
        load_config(path)
    # --set repairs the YAML's value: the merged config is what counts
    assert load_config(path, overrides=parse_override("train.checkpoint=best")).train.checkpoint == "best"
    with pytest.raises(ConfigError, match=r"^<override>: train\.strategy: 'mirrorred' is not one of default, "
                       "mirrored, multi_worker$"):
        replace(load_config(path, overrides=parse_override("train.checkpoint=best")),
                {"train": {"strategy": "mirrorred"}})


# --- deviation notes follow the values --------------------------------------------------------------

def test_a_replaced_field_gets_its_override_instead_of_the_presets_stale_note():
    from coronet_tf.presets import PAPER

    stale = PAPER.notes["preprocess.image_size"]
    assert "150x150" in stale
    cfg = load_config(REPO / "experiments/coronet/4class_224.yaml")  # sets image_size [224, 224]
    lines = {line.partition(": ")[0]: line for line in cfg.deviations}
    assert lines["preprocess.image_size"].startswith("preprocess.image_size: [224, 224], set by this experiment")
    # a field the experiment leaves alone keeps the preset's note unchanged
    assert lines["preprocess.scaling"] == f"preprocess.scaling: {PAPER.notes['preprocess.scaling']}"
    # setting a field to the preset's own value keeps the note
    same = load_config(REPO / "experiments/coronet/4class.yaml", overrides=parse_override("preprocess.resize_method=nearest"))
    assert f"preprocess.resize_method: {PAPER.notes['preprocess.resize_method']}" in same.deviations
    # --set and replace() recompute the notes too; what runs write (config_to_dict) is what the report shows
    over = load_config(REPO / "experiments/coronet/4class.yaml", overrides=parse_override("preprocess.resize_method=area"))
    assert any(line.startswith("preprocess.resize_method: area, set by this experiment") for line in over.deviations)
    back = replace(over, {"preprocess": {"resize_method": "nearest"}})
    assert f"preprocess.resize_method: {PAPER.notes['preprocess.resize_method']}" in config_to_dict(back)["deviations"]
    again = replace(cfg, {"preprocess": {"image_size": [150, 150]}})
    assert f"preprocess.image_size: {stale}" in again.deviations


def test_deviation_notes_compare_values_not_spellings():
    notes = ("a.b: note [X]", "a.c: other [Y]")
    preset = {"a": {"b": [1, 2], "c": 1.0}}
    assert deviation_notes(notes, preset, {"a": {"b": (1, 2), "c": 1}}, "f/p") == list(notes)
    out = deviation_notes(notes, preset, {"a": {"b": [1, 3], "c": 1.0}}, "f/p")
    assert out[0] == "a.b: [1, 3], set by this experiment (not the preset's note: preset f/p has [1, 2]: note [X])"
    assert out[1] == notes[1]
    sized = deviation_notes(("a.s: 150x150: Table II [X]",), {"a": {"s": [150, 150]}}, {"a": {"s": [224, 224]}}, "f/p")
    assert sized == ["a.s: [224, 224], set by this experiment (not the preset's note: preset f/p: 150x150: Table II [X])"]


@pytest.mark.slow
def test_a_config_typo_fails_on_the_command_line_in_under_10_seconds_with_one_line(cxr4_mini):
    import subprocess
    import sys
    import time

    start = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-m", "cxr_core.cli.main", "cv", str(REPO / "experiments/coronet/4class.yaml"),
         "--data", str(cxr4_mini), "--set", "preprocess.resize_method=cubic"],
        capture_output=True, text=True, timeout=120, cwd=REPO,
    )
    elapsed = time.perf_counter() - start
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.strip().splitlines() == [
        "covid-cxr cv: error: --set: preprocess.resize_method: 'cubic' is not one of nearest, bilinear, area, "
        "shorter_side_center_crop"]
    assert elapsed < 10, f"a config typo took {elapsed:.1f} s to fail"


def test_every_preset_note_names_a_value_its_preset_sets():
    """A note is recomputed by comparing its field's value with the preset's; a note on a key the
    preset does not set could never be recomputed (nor checked)."""
    from cxr_core.config.experiment import preset_values
    from cxr_core.config.notes import MISSING, lookup
    from cxr_core.family import available_families, get_family

    for family_name in available_families():
        for name, preset in get_family(family_name).presets.items():
            values, _ = preset_values(f"{family_name}/{name}")
            missing = [key for key in preset.notes if lookup(values, key) is MISSING]
            assert not missing, f"{family_name}/{name}: notes on keys the preset does not set: {missing}"


def test_a_schema_default_is_not_an_experiments_change():
    """replace() compares the full config with the preset as the schema fills it: the default
    published.classwise_table (null) is not reported as "set by this experiment"."""
    cfg = resolve_config({"preset": "coronet/paper_3class"})
    again = replace(cfg, {"train": {"epochs": 3}})
    published = [n for n in again.deviations if n.startswith("published:")]
    assert published == ["published: coronet/table5, row 3-class [S4 Table V]"]
    assert any(n.startswith("train.epochs: 3, set by this experiment") for n in again.deviations)
