"""cxr_core.protocol.experiment_data: the experiment's sample table from its config (real images), and the run's
samples.csv / skipped.csv (:mod:`cxr_core.runs.directory`)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from cxr_core.config.experiment import load_config, replace
from cxr_core.protocol.experiment_data import load_samples, manifest_hash, pipeline_spec
from cxr_core.runs.directory import write_samples

REPO = Path(__file__).resolve().parents[3]


def _cfg(source: Path, **data):
    cfg = load_config(REPO / "experiments/coronet/4class.yaml")
    return replace(cfg, {"data": {"source": str(source), "undersample": None, **data}})


def test_bad_files_stop_the_run_or_are_listed(cxr4_mini, tmp_path):
    manifest = pd.read_csv(cxr4_mini / "MANIFEST.csv").groupby("class").head(2)
    manifest["path"] = [str(cxr4_mini / p) for p in manifest["path"]]
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"\x89PNG\r\n\x1a\n not really a png")
    manifest = pd.concat([manifest, pd.DataFrame([{"path": str(broken), "class": "covid"}])])
    manifest[["path", "class"]].to_csv(tmp_path / "m.csv", index=False)
    cfg = _cfg(tmp_path / "m.csv")
    with pytest.raises(Exception, match="broken.png"):
        load_samples(cfg)
    table = load_samples(replace(cfg, {"data": {"on_bad_file": "skip"}}))
    assert len(table) == 8 and list(table.skipped["path"]) == [str(broken)]
    write_samples(tmp_path / "run", table)
    listed = pd.read_csv(tmp_path / "run" / "skipped.csv")
    assert listed["path"].tolist() == [str(broken)] and listed["reason"].str.len().min() > 0


def test_manifest_hash_is_sha256_of_sorted_ids_and_labels(cxr4_mini):
    import hashlib

    table = load_samples(_cfg(cxr4_mini / "MANIFEST.csv", verify_images=False))
    pairs = sorted(zip(table.frame["sample_id"], table.frame["label"]))
    expected = hashlib.sha256("".join(f"{s}\t{l}\n" for s, l in pairs).encode()).hexdigest()
    assert manifest_hash(table) == expected
    assert manifest_hash(table.subset(list(range(len(table)))[::-1])) == expected, "row order does not matter"
    assert manifest_hash(table.subset(list(range(1, len(table))))) != expected


def test_pipeline_spec_follows_preprocess_and_augment():
    cfg = load_config(REPO / "experiments/coronet/4class.yaml")
    spec = pipeline_spec(cfg)
    assert spec.image_size == tuple(cfg.preprocess.image_size) and spec.resize_method == cfg.preprocess.resize_method
    assert spec.scaling == cfg.preprocess.scaling and (spec.augment is None) == (not cfg.augment.enabled)
    off = pipeline_spec(replace(cfg, {"augment": {"enabled": False}}))
    assert off.augment is None
