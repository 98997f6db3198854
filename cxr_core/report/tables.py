"""Tables of a run: CSV + Markdown files, and our values beside published ones.

Every file is written atomically (:mod:`cxr_core.atomic_files`). This module imports neither TensorFlow nor
Keras.
"""

from __future__ import annotations

import math
import os
import re
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np
import pandas as pd

from cxr_core.atomic_files import atomic_write_text
from cxr_core.errors import CxrError


def format_cell(value, floatfmt: str) -> str:
    """One Markdown cell: NaN and None empty, floats with ``floatfmt``, ints and bools as they are."""
    if value is None:
        return ""
    if isinstance(value, (float, np.floating)):
        if math.isnan(value):
            return ""
        return format(float(value), floatfmt)
    if isinstance(value, (bool, np.bool_)):
        return str(bool(value))
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    try:
        if pd.isna(value):
            return ""
    except (TypeError, ValueError):
        pass
    return str(value)


def _escape(text: str) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def to_markdown(df: pd.DataFrame, *, floatfmt: str = ".2f", index: bool = True,
                right: Sequence[str] = ()) -> str:
    """GitHub-flavoured Markdown table of ``df`` (NaN -> empty cell; numbers right-aligned, as
    are the columns named in ``right``)."""
    headers = [str(c) for c in df.columns]
    numeric = [pd.api.types.is_numeric_dtype(df[c]) or c in right for c in df.columns]
    rows = [[format_cell(v, floatfmt) for v in row] for row in df.itertuples(index=False)]
    if index:
        headers = [str(df.index.name or "")] + headers
        numeric = [False] + numeric
        rows = [[str(i)] + r for i, r in zip(df.index, rows)]
    lines = ["| " + " | ".join(_escape(h) for h in headers) + " |",
             "|" + "|".join("---:" if n else "---" for n in numeric) + "|"]
    lines += ["| " + " | ".join(_escape(c) for c in r) + " |" for r in rows]
    return "\n".join(lines) + "\n"


def write_table(df: pd.DataFrame, stem: str | os.PathLike, *, floatfmt: str = ".2f",
                index: bool = True, markdown: bool = True) -> None:
    """Write ``df`` to ``<stem>.csv`` (full precision) and, with ``markdown``, ``<stem>.md`` (rounded
    to ``floatfmt``), each atomically; parent folders are created."""
    stem = Path(stem)
    atomic_write_text(stem.parent / f"{stem.name}.csv", df.to_csv(index=index))
    if markdown:
        atomic_write_text(stem.parent / f"{stem.name}.md", to_markdown(df, floatfmt=floatfmt, index=index))


#: Spellings of metric and summary-row names that mean the same thing (after normalisation).
METRIC_ALIASES = {"avg": "mean", "average": "mean", "fmeasure": "f1", "f1score": "f1",
                  "sensitivity": "recall", "ppv": "precision"}


def canonical_label(label, aliases: Mapping[str, str] | None = None) -> str:
    """``label`` lower-cased with everything but letters and digits removed, then mapped through
    ``aliases`` (a family's class aliases, keys and values in this normalised form) and
    :data:`METRIC_ALIASES`: ``"F-measure"`` -> ``"f1"``, ``"Pneumonia bacterial"`` ->
    ``"pneumoniabacterial"``."""
    key = re.sub(r"[^0-9a-z]", "", str(label).lower())
    key = (aliases or {}).get(key, key)
    return METRIC_ALIASES.get(key, key)


def comparison_table(ours: pd.DataFrame, published: pd.DataFrame, *,
                     row_map: Mapping[str, str] | None = None,
                     aliases: Mapping[str, str] | None = None) -> pd.DataFrame:
    """Our values, the published ones and the difference side by side.

    Rows are matched by label after normalisation (:func:`canonical_label`: case, spaces and
    punctuation ignored, "avg" = "mean"; class aliases from ``aliases``, by default the published
    table's ``attrs["class_aliases"]``, i.e. its family's, such as "COVID-19" = "covid");
    ``row_map`` maps our row labels to published ones explicitly. Columns are
    those present in both (matched the same way), each giving ``<col> ours``, ``<col> published``
    and ``<col> diff`` (ours - published). Rows present on one side only are kept with NaN on the
    other. Both frames must use the same units (e.g. percent). ``attrs`` carries the published
    table's ``source`` and ``notes``.
    """
    row_map = dict(row_map or {})
    aliases = published.attrs.get("class_aliases") if aliases is None else aliases

    def _canonical(label) -> str:
        return canonical_label(label, aliases)

    pub_rows = {_canonical(i): i for i in published.index}
    pub_cols = {_canonical(c): c for c in published.columns}
    columns = [(c, pub_cols[_canonical(c)]) for c in ours.columns if _canonical(c) in pub_cols]
    if not columns:
        raise CxrError(
            f"published table {published.attrs.get('key', '?')!r} shares no column with ours: ours "
            f"{list(ours.columns)}, published {list(published.columns)}; choose another published.table")
    pairs, matched = [], set()
    for label in ours.index:
        target = row_map.get(label)
        pub_label = target if target in published.index else pub_rows.get(_canonical(label))
        pairs.append((label, pub_label))
        if pub_label is not None:
            matched.add(pub_label)
    pairs += [(None, p) for p in published.index if p not in matched]
    data, index = {}, []
    for ours_label, pub_label in pairs:
        index.append(ours_label if ours_label is not None else pub_label)
    for ours_col, pub_col in columns:
        o = np.array([float(ours.at[r, ours_col]) if r is not None else np.nan for r, _ in pairs])
        p = np.array([pd.to_numeric(published.at[q, pub_col], errors="coerce")
                      if q is not None else np.nan for _, q in pairs], dtype=float)
        data[f"{ours_col} ours"] = o
        data[f"{ours_col} published"] = p
        data[f"{ours_col} diff"] = o - p
    out = pd.DataFrame(data, index=index)
    out.attrs.update(source=published.attrs.get("source", ""), notes=published.attrs.get("notes", ""))
    return out
