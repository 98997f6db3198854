"""covid-cxr summary: layer table and parameter counts beside the published ones."""

from __future__ import annotations

import pytest

from cxr_core.config.param_counts import ParamCounts
from cxr_core.models.summary import counts_table, model_summary, published_counts


#: tinycnn (width 16) at 3 classes, by hand: conv1 3*3*3*16 + 16 = 448, conv2 3*3*16*32 + 32 = 4,640,
#: dense 32*3 + 3 = 99.
TINY_TOTAL = 448 + 4640 + 99


def test_published_counts_are_found_in_extra_and_in_a_family_section():
    found = published_counts({"expected_params": [10, 8, 2], "task": 1,
                              "fam": {"expected_params": {"classification": [5, 5, 0], "with_decoder": None},
                                      "other": 3},
                              "g": {"expected_params": {"total": 7}}})
    assert found == {"extra.expected_params": ParamCounts(10, 8, 2),
                     "extra.fam.expected_params.classification": ParamCounts(5, 5, 0),
                     "extra.g.expected_params": ParamCounts(total=7)}


@pytest.mark.slow  # the CLI imports every family to list them
def test_cli_prints_the_layer_table_and_counts_beside_the_published_ones(tiny_family, capsys):
    from cxr_core.cli.main import main

    assert main(["summary", "--model", tiny_family.name, "--set", f"extra.expected_params=[{TINY_TOTAL}, {TINY_TOTAL}, 1]"]) == 0
    out = capsys.readouterr().out
    assert "conv2 (Conv2D)" in out and "4,640" in out and "predictions (Dense)" in out
    assert f"Total params: {TINY_TOTAL:,}" in out
    lines = {line.split()[0]: line for line in out.splitlines() if line.split()}
    assert lines["total"].split()[1] == f"{TINY_TOTAL:,}" and "(same)" in lines["total"]
    assert "(same)" in lines["trainable"]
    assert lines["non-trainable"].split()[1] == "0" and "1 (DIFFERS)" in lines["non-trainable"]
    assert "input 32x32x3, 3 classes, preset tinycnn/authors_code" in out


def test_a_preset_without_published_counts_says_so(tiny_family):
    summary = model_summary(tiny_family.name, "paper")
    assert summary.counts == ParamCounts(TINY_TOTAL, TINY_TOTAL, 0)
    assert "records no published parameter counts" in counts_table(summary)


@pytest.mark.slow
@pytest.mark.parametrize("family, preset, overrides, published", [
    # CVR-Net's counts do not depend on the input size (global pooling): 96x96 builds fast [CVR-T]
    ("cvrnet", "authors_code", {"preprocess": {"image_size": [96, 96]}},
     {"extra.expected_params": ParamCounts(48_602_610, 48_494_962, 107_648)}),
    # CoroNet Table II [S4] at its published 150x150 (Flatten: counts depend on the size)
    ("coronet", "authors_code", None, {"extra.expected_params": ParamCounts(33_969_964, 33_915_436, 54_528)}),
])
def test_published_models_have_their_published_counts(family, preset, overrides, published):
    summary = model_summary(family, preset, overrides)
    assert summary.published == published
    (expected,) = published.values()
    assert summary.counts == expected
    assert counts_table(summary).count("(same)") == 3


@pytest.mark.slow
def test_coronanet_lists_both_model_variants():
    summary = model_summary("coronanet", "authors_code")
    assert set(summary.published) == {"extra.coronanet.expected_params.classification",
                                      "extra.coronanet.expected_params.with_decoder"}
    # the authors' code keeps the decoder in the model [CR]: its counts are the with_decoder ones
    assert summary.counts == summary.published["extra.coronanet.expected_params.with_decoder"]
    table = counts_table(summary)
    assert "DIFFERS" not in table and table.count("(same)") == 3 and table.count("(another variant)") == 3


def test_a_count_of_another_variant_is_shown_not_compared():
    from cxr_core.models.summary import built_variant

    keys = ["extra.f.expected_params.classification", "extra.f.expected_params.with_decoder", "extra.expected_params"]
    assert built_variant(keys[1], keys, {"with_decoder": True}) and not built_variant(keys[0], keys, {"with_decoder": True})
    assert built_variant(keys[0], keys, {"with_decoder": False}) and not built_variant(keys[1], keys, {"with_decoder": False})
    assert built_variant(keys[2], keys, {"with_decoder": True})  # not per variant: always compared
