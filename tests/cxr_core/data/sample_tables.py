"""Sample tables that tests build by hand, without a reader."""

from __future__ import annotations

from pathlib import Path
from typing import Callable, Sequence

import pandas as pd

from cxr_core.data.tables.sample_table import SampleTable


def one_class_table(paths: Sequence[Path], *, sample_id: Callable[[Path], str] = str, label: str = "a",
                    class_names: tuple[str, ...] = ("a",)) -> SampleTable:
    """``paths`` as one table, every image labelled ``label`` (label index 0 of ``class_names``), sample id
    ``sample_id(path)`` (the path itself by default), no patient ids or sources."""
    n = len(paths)
    frame = pd.DataFrame({
        "sample_id": [sample_id(p) for p in paths], "path": [str(p) for p in paths], "label": [label] * n,
        "label_index": [0] * n, "patient_id": pd.array([pd.NA] * n, dtype="string"),
        "source": pd.array([pd.NA] * n, dtype="string"),
    })
    return SampleTable(frame=frame, class_names=class_names)
