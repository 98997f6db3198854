"""CoroNet presets: published values [S4], [CN], a sourced note for every difference, valid configs."""

from __future__ import annotations

import re

import numpy as np

import pytest

from coronet_tf import FAMILY, PRESETS, TABLE_I_COUNTS, class_names_for, label_map_for, preset_for
from coronet_tf import weights as coronet_weights
from cxr_core.family import ModelFamily, Preset, get_family
from cxr_core.data.tables import sample_table

SECTIONS = {"data", "preprocess", "augment", "model", "train", "protocol", "published", "extra"}
TAG = re.compile(r"\[(S4|CN|CN-old)[^\]]*\]|PAPERS\.md")


def _flatten(values, prefix=""):
    out = {}
    for key, value in values.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict) and key not in ("label_map", "undersample", "options"):
            out.update(_flatten(value, name + "."))
        else:
            out[name] = value
    return out


def _has_note(notes, field):
    parts = field.split(".")
    return any(".".join(parts[:i]) in notes for i in range(1, len(parts) + 1))


def test_presets_are_registered():
    assert set(PRESETS) == {"paper", "authors_code", "paper_3class", "paper_2class", "authors_code_3class",
                            "authors_code_2class", "paper_dataset2"}
    assert all(isinstance(p, Preset) and p.name == name for name, p in PRESETS.items())
    assert isinstance(FAMILY, ModelFamily) and FAMILY.name == "coronet"
    assert get_family("coronet") is FAMILY
    assert FAMILY.model.last_conv_layer == "block14_sepconv2_act" and FAMILY.weights.load.resolve() is coronet_weights.load_weights
    for preset in PRESETS.values():
        assert set(preset.values) <= SECTIONS


@pytest.mark.parametrize("first,second", [("paper", "authors_code"), ("authors_code", "paper")])
def test_every_difference_has_a_sourced_note(first, second):
    a, b = _flatten(PRESETS[first].values), _flatten(PRESETS[second].values)
    differing = sorted(k for k in set(a) | set(b) if a.get(k, "<absent>") != b.get(k, "<absent>"))
    assert "data.undersample" in differing and "protocol.kind" in differing
    notes = PRESETS[first].notes
    assert [f for f in differing if not _has_note(notes, f)] == []
    assert [k for k, note in notes.items() if not TAG.search(note)] == []


def test_published_values():
    paper, code = PRESETS["paper"].values, PRESETS["authors_code"].values
    for values in (paper, code):
        assert values["data"]["class_names"] == ["covid", "normal", "pneumonia_bac", "pneumonia_vir"]
        assert values["preprocess"]["scaling"] == "rescale01"
        train = values["train"]
        assert (train["epochs"], train["batch_size"], train["optimizer"]["name"]) == (80, 10, "adam")
        assert train["optimizer"]["learning_rate"] == 1e-4
        assert train["class_weight"] is None and train["early_stopping"] is None and train["reduce_lr"] is None
        aug = values["augment"]
        assert (aug["rotation_range"], aug["width_shift_range"], aug["height_shift_range"]) == (50, 0.2, 0.2)
        assert (aug["shear_range"], aug["zoom_range"], aug["channel_shift_range"]) == (0.25, 0.1, 20)
        assert aug["horizontal_flip"] and aug["vertical_flip"] and aug["fill_mode"] == "constant"
    # Table II's 150x150 in both [S4] [CN]; the paper's data set was resized to 224x224 first [S4]
    assert paper["preprocess"]["image_size"] == [150, 150] and code["preprocess"]["image_size"] == [150, 150]
    assert paper["preprocess"]["pre_resize"] == code["preprocess"]["pre_resize"] == [224, 224, "bicubic"]
    assert code["preprocess"]["resize_method"] == "nearest" and paper["preprocess"]["resize_method"] == "nearest"
    assert code["augment"]["on_validation"] is True and paper["augment"]["on_validation"] is False
    assert (paper["protocol"]["kind"], paper["protocol"]["n_folds"]) == ("kfold", 4)
    # the code: validation_split=0.2 of the train folder, a separate test folder [CN] [CN-old]
    proto = code["protocol"]
    assert (proto["kind"], proto["validation"], proto["inner_val_fraction"], proto["split_style"]) == (
        "fixed_split", "inner_split", 0.2, "keras_validation_split")
    assert paper["data"]["undersample"] == TABLE_I_COUNTS and sum(TABLE_I_COUNTS.values()) == 1251
    assert code["data"]["undersample"] is None
    assert paper["published"]["table"] == "coronet/table3"
    assert code["extra"]["expected_params"] == [33_969_964, 33_915_436, 54_528]
    assert paper["extra"]["expected_params"] == [33_969_964, 33_915_436, 54_528]


