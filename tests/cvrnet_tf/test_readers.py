"""cvrnet_tf.readers: ``data.format: kermany`` through the family's readers and cxr_core.data.tables.readers.read_samples."""

from __future__ import annotations

import os

import pytest

from cxr_core.data.tables.readers import read_samples
from cvrnet_tf import FAMILY
from cvrnet_tf.readers import read_kermany_folder
from tests.cvrnet_tf.test_tasks import kermany_tree  # noqa: F401  (fixture)


def test_kermany_format_reads_a_release_folder(kermany_tree, cxr4_mini):  # noqa: F811
    assert FAMILY.data.readers["kermany"] is read_kermany_folder
    n = {c: len(os.listdir(cxr4_mini / c)) for c in ("normal", "pneumonia_bacterial", "pneumonia_viral")}
    t3 = read_samples(kermany_tree, format="kermany")
    # Task-3 classes; CPB / CPV from the file names, no COVID folder in a Kermany release [CVR-P12]
    assert t3.class_counts().to_dict() == {"NOR": n["normal"], "CPB": n["pneumonia_bacterial"],
                                           "CPV": n["pneumonia_viral"], "NCP": 0}
    t2 = read_samples(kermany_tree, format="kermany", class_names=["NOR", "CPN", "NCP"])
    assert t2.class_counts().to_dict() == {"NOR": n["normal"],
                                           "CPN": n["pneumonia_bacterial"] + n["pneumonia_viral"], "NCP": 0}


def test_kermany_format_errors_name_the_problem(kermany_tree, tmp_path):  # noqa: F811
    with pytest.raises(ValueError, match="no X-ray task's classes"):
        read_samples(kermany_tree, format="kermany", class_names=["normal", "covid"])
    with pytest.raises(ValueError, match="do not apply"):
        read_samples(kermany_tree, format="kermany", image_dir=str(tmp_path))
    (tmp_path / "empty").mkdir()
    with pytest.raises(FileNotFoundError, match="no PNEUMONIA folder"):
        read_samples(tmp_path / "empty", format="kermany")
