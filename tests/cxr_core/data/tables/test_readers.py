"""Sample-table readers: class folders (vs Keras' DirectoryIterator), CSV manifests, COVIDx split files."""

from __future__ import annotations

import os
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import pytest

from cxr_core.data.tables.covidx import COVIDX_CLASS_NAMES, read_covidx_split
from cxr_core.data.tables.sample_table import SampleError, remap_labels
from cxr_core.data.tables.readers import read_class_folders, read_samples
from cxr_core.data.tables.manifest import read_manifest_csv

CXR4_CLASSES = ["covid", "normal", "pneumonia_bacterial", "pneumonia_viral"]


def _image(path: Path, value: int = 128) -> Path:
    """A tiny generated grayscale image (never a copy of a shared one)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    assert cv2.imwrite(str(path), np.full((8, 8), value, np.uint8))
    return path


# ------------------------------------------------------------------------------------------ folders


def test_folders_cxr4_mini_counts_and_order(cxr4_mini):
    table = read_class_folders(cxr4_mini)
    assert len(table) == 192
    assert list(table.class_names) == CXR4_CLASSES
    assert table.class_counts().tolist() == [50, 50, 42, 50]
    assert table.skipped.empty  # MANIFEST.csv / README.md in the root are not candidates
    assert table.frame["sample_id"].is_unique
    # every file has a patient id: the MANIFEST.csv beside the folders lists them all (Kermany's file names
    # alone would give 142: tests/cxr_core/data/tables/test_kermany_names.py)
    assert table.frame["patient_id"].notna().sum() == 192 and table.groups is not None
    assert all(os.path.isabs(p) and os.path.isfile(p) for p in table.frame["path"])
    assert (table.labels == table.frame["label"].map(CXR4_CLASSES.index).to_numpy()).all()


def test_folders_take_patient_ids_from_the_manifest_beside_them(cxr4_mini):
    """Issue 17: a class-folder tree that carries a MANIFEST.csv with patient ids is not read as id-less."""
    import pandas as pd

    manifest = pd.read_csv(cxr4_mini / "MANIFEST.csv", dtype=str)
    expected = dict(zip(manifest["path"], manifest["patient_id"]))
    table = read_class_folders(cxr4_mini)
    assert table.groups is not None and table.frame["patient_id"].notna().all()
    assert dict(zip(table.frame["sample_id"], table.frame["patient_id"])) == expected
    assert table.frame["source"].notna().all()  # source_repo of the manifest


def test_folders_name_the_files_their_manifest_does_not_list(tmp_path, caplog):
    for name in ("a/1.png", "a/2.png", "b/3.png"):
        _image(tmp_path / name)
    (tmp_path / "MANIFEST.csv").write_text("path,label,patient_id\na/1.png,a,p1\nb/3.png,b,p1\n")
    table = read_class_folders(tmp_path)
    assert table.frame["patient_id"].fillna("").tolist() == ["p1", "", "p1"]
    assert "1 of 3 images have no patient id in MANIFEST.csv (e.g. a/2.png)" in caplog.text
    (tmp_path / "MANIFEST.csv").write_text("path,label,patient_id\na/1.png,a,p1\na/1.png,a,p2\n")
    with pytest.raises(SampleError, match="line 3: a/1.png has patient id 'p2', but 'p1' on line 2"):
        read_class_folders(tmp_path)


def _keras_listing(root: Path, classes=None):
    from keras_preprocessing.image import ImageDataGenerator

    it = ImageDataGenerator().flow_from_directory(str(root), classes=classes, shuffle=False, batch_size=1)
    names = sorted(it.class_indices, key=it.class_indices.get)
    return [Path(f).as_posix() for f in it.filenames], it.classes.tolist(), names


def test_folders_match_keras_directory_iterator(cxr4_mini):
    table = read_class_folders(cxr4_mini)
    files, classes, names = _keras_listing(cxr4_mini)
    assert list(table.class_names) == names
    assert table.frame["sample_id"].tolist() == files  # same files, same order
    assert table.labels.tolist() == classes


def test_folders_nested_case_and_non_images_match_keras(tmp_path):
    root = tmp_path / "ds"
    _image(root / "b_cls" / "z.png")
    _image(root / "b_cls" / "A.PNG")
    _image(root / "b_cls" / "sub" / "deeper" / "n.jpg")
    _image(root / "b_cls" / "sub" / "m.jpeg")
    _image(root / "a_cls" / "x.bmp")
    _image(root / "a_cls" / "y.tif")
    (root / "a_cls" / "notes.txt").write_text("not an image")
    (root / "README.md").write_text("ignored")
    _image(root / "stray.png")
    table = read_class_folders(root, on_error="skip")
    files, classes, names = _keras_listing(root)
    assert list(table.class_names) == names == ["a_cls", "b_cls"]
    assert table.frame["sample_id"].tolist() == files
    assert table.labels.tolist() == classes
    assert "b_cls/sub/deeper/n.jpg" in files
    reasons = dict(zip(table.skipped["path"].map(lambda p: Path(p).name), table.skipped["reason"]))
    assert reasons == {"notes.txt": "not an image extension", "stray.png": "image outside any class folder"}
    with pytest.raises(SampleError, match="stray.png"):
        read_class_folders(root)


def test_folders_symlinked_subfolder_not_followed(tmp_path):
    root = tmp_path / "ds"
    _image(root / "a" / "1.png")
    _image(tmp_path / "elsewhere" / "2.png")
    os.symlink(tmp_path / "elsewhere", root / "a" / "linked")
    table = read_class_folders(root)
    files, _, _ = _keras_listing(root)
    assert table.frame["sample_id"].tolist() == files == ["a/1.png"]
    assert table.skipped["reason"].tolist() == ["symbolic link to a folder not followed (Keras follow_links=False)"]


def test_folders_explicit_class_names(tmp_path):
    root = tmp_path / "ds"
    for c in ("01_NOR", "02_CPN", "03_NCP"):
        _image(root / c / f"{c}.png")
    table = read_class_folders(root, ["03_NCP", "01_NOR", "02_CPN"])
    assert table.class_names == ("03_NCP", "01_NOR", "02_CPN")
    assert table.frame["label"].tolist() == ["03_NCP", "01_NOR", "02_CPN"]
    assert table.labels.tolist() == [0, 1, 2]
    with pytest.raises(SampleError, match=r"\['04_X'\].*do not exist"):
        read_class_folders(root, ["01_NOR", "04_X"])
    with pytest.raises(SampleError, match="'02_CPN' is not one of class_names"):
        read_class_folders(root, ["01_NOR", "03_NCP"])
    skipped = read_class_folders(root, ["01_NOR", "03_NCP"], on_error="skip")
    assert len(skipped) == 2
    assert skipped.skipped["reason"].tolist() == ["class folder not in class_names"]
    assert skipped.skipped["path"].iloc[0].endswith("02_CPN")


def test_folders_empty_class_folder(tmp_path):
    root = tmp_path / "ds"
    _image(root / "full" / "a.png")
    (root / "empty").mkdir()
    (root / "empty" / "readme.txt").write_text("x")
    with pytest.raises(SampleError, match=r"class folder .*empty has no images"):
        read_class_folders(root)
    table = read_class_folders(root, on_error="skip")
    assert table.class_names == ("empty", "full") and len(table) == 1
    assert table.labels.tolist() == [1]
    reasons = dict(zip(table.skipped["path"].map(lambda p: Path(p).name), table.skipped["reason"]))
    assert reasons == {"readme.txt": "not an image extension", "empty": "class folder has no images"}


def test_folders_bad_arguments(tmp_path):
    with pytest.raises(FileNotFoundError, match="not a folder"):
        read_class_folders(tmp_path / "nope")
    with pytest.raises(SampleError, match="no class folders"):
        read_class_folders(tmp_path)
    with pytest.raises(ValueError, match="on_error"):
        read_class_folders(tmp_path, on_error="ignore")


# ----------------------------------------------------------------------------------------- manifest


def test_manifest_cxr4_mini(cxr4_mini):
    table = read_manifest_csv(cxr4_mini / "MANIFEST.csv")
    folders = read_class_folders(cxr4_mini)
    assert len(table) == 192 and table.skipped.empty
    assert list(table.class_names) == CXR4_CLASSES
    assert table.class_counts().tolist() == [50, 50, 42, 50]
    merged = table.frame.merge(folders.frame, on="sample_id", suffixes=("", "_f"))
    assert len(merged) == 192
    assert (merged["path"] == merged["path_f"]).all() and (merged["label"] == merged["label_f"]).all()
    assert table.frame["patient_id"].notna().all()
    assert table.groups is not None and len(set(table.groups)) < 192  # several images per patient
    assert table.frame["source"].notna().all()  # from the source_repo column
    manifest = pd.read_csv(cxr4_mini / "MANIFEST.csv")
    assert table.frame["patient_id"].tolist() == manifest["patient_id"].tolist()
    assert read_samples(cxr4_mini / "MANIFEST.csv").frame.equals(table.frame)


def _write_manifest(tmp_path: Path, lines: list[str]) -> Path:
    path = tmp_path / "MANIFEST.csv"
    path.write_text("\n".join(lines) + "\n")
    return path


def test_manifest_errors_and_skip(tmp_path):
    _image(tmp_path / "img" / "a.png")
    _image(tmp_path / "img" / "b.png")
    _image(tmp_path / "img" / "c.png")
    lines = [
        "path,label,patient_id,source",
        "img/a.png,covid,p1,repoA",
        "img/b.png,normal,,",
        "img/missing.png,normal,p3,repoA",
        "img/c.png,Covid,p4,repoB",
    ]
    path = _write_manifest(tmp_path, lines)
    with pytest.raises(SampleError, match=r"MANIFEST.csv line 4: file not found: img/missing.png"):
        read_manifest_csv(path, class_names=["covid", "normal"])
    with pytest.raises(SampleError) as info:
        read_manifest_csv(_write_manifest(tmp_path, lines[:3] + lines[4:]), class_names=["covid", "normal"])
    message = str(info.value)
    assert "MANIFEST.csv line 4" in message and "'Covid'" in message
    assert "['covid', 'normal']" in message and "did you mean 'covid'" in message
    path = _write_manifest(tmp_path, lines)
    table = read_manifest_csv(path, class_names=["covid", "normal"], on_error="skip")
    assert table.frame["sample_id"].tolist() == ["img/a.png", "img/b.png"]
    assert table.frame["patient_id"].isna().tolist() == [False, True]
    assert table.frame["source"].isna().tolist() == [False, True]
    assert [Path(p).name for p in table.skipped["path"]] == ["missing.png", "c.png"]
    assert table.skipped["reason"].tolist() == ["file not found", "label 'Covid' not in class_names"]


def test_manifest_columns_root_and_duplicates(tmp_path):
    data = tmp_path / "data"
    _image(data / "x" / "a.png")
    _image(data / "x" / "b.jpg")
    absolute = _image(tmp_path / "other" / "c.png")
    lists = tmp_path / "lists"
    lists.mkdir()
    path = lists / "m.csv"
    path.write_text(f"path,class,source_repo\nx/a.png,pos,r\nx/b.jpg,neg,r\n{absolute},neg,r\n")
    table = read_manifest_csv(path, root=data)
    assert table.class_names == ("neg", "pos")
    assert table.frame["sample_id"].tolist() == ["x/a.png", "x/b.jpg", absolute.as_posix()]
    assert table.frame["path"].tolist() == [str(data / "x" / "a.png"), str(data / "x" / "b.jpg"), str(absolute)]
    assert table.frame["source"].tolist() == ["r", "r", "r"] and table.groups is None
    assert read_samples(path, image_dir=data).frame.equals(table.frame)
    # relative to the manifest's folder by default
    with pytest.raises(SampleError, match="line 2: file not found: x/a.png"):
        read_manifest_csv(path)
    both = lists / "both.csv"
    both.write_text("path,label,class\nx/a.png,pos,neg\n")
    with pytest.raises(SampleError, match="label_column"):
        read_manifest_csv(both, root=data)
    assert read_manifest_csv(both, root=data, label_column="class").frame["label"].tolist() == ["neg"]
    nopath = lists / "nopath.csv"
    nopath.write_text("file,label\nx/a.png,pos\n")
    with pytest.raises(SampleError, match="no 'path' column"):
        read_manifest_csv(nopath)
    dup = lists / "dup.csv"
    dup.write_text("path,label\nx/a.png,pos\nx/b.jpg,neg\nx/a.png,pos\n")
    with pytest.raises(SampleError, match="line 4: x/a.png repeats line 2"):
        read_manifest_csv(dup, root=data)
    table = read_manifest_csv(dup, root=data, drop_duplicates=True)
    assert len(table) == 2
    assert table.skipped["reason"].tolist() == ["duplicate row of x/a.png (line 4, kept line 2)"]


# ------------------------------------------------------------------------------------------- COVIDx


@pytest.fixture()
def covidx(tmp_path):
    images = tmp_path / "data" / "test"
    for name, value in [("n1.png", 10), ("n2.png", 20), ("p1.jpeg", 30), ("c1.jpg", 40), ("c2.png", 50)]:
        _image(images / name, value)
    return tmp_path, images


def test_covidx_txt(covidx):
    tmp_path, images = covidx
    split = tmp_path / "test_COVIDx.txt"
    split.write_text(
        "pa n1.png normal\n"
        "pb n2.png normal\n"
        "pc p1.jpeg pneumonia\n"
        "\n"
        "pd c1.jpg COVID-19\n"
        "pd c2.png COVID-19\n"
    )
    table = read_covidx_split(split, images)
    assert table.class_names == COVIDX_CLASS_NAMES
    assert table.frame["sample_id"].tolist() == ["n1.png", "n2.png", "p1.jpeg", "c1.jpg", "c2.png"]
    assert table.labels.tolist() == [0, 0, 1, 2, 2]
    assert table.frame["patient_id"].tolist() == ["pa", "pb", "pc", "pd", "pd"]
    assert table.frame["source"].isna().all()
    assert table.frame["path"].iloc[0] == str(images / "n1.png")
    corona = read_covidx_split(split, images, class_names=("COVID-19", "normal", "pneumonia"))  # [CR-A]
    assert corona.labels.tolist() == [1, 1, 2, 0, 0]
    assert read_samples(split, image_dir=images).frame.equals(table.frame)


def test_covidx_txt_with_source_column_and_errors(covidx):
    tmp_path, images = covidx
    split = tmp_path / "train.txt"
    split.write_text("pa n1.png normal rsna\npc p1.jpeg pneumonia cohen\n")
    table = read_covidx_split(split, images)
    assert table.frame["source"].tolist() == ["rsna", "cohen"]
    split.write_text("pa n1.png normal\npc p1.jpeg Pneumonia\n")
    with pytest.raises(SampleError) as info:
        read_covidx_split(split, images)
    message = str(info.value)
    assert "train.txt line 2" in message and "'Pneumonia'" in message
    assert "['normal', 'pneumonia', 'COVID-19']" in message and "did you mean 'pneumonia'" in message
    split.write_text("pa n1.png normal\npx gone.png normal\n")
    with pytest.raises(SampleError, match="train.txt line 2: file not found: gone.png"):
        read_covidx_split(split, images)
    skipped = read_covidx_split(split, images, on_error="skip")
    assert len(skipped) == 1 and skipped.skipped["reason"].tolist() == ["file not found"]
    split.write_text("pa n1.png normal extra more\n")
    with pytest.raises(SampleError, match="line 1: 5 fields"):
        read_covidx_split(split, images)


def test_covidx_csv_with_and_without_header_and_duplicates(covidx):
    tmp_path, images = covidx
    rows = ["8,p1.jpeg,pneumonia", "8,p1.jpeg,pneumonia", "1,n1.png,normal", "19,c1.jpg,COVID-19",
            "8,p1.jpeg,pneumonia", "1,n1.png,normal"]
    with_header = tmp_path / "test_split_v2.csv"
    with_header.write_text("patientid,filename,label\n" + "\n".join(rows) + "\n")
    without = tmp_path / "noheader_split.csv"
    without.write_text("\n".join(rows) + "\n")
    for path, offset in ((with_header, 1), (without, 0)):
        with pytest.raises(SampleError, match=f"line {2 + offset}: p1.jpeg repeats line {1 + offset}"):
            read_covidx_split(path, images)
        table = read_covidx_split(path, images, drop_duplicates=True)
        assert table.frame["sample_id"].tolist() == ["p1.jpeg", "n1.png", "c1.jpg"]
        assert table.frame["patient_id"].tolist() == ["8", "1", "19"]
        assert len(table.skipped) == 3
        assert table.skipped["reason"].tolist() == [
            f"duplicate row of p1.jpeg (line {2 + offset}, kept line {1 + offset})",
            f"duplicate row of p1.jpeg (line {5 + offset}, kept line {1 + offset})",
            f"duplicate row of n1.png (line {6 + offset}, kept line {3 + offset})",
        ]
        auto = read_samples(path, image_dir=images, drop_duplicates=True)
        assert auto.frame.equals(table.frame)
    conflict = tmp_path / "conflict.csv"
    conflict.write_text("patientid,filename,label\n1,n1.png,normal\n1,n1.png,pneumonia\n")
    with pytest.raises(SampleError, match="line 3: n1.png labelled 'pneumonia', but 'normal' on line 2"):
        read_covidx_split(conflict, images, drop_duplicates=True)


def test_covidx_default_image_dir_is_split_folder(covidx):
    _, images = covidx
    split = images / "list.txt"
    split.write_text("pa n1.png normal\n")
    assert read_samples(split).frame["path"].tolist() == [str(images / "n1.png")]


def test_read_samples_dispatch(cxr4_mini, tmp_path):
    assert len(read_samples(cxr4_mini)) == 192
    with pytest.raises(ValueError, match="image_dir"):
        read_samples(cxr4_mini, image_dir=tmp_path)
    odd = tmp_path / "odd.csv"
    odd.write_text("file,label\n")
    with pytest.raises(SampleError, match="cannot tell the CSV format"):
        read_samples(odd)
    with pytest.raises(FileNotFoundError):
        read_samples(tmp_path / "absent.csv")


# ------------------------------------------------------------------------------------------- remap


def test_remap_labels_to_covidx_and_two_classes(cxr4_mini):
    table = read_manifest_csv(cxr4_mini / "MANIFEST.csv")
    three = remap_labels(
        table,
        {"pneumonia_bacterial": "pneumonia", "pneumonia_viral": "pneumonia", "covid": "COVID-19"},
        COVIDX_CLASS_NAMES,
    )
    assert three.class_names == COVIDX_CLASS_NAMES
    assert three.class_counts().tolist() == [50, 92, 50]
    assert three.labels.tolist() == three.frame["label"].map(list(COVIDX_CLASS_NAMES).index).tolist()
    assert three.frame["sample_id"].tolist() == table.frame["sample_id"].tolist()
    two = remap_labels(table, {"pneumonia_bacterial": "non-covid", "pneumonia_viral": "non-covid",
                               "normal": "non-covid"}, ["non-covid", "covid"])
    assert two.class_counts().tolist() == [142, 50]
    dropped = remap_labels(table, {"pneumonia_bacterial": None, "pneumonia_viral": None}, ["normal", "covid"])
    assert dropped.class_counts().tolist() == [50, 50] and len(dropped.skipped) == 92
    assert set(dropped.skipped["reason"]) == {"label 'pneumonia_bacterial' dropped by the label map",
                                              "label 'pneumonia_viral' dropped by the label map"}
    with pytest.raises(SampleError, match=r"\['pneumonia_viral'\] have no entry"):
        remap_labels(table, {"pneumonia_bacterial": "pneumonia", "covid": "COVID-19"}, COVIDX_CLASS_NAMES)
    with pytest.raises(SampleError, match=r"targets \['Pneumonia'\]"):
        remap_labels(table, {"pneumonia_bacterial": "Pneumonia"}, COVIDX_CLASS_NAMES)


def test_covidx_keep_mode_evaluates_every_repeated_row_like_the_authors_loader(tmp_path):
    import cv2
    import numpy as np

    for name in ("a.png", "b.png"):
        cv2.imwrite(str(tmp_path / name), np.zeros((8, 8), np.uint8))
    split = tmp_path / "test_split_v2.txt"
    split.write_text("p1 a.png pneumonia\np1 a.png pneumonia\np2 b.png normal\np1 a.png pneumonia\n")
    table = read_covidx_split(split, drop_duplicates="keep")
    assert list(table.frame["sample_id"]) == ["a.png", "a.png#2", "b.png", "a.png#3"]
    assert table.frame["path"].nunique() == 2 and len(table.skipped) == 0
    assert len(read_covidx_split(split, drop_duplicates=True)) == 2
    with pytest.raises(ValueError, match="drop_duplicates must be"):
        read_covidx_split(split, drop_duplicates="yes")


def test_manifest_keep_mode_matches_the_covidx_reader(tmp_path):
    import cv2
    import numpy as np

    cv2.imwrite(str(tmp_path / "a.png"), np.zeros((8, 8), np.uint8))
    (tmp_path / "m.csv").write_text("path,label\na.png,covid\na.png,covid\n")
    kept = read_manifest_csv(tmp_path / "m.csv", drop_duplicates="keep")
    assert list(kept.frame["sample_id"]) == ["a.png", "a.png#2"]
    assert len(read_manifest_csv(tmp_path / "m.csv", drop_duplicates=True)) == 1
    with pytest.raises(ValueError, match="drop_duplicates must be"):
        read_manifest_csv(tmp_path / "m.csv", drop_duplicates="twice")