def test_presets_resolve_as_experiment_configs():
    from cxr_core.config import experiment as config
    for name in PRESETS:
        cfg = config.resolve_config({"preset": f"coronet/{name}"})
        assert cfg.model.family == "coronet" and cfg.model.num_classes == (
            3 if name == "paper_dataset2" else int(name[-6]) if "class" in name else 4)
        assert cfg.deviations
    for classes in (3, 2):
        variant = preset_for("paper", classes, init_from="coronet4.weights.h5")
        cfg = config.resolve_config({}, overrides=dict(variant.values))
        assert cfg.model.num_classes == classes and cfg.model.init_from == "coronet4.weights.h5"
        assert cfg.train.optimizer.learning_rate == 5e-5
        assert tuple(cfg.data.class_names) == class_names_for(classes)


def test_variants():
    fresh = preset_for("authors_code", 3)
    assert fresh.values["model"]["init_from"] is None and fresh.values["train"]["optimizer"]["learning_rate"] == 1e-4
    assert fresh.values["published"]["table"] == "coronet/table5"
    assert fresh.values["extra"]["expected_params"][0] == 33_969_707
    assert preset_for("authors_code", 2).values["extra"]["expected_params"][0] == 33_969_450
    assert preset_for("paper", 4) is PRESETS["paper"]
    rest = preset_for("paper", 2, binary="covid_vs_rest")
    assert rest.values["data"]["class_names"] == ["covid", "non_covid"]
    with pytest.raises(ValueError, match="4-, 3- and 2-class"):
        class_names_for(5)


def test_label_maps_on_real_folders(cxr4_mini):
    from cxr_core.data.tables import readers as samples
    table = samples.read_class_folders(cxr4_mini)
    four = sample_table.remap_labels(table, label_map_for(4), class_names_for(4))
    assert four.class_counts().to_dict() == {"covid": 50, "normal": 50, "pneumonia_bac": 42, "pneumonia_vir": 50}
    three = sample_table.remap_labels(table, label_map_for(3), class_names_for(3))
    assert three.class_counts().to_dict() == {"covid": 50, "normal": 50, "pneumonia": 92}
    two = sample_table.remap_labels(table, label_map_for(2), class_names_for(2))
    assert two.class_counts().to_dict() == {"covid": 50, "normal": 50} and len(two.skipped) == 92
    rest = sample_table.remap_labels(table, label_map_for(2, binary="covid_vs_rest"), ("covid", "non_covid"))
    assert rest.class_counts().to_dict() == {"covid": 50, "non_covid": 142}


@pytest.mark.parametrize("classes", [3, 2])
def test_paper_chain_presets_fine_tune_the_4class_model_on_a_separate_test_set(classes):
    """[S4]: the 3-class / binary model is the 4-class model fine-tuned, tested on a separate test set."""
    from cxr_core.config import experiment as config
    cfg = config.resolve_config({"preset": f"coronet/paper_{classes}class"})
    assert (cfg.protocol.kind, cfg.protocol.validation) == ("fixed_split", "none")
    assert tuple(cfg.extra["required"]) == ("model.init_from",) and cfg.model.init_from is None
    assert (cfg.train.optimizer.learning_rate, cfg.train.epochs) == (5e-5, 20)  # the notebook's fine-tuning cell [CN]
    assert cfg.preprocess.pre_resize == (224, 224, "bicubic") and cfg.model.num_classes == classes
    fresh = config.resolve_config({"preset": f"coronet/authors_code_{classes}class"})
    assert fresh.model.init_from is None and not fresh.extra.get("required")
    assert (fresh.train.optimizer.learning_rate, fresh.train.epochs) == (1e-4, 80)


