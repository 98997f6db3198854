"""Published results as data: the container type and the look-up over the registered families.

Each paper package lists its tables (copied from ``docs/PAPERS.md`` with their source tags) as
:class:`PublishedTable` records in its :attr:`cxr_core.family.PublishedPart.tables`; this module
holds no numbers of its own.

``published_table(key)`` returns a fresh DataFrame; ``df.attrs`` holds ``key``, ``title``,
``source``, ``notes``, ``layout``, ``units``, ``companion`` (for fold tables: the class-wise table of
the same experiment), ``class_aliases`` (the owning family's label aliases) and any ``extra``
fields. Layouts:

* ``folds``: rows ``fold 1`` .. ``fold k`` and ``mean``; columns as :func:`cxr_core.evaluation.metrics.fold_table`.
* ``classwise``: one row per class; columns as :func:`cxr_core.evaluation.metrics.classwise_table`.
* ``summary``: one row per model / task / experiment.
* ``report``: a scikit-learn ``classification_report`` as printed (fractions).
* ``confusion``: a confusion matrix, rows true, columns predicted.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
import pandas as pd

from cxr_core.evaluation.metrics import CLASSWISE_COLUMNS, TABLE_COLUMNS
from cxr_core.family import ModelFamily, available_families, get_family, iter_families
from cxr_core.errors import CxrLookupError

NAN = float("nan")
#: Columns of :func:`cxr_core.evaluation.metrics.fold_table` and :func:`cxr_core.evaluation.metrics.classwise_table`.
FOLD_COLUMNS = TABLE_COLUMNS
CLASS_COLUMNS = CLASSWISE_COLUMNS
#: Columns of a scikit-learn ``classification_report`` as printed.
REPORT_COLUMNS = ("precision", "recall", "f1", "support")
LAYOUTS = ("folds", "classwise", "summary", "report", "confusion")
UNITS = ("percent", "fraction", "count")


@dataclass(frozen=True)
class PublishedTable:
    """One published table: values plus where they come from.

    ``rows`` are tuples in ``columns`` order, one per ``index`` label; NaN marks a cell the source
    leaves empty. ``layout`` is one of :data:`LAYOUTS`, ``units`` one of :data:`UNITS`. ``extra``
    pairs go into ``attrs`` of :meth:`frame` (e.g. an overall accuracy printed in the text).
    """

    key: str
    title: str
    source: str
    layout: str
    units: str
    index: tuple[str, ...]
    columns: tuple[str, ...]
    rows: tuple[tuple, ...]
    notes: str = ""
    companion: str | None = None
    extra: tuple[tuple[str, object], ...] = ()
    quoted: bool = False
    """Other methods' numbers the paper quotes (not the paper's own results): reports show them in a
    section marked as quoted (:func:`quoted_tables`)."""

    def __post_init__(self):
        if self.layout not in LAYOUTS:
            raise ValueError(f"published table {self.key!r}: layout {self.layout!r}, expected one of {LAYOUTS}")
        if self.units not in UNITS:
            raise ValueError(f"published table {self.key!r}: units {self.units!r}, expected one of {UNITS}")
        if len(self.rows) != len(self.index) or any(len(r) != len(self.columns) for r in self.rows):
            raise ValueError(f"published table {self.key!r}: {len(self.rows)} rows for {len(self.index)} "
                             f"labels, each expected to have {len(self.columns)} values")

    def frame(self, class_aliases=None) -> pd.DataFrame:
        """A fresh DataFrame of the values with the metadata in ``attrs``."""
        df = pd.DataFrame([list(r) for r in self.rows], index=list(self.index),
                          columns=list(self.columns))
        df.attrs.update(key=self.key, title=self.title, source=self.source, notes=self.notes,
                        layout=self.layout, units=self.units, companion=self.companion,
                        class_aliases=dict(class_aliases or {}), quoted=self.quoted)
        df.attrs.update(dict(self.extra))
        return df


def _entries() -> list[tuple[ModelFamily, PublishedTable]]:
    return [(family, table) for family in iter_families() for table in family.published.tables]


def list_tables() -> list[str]:
    """Keys of all published tables of the available families (e.g. ``<family>/table3``), each
    family's in paper order."""
    return [t.key for _, t in _entries()]


def describe_tables() -> pd.DataFrame:
    """One row per table: key (index), title, source, layout, units."""
    entries = [t for _, t in _entries()]
    return pd.DataFrame([(t.title, t.source, t.layout, t.units) for t in entries],
                        index=pd.Index([t.key for t in entries], name="key"),
                        columns=["title", "source", "layout", "units"])


def find_published(key: str) -> tuple[ModelFamily, PublishedTable]:
    """The family that publishes ``key`` and its record (KeyError lists the known keys).

    The family named by the key's prefix (``<family>/...``) is asked first, so looking up one
    family's table loads only that family; other keys search every available family."""
    prefix = str(key).split("/", 1)[0]
    if prefix in available_families():
        family = get_family(prefix)
        for table in family.published.tables:
            if table.key == key:
                return family, table
    entries = _entries()
    for family, table in entries:
        if table.key == key:
            return family, table
    raise CxrLookupError(f"published table {key!r} not found; known: {', '.join(t.key for _, t in entries)}")


def published_entry(key: str) -> PublishedTable:
    """The :class:`PublishedTable` record behind ``key`` (KeyError lists the known keys)."""
    return find_published(key)[1]


def published_table(key: str) -> pd.DataFrame:
    """A fresh DataFrame of the published table ``key``; metadata in ``df.attrs`` (see module doc)."""
    family, table = find_published(key)
    return table.frame(family.published.class_aliases)


def quoted_tables(family_name: str | None) -> list[pd.DataFrame]:
    """The ``quoted`` tables of family ``family_name`` (paper order), as :func:`published_table` frames;
    empty for None or a family that is not available."""
    if not family_name or family_name not in available_families():
        return []
    family = get_family(family_name)
    return [t.frame(family.published.class_aliases) for t in family.published.tables if t.quoted]


def published_confusion(key: str) -> np.ndarray:
    """The values of a ``confusion`` layout table as an array (rows true, columns predicted)."""
    entry = published_entry(key)
    if entry.layout != "confusion":
        raise ValueError(f"published table {key!r}: expected layout 'confusion', found "
                         f"{entry.layout!r}")
    return entry.frame().to_numpy()


def resolve_published_key(key: str | None, config=None) -> tuple[str | None, dict]:
    """``(published key, selection)`` for a key named in a config.

    A family's :attr:`cxr_core.family.PublishedPart.aliases` map preset spellings onto
    its tables (only the family the key's prefix names is asked when there is one); the expression's named groups become the selection (digit strings as ``int``). A
    key no alias matches is returned as it is, with an empty selection.
    """
    if key is None:
        return None, {}
    prefix = str(key).split("/", 1)[0]
    families = [get_family(prefix)] if prefix in available_families() else iter_families()
    for family in families:
        for pattern, target in family.published.aliases.items():
            match = re.match(pattern, key)
            if match:
                selection = {k: int(v) if v is not None and v.isdigit() else v
                             for k, v in match.groupdict().items()}
                return target, selection
    return key, {}
