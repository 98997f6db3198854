"""cxr_core.report.published: the container and the look-up over the families' tables (numbers: per package)."""

from __future__ import annotations

import pandas as pd
import pytest

from cxr_core.report import published as P

_ROWS = dict(key="t/x", title="x", source="[TEST]", layout="summary", units="percent",
             index=("a", "b"), columns=("Accuracy",), rows=((1.0,), (2.0,)))


def test_list_and_describe():
    keys = P.list_tables()
    for key in ("coronet/table3", "cvrnet/abstract", "coronanet/table5_ppv", "covidnet/results"):
        assert key in keys
    assert len(set(keys)) == len(keys)
    desc = P.describe_tables()
    assert list(desc.index) == keys
    assert desc["source"].str.len().gt(0).all()


@pytest.mark.parametrize("key", P.list_tables())
def test_every_table_has_metadata_and_is_fresh(key):
    df = P.published_table(key)
    assert isinstance(df, pd.DataFrame) and len(df) > 0
    assert df.attrs["key"] == key
    assert df.attrs["source"].startswith("[")
    assert df.attrs["layout"] in P.LAYOUTS and df.attrs["units"] in P.UNITS
    assert isinstance(df.attrs["class_aliases"], dict)
    if df.attrs.get("companion"):
        assert df.attrs["companion"] in P.list_tables()
    df.iloc[0, -1] = -1  # a caller's edit does not leak into the next call
    assert P.published_table(key).iloc[0, -1] != -1


def test_a_malformed_table_is_refused():
    assert P.PublishedTable(**_ROWS).frame().loc["b", "Accuracy"] == 2.0
    with pytest.raises(ValueError, match="layout 'chart'"):
        P.PublishedTable(**(_ROWS | {"layout": "chart"}))
    with pytest.raises(ValueError, match="units 'permille'"):
        P.PublishedTable(**(_ROWS | {"units": "permille"}))
    with pytest.raises(ValueError, match="1 rows for 2 labels"):
        P.PublishedTable(**(_ROWS | {"rows": ((1.0,),)}))
    with pytest.raises(ValueError, match="expected to have 1 values"):
        P.PublishedTable(**(_ROWS | {"rows": ((1.0, 2.0), (2.0,))}))


def test_unknown_key_and_wrong_layout():
    with pytest.raises(KeyError, match="coronet/table3"):
        P.published_table("coronet/table99")
    with pytest.raises(ValueError, match="confusion"):
        P.published_confusion("coronet/table3")


def test_key_aliases_come_from_the_families():
    assert P.resolve_published_key("cvrnet/abstract_task2") == ("cvrnet/abstract", {"task": 2})
    assert P.resolve_published_key("coronanet/abstract") == ("coronanet/accuracy", {})
    assert P.resolve_published_key("coronet/table3") == ("coronet/table3", {})
    assert P.resolve_published_key(None) == (None, {})