def test_selection_precision_initialisation_and_steps_choices():
    """The rows of docs/FIDELITY.md that no other test pins: final-epoch model [CN], float32, ImageNet
    Xception, unbiased BatchNorm variance (TF 2 [S4]), steps as tf.keras ran them [CN-old]."""
    paper, code = PRESETS["paper"].values, PRESETS["authors_code"].values
    for values in (paper, code):
        train = values["train"]
        assert (train["checkpoint"], train.get("mixed_precision"), train["bn_moving_variance"]) == ("last", None, "unbiased")
        assert (values["model"]["backbone_weights"], values["model"]["init_from"]) == ("imagenet", None)
        assert values["train"]["loss"] == "categorical_crossentropy"
    assert (paper["train"]["steps_mode"], code["train"]["steps_mode"]) == ("full_pass", "tf_keras_floor_restart")
    assert paper["protocol"]["validation"] == "test_fold" and paper["protocol"]["split_style"] == "stratified"


def test_authors_code_reads_a_224_folder_as_the_notebook_did(shared_data):
    """authors_code's 224 pre-resize [S4] is the identity on the 224x224 files the notebook read [CN]: every
    Kermany-224 image read through it equals keras-preprocessing's one-step ``load_img(target_size=(150,
    150), interpolation='nearest')`` (flow_from_directory's read), bit for bit. Fails if the pre-resize
    changed a 224 file or the preset dropped it (originals: tests/cxr_core/data/decode/test_pre_resize.py)."""
    from keras_preprocessing.image import load_img

    from cxr_core.data.decode.images import load_image_array

    pre = tuple(PRESETS["authors_code"].values["preprocess"]["pre_resize"])
    assert pre == (224, 224, "bicubic")
    root = shared_data / "sources" / "kermany-224" / "chest_xray" / "test"
    paths = sorted(root.glob("*/*.jpeg"))[::40]
    assert len(paths) >= 10
    for path in paths:
        ref = np.asarray(load_img(str(path), target_size=(150, 150), interpolation="nearest"), dtype=np.float32)
        np.testing.assert_array_equal(load_image_array(path, (150, 150), "nearest", pre_resize=pre), ref,
                                      err_msg=str(path))


def test_coronet_head_only_trains_table_ii_minus_xception():
    """CoroNet 3-class with a frozen Xception: trainable = Table II's 3-class total 33,969,707 minus Xception's
    20,861,480 (include_top=False) = 13,108,227, the Flatten-Dense(256)-Dense(3) head [S4]."""
    from coronet_tf.model import build_coronet
    from cxr_core.training.trainable import set_trainable

    model = build_coronet(num_classes=3, input_shape=(150, 150, 3), backbone_weights=None)
    assert model.count_params() == 33_969_707
    assert set_trainable(model, "head") == 1
    trainable = sum(int(np.prod(w.shape)) for w in model.trainable_weights)
    assert trainable == 33_969_707 - 20_861_480 == 5 * 5 * 2048 * 256 + 256 + 256 * 3 + 3
    for name in ("paper_3class", "paper_2class", "paper", "authors_code"):
        assert PRESETS[name].values["train"].get("trainable", "all") == "all"
    assert "head" in PRESETS["paper_3class"].notes["train.trainable"]
    assert f"{trainable:,} parameters for 3 classes" in PRESETS["paper_3class"].notes["train.trainable"]
    binary_head = 5 * 5 * 2048 * 256 + 256 + 256 * 2 + 2
    assert f"{binary_head:,} parameters for 2 classes" in PRESETS["paper_2class"].notes["train.trainable"]
