"""The schema checker of cxr_core.config.schema, and a family's ``extra`` section checked at load.

A tiny family registered at run time declares its ``extra`` schema with the same annotations as the
core sections; the core checks it when the config is loaded, naming the file, key, value and allowed
values, and recomputes the family preset's notes for the values in force.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated, Literal, Mapping

import pytest

from cxr_core.config.experiment import load_config, parse_override, replace, resolve_config
from cxr_core.config.schema import Choices, ConfigError, Fraction, PositiveInt, Range, build, check, enumerated_fields
from cxr_core.family import ModelFamily, ModelPart, Preset
from tests.tiny_family import registered


@dataclass(frozen=True)
class Inner:
    mode: Literal["fast", "exact"] = "fast"
    share: Fraction = 0.5


@dataclass(frozen=True)
class TinyExtra:
    """The tiny family's ``extra.tinyschema`` section."""

    steps: PositiveInt = 3
    order: Annotated[tuple[Literal["a", "b"], ...], Choices(("a", "b"), ("b",))] = ("a", "b")
    inner: Inner = field(default_factory=Inner)
    optional_inner: Inner | None = None
    weights: Mapping[str, Annotated[float, Range(ge=0, le=1)]] | None = None


FAMILY = ModelFamily(
    name="tinyschema",
    model=ModelPart(build=lambda **kwargs: None),
    presets={"base": Preset(
        name="base",
        values={"preprocess": {"resize_method": "area"}, "extra": {"tinyschema": {"steps": 3}}},
        notes={"preprocess.resize_method": "area: the tiny paper says so [T]",
               "extra.tinyschema.steps": "3 steps [T]"},
    )},
    extra_schema=TinyExtra,
)


@pytest.fixture()
def schema_family():
    with registered(FAMILY) as family:
        yield family


@pytest.mark.parametrize("raw, message", [
    ({"steps": 0}, "x.yaml: extra.tinyschema.steps must be an integer >= 1, found 0"),
    ({"steps": True}, "x.yaml: extra.tinyschema.steps must be an integer, found True"),
    ({"order": ["b", "a"]}, "x.yaml: extra.tinyschema.order: [b, a] is not one of [a, b], [b]"),
    ({"order": ["c"]}, "x.yaml: extra.tinyschema.order[0]: 'c' is not one of a, b"),
    ({"inner": {"mode": "slow"}}, "x.yaml: extra.tinyschema.inner.mode: 'slow' is not one of fast, exact"),
    ({"inner": {"speed": 1}}, "x.yaml: unknown key extra.tinyschema.inner.speed; allowed keys in "
                              "extra.tinyschema.inner: ['mode', 'share']"),
    ({"optional_inner": {"share": 1}}, "x.yaml: extra.tinyschema.optional_inner.share must be a number in (0, 1), "
                                       "found 1.0"),
    ({"weights": {"a": 2}}, "x.yaml: extra.tinyschema.weights.a must be a number in [0, 1], found 2.0"),
    ({"stepz": 1}, "x.yaml: unknown key extra.tinyschema.stepz; allowed keys in extra.tinyschema: "),
])
def test_a_familys_extra_section_is_checked_at_load(schema_family, tmp_path, raw, message):
    with pytest.raises(ConfigError) as err:
        resolve_config({"preset": "tinyschema/base", "extra": {"tinyschema": raw}}, origin="x.yaml")
    assert str(err.value).startswith(message), str(err.value)


def test_a_valid_extra_section_loads_and_other_families_sections_are_refused(schema_family, tmp_path):
    cfg = resolve_config({"preset": "tinyschema/base",
                          "extra": {"tinyschema": {"order": ["b"], "optional_inner": None}, "expected_params": 7}})
    assert cfg.extra["tinyschema"]["order"] == ["b"] and cfg.extra["expected_params"] == 7
    assert build(TinyExtra, cfg.extra["tinyschema"], "extra.tinyschema").order == ("b",)
    with pytest.raises(ConfigError, match=r"unknown key extra\.coronanet for model family tinyschema; allowed keys "
                       r"in extra: \['expected_params', 'required', 'tinyschema'\]"):
        resolve_config({"preset": "tinyschema/base", "extra": {"coronanet": {}}})
    path = tmp_path / "t.yaml"
    path.write_text("preset: tinyschema/base\n")
    with pytest.raises(ConfigError, match=r"^--set: extra\.tinyschema\.inner\.mode: 'slw' is not one of fast, exact$"):
        load_config(path, overrides=parse_override("extra.tinyschema.inner.mode=slw"))


def test_the_family_presets_notes_are_recomputed_for_the_values_in_force(schema_family):
    cfg = resolve_config({"preset": "tinyschema/base"})
    assert cfg.deviations == ("preprocess.resize_method: area: the tiny paper says so [T]",
                              "extra.tinyschema.steps: 3 steps [T]")
    changed = resolve_config({"preset": "tinyschema/base", "extra": {"tinyschema": {"steps": 5}}},
                             overrides={"preprocess": {"resize_method": "nearest"}})
    assert changed.deviations == (
        "preprocess.resize_method: nearest, set by this experiment (not the preset's note: preset tinyschema/base: "
        "area: the tiny paper says so [T])",  # the note opens with the old value: not repeated
        "extra.tinyschema.steps: 5, set by this experiment (not the preset's note: preset tinyschema/base: "
        "3 steps [T])",
    )
    assert replace(changed, {"preprocess": {"resize_method": "area"}}).deviations[0] == cfg.deviations[0]


def test_enumerated_fields_lists_literals_choices_and_null():
    assert enumerated_fields(TinyExtra, "extra.tinyschema") == {
        "extra.tinyschema.order": (("a", "b"), ("b",)),
        "extra.tinyschema.inner.mode": ("fast", "exact"),
        "extra.tinyschema.optional_inner.mode": ("fast", "exact"),
    }


@pytest.mark.parametrize("tp, value, expected", [
    (Literal[False, True, "keep"], True, True),
    (Literal[0, 1, 2], 2, 2),
    (float, 3, 3.0),
    (tuple[int, int], [1, 2], (1, 2)),
    (Literal["minority"] | PositiveInt | Mapping[str, int] | None, {"a": 1}, {"a": 1}),
    (Literal["minority"] | PositiveInt | Mapping[str, int] | None, None, None),
])
def test_check_accepts_and_converts(tp, value, expected):
    out = check(tp, value, "k")
    assert out == expected and type(out) is type(expected)


@pytest.mark.parametrize("tp, value, message", [
    (Literal[False, True, "keep"], 1, "k: 1 is not one of false, true, keep"),  # 1 is not true
    (Literal[0, 1, 2], 1.0, "k: 1.0 is not one of 0, 1, 2"),
    (Literal[0, 1, 2], True, "k: True is not one of 0, 1, 2"),
    (Literal["a"] | None, "b", "k: 'b' is not one of a, null"),
    (Literal["minority"] | PositiveInt | Mapping[str, int] | None, "minorty",
     "k: 'minorty' is not one of minority, an integer, a mapping (key: value), null"),
    (Literal["minority"] | PositiveInt | Mapping[str, int] | None, 0, "k must be an integer >= 1 or null, found 0"),
    (int, None, "k may not be null"),
])
def test_check_refuses_with_the_allowed_values(tp, value, message):
    with pytest.raises(ConfigError) as err:
        check(tp, value, "k", "f.yaml")
    assert str(err.value) == f"f.yaml: {message}" and err.value.key == "k"
