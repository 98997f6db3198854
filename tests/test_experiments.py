"""Every experiment YAML resolves, names a registered model family and a published table that exists."""

from __future__ import annotations

from pathlib import Path

import pytest

from cxr_core.config import load_config
from cxr_core.published import list_tables

REPO = Path(__file__).resolve().parents[1]
EXPERIMENTS = sorted((REPO / "experiments").rglob("*.yaml"))


def test_there_is_an_experiment_per_published_task():
    names = {p.relative_to(REPO / "experiments").as_posix() for p in EXPERIMENTS}
    expected = {"coronet/4class.yaml", "coronet/3class.yaml", "coronet/2class.yaml",
                *(f"cvrnet/task{t}.yaml" for t in range(1, 6)), "coronanet/covidx.yaml"}
    assert expected <= names, sorted(expected - names)


@pytest.mark.parametrize("path", EXPERIMENTS, ids=lambda p: p.relative_to(REPO / "experiments").as_posix())
def test_experiment_resolves(path):
    cfg = load_config(path)
    assert cfg.model.family == path.parent.name
    assert cfg.published.table in list_tables(), f"{path}: published.table {cfg.published.table!r} is unknown"
    assert cfg.data.class_names and len(cfg.data.class_names) == (cfg.model.num_classes or len(cfg.data.class_names))
    assert cfg.deviations, f"{path}: the preset's notes should travel with the config"


@pytest.mark.parametrize("name", ["coronet/4class.yaml", "coronet/2class.yaml", "cvrnet/task3.yaml"])
def test_experiment_models_have_the_published_parameter_counts(name):
    from cxr_core.protocol import check_parameter_count

    cfg = load_config(REPO / "experiments" / name)
    check_parameter_count(cfg, len(cfg.data.class_names))  # raises on a mismatch


def test_a_config_that_does_not_describe_the_published_model_is_refused():
    from cxr_core.config import replace
    from cxr_core.protocol import check_parameter_count

    cfg = load_config(REPO / "experiments/coronet/4class.yaml")
    wrong = replace(cfg, {"preprocess": {"image_size": [224, 224]}})
    with pytest.raises(ValueError, match="46,552,876 parameters, the config expects 33,969,964"):
        check_parameter_count(wrong, 4)
