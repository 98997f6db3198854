"""CVR-Net's five tasks: classes, folder names, published figures, and readers for the data.

The arXiv version evaluates five tasks on three datasets (notebook markdown [CVR-P12]/[CVR-P3],
README of July 2020 [CVR-RM-jul]; docs/PAPERS.md §2.3), with the abstract's F1 and accuracy per task [S2]:

| task | dataset | classes (authors' folders) | F1 | accuracy |
|---|---|---|---|---|
| 1 | Dataset-1 (X-ray) | NOR ``01_NOR``, NCP ``03_NCP`` (a comment says ``02_NCP``) | 0.997 | 0.998 |
| 2 | Dataset-1 (X-ray) | NOR ``01_NOR``, CPN ``02_CPN``, NCP ``03_NCP`` | 0.963 | 0.964 |
| 3 | Dataset-1 (X-ray) | NOR ``01_NOR``, CPB ``02_CPB``, CPV ``03_CPV``, NCP ``04_NCP`` | 0.816 | 0.820 |
| 4 | Dataset-2 (X-ray) | NOR, CPN, NCP | 0.961 | 0.961 |
| 5 | Dataset-3 (CT) | NOR, NCP | 0.780 | 0.780 |

Task-1's NOR is every Kermany image, pneumonia included (5,856 = 1,583 + 4,273, INFERRED; the
later README calls it NCV "non-COVID" [CVR-RM-HEAD]). The averaging behind the abstract's F1 is not
stated (docs/PAPERS.md §2.7 item 7). Dataset-2's extra sources are not stated; Task-4 folder names are
assumed to follow Task-2's.

Readers return a :class:`cxr_core.data.tables.sample_table.SampleTable`:
- :func:`read_task_folders` - the authors' class folders (``01_NOR`` ...) of one task;
- :func:`read_kermany` - Kermany's ``NORMAL``/``PNEUMONIA`` folders, with CPB/CPV taken from the file
  names (``person1_bacteria_1.jpeg``, ``person1_virus_6.jpeg``), as the authors' Task-3 classes are;
- :func:`read_mini_for_task` - the test samples ``../shared/data/cxr4-mini`` (Tasks 1-4) and
  ``ct2-mini`` (Task 5), with their classes mapped by :data:`MINI_CLASS_MAP`.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping

import pandas as pd

from cxr_core.data.decode.extensions import is_image_name
from cxr_core.data.tables.kermany_names import kermany_patient_id, kermany_pneumonia_kind
from cxr_core.data.tables.sample_table import SampleError, SampleTable, table_from_rows
from cxr_core.errors import CxrError, CxrLookupError


@dataclass(frozen=True)
class Task:
    """One of CVR-Net's five tasks (docs/PAPERS.md §2.3, §2.5)."""

    number: int
    dataset: str
    modality: str
    class_names: tuple[str, ...]
    #: authors' folder name -> class (all spellings they used) [CVR-P12], [CVR-T]
    folders: Mapping[str, str]
    #: published image counts per class (Task-5: train+val / test) [CVR-P12], [CVR-P3], [CVR-RM-jul]
    counts: Mapping[str, object]
    #: abstract figures [S2]
    published: Mapping[str, float]
    source: str = "[S2] abstract; classes and folders [CVR-P12]/[CVR-P3]/[CVR-T]"
    notes: tuple[str, ...] = field(default_factory=tuple)

    @property
    def name(self) -> str:
        return f"task{self.number}"

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    @property
    def display_names(self) -> tuple[str, ...]:
        """The notebook's ``class_list`` strings, e.g. ``'class: NOR'`` [CVR-T]."""
        return tuple(f"class: {c}" for c in self.class_names)


TASKS: dict[int, Task] = {
    1: Task(
        1, "Dataset-1", "X-ray", ("NOR", "NCP"),
        {"01_NOR": "NOR", "03_NCP": "NCP", "02_NCP": "NCP"},
        {"NOR": 5856, "NCP": 500},
        {"f1": 0.997, "accuracy": 0.998},
        notes=("NOR = all Kermany images incl. pneumonia (non-COVID), INFERRED from 5,856 = 1,583 + 4,273",
               "notebook folder 03_NCP, its comment says 02_NCP [CVR-T]"),
    ),
    2: Task(
        2, "Dataset-1", "X-ray", ("NOR", "CPN", "NCP"),
        {"01_NOR": "NOR", "02_CPN": "CPN", "03_NCP": "NCP"},
        {"NOR": 1583, "CPN": 4273, "NCP": 500},
        {"f1": 0.963, "accuracy": 0.964},
    ),
    3: Task(
        3, "Dataset-1", "X-ray", ("NOR", "CPB", "CPV", "NCP"),
        {"01_NOR": "NOR", "02_CPB": "CPB", "03_CPV": "CPV", "04_NCP": "NCP"},
        {"NOR": 1583, "CPB": 2780, "CPV": 1493, "NCP": 500},
        {"f1": 0.816, "accuracy": 0.820},
        notes=("CPB/CPV from Kermany file names (_bacteria_ / _virus_)",),
    ),
    4: Task(
        4, "Dataset-2", "X-ray", ("NOR", "CPN", "NCP"),
        {"01_NOR": "NOR", "02_CPN": "CPN", "03_NCP": "NCP"},
        {"NOR": 1648, "CPN": 4371, "NCP": 500},
        {"f1": 0.961, "accuracy": 0.961},
        notes=("Dataset-2 extra sources NOT STATED; folder names assumed as Task-2",),
    ),
    5: Task(
        5, "Dataset-3", "CT", ("NOR", "NCP"),
        {"01_NOR": "NOR", "02_NCP": "NCP", "NonCOVID": "NOR", "COVID": "NCP", "CT_NonCOVID": "NOR", "CT_COVID": "NCP"},
        {"NOR": {"train": 292, "test": 105}, "NCP": {"train": 251, "test": 98}},
        {"f1": 0.780, "accuracy": 0.780},
        notes=("UCSD-AI4H COVID-CT official split; README 'Train' = train + val (INFERRED) [CVR-P3]",),
    ),
}

#: Task-1 fold-2 test report saved in the notebook (1,277 images) [CVR-T]; implied confusion
#: matrix [[1175, 1], [2, 99]] (INFERRED, docs/PAPERS.md §2.5).
NOTEBOOK_TASK1_FOLD2 = {
    "NOR": {"precision": 0.998, "recall": 0.999, "f1": 0.999, "support": 1176},
    "NCP": {"precision": 0.990, "recall": 0.980, "f1": 0.985, "support": 101},
    "accuracy": 0.998,
    "macro": {"precision": 0.994, "recall": 0.990, "f1": 0.992},
    "weighted": {"precision": 0.998, "recall": 0.998, "f1": 0.998},
    "confusion_matrix": [[1175, 1], [2, 99]],
}

#: Classes of the shared test samples -> each task's classes (``None`` drops the images).
#: Task-1 NOR is every non-COVID image (docs/PAPERS.md §2.3); Tasks 2 and 4 pool pneumonia into CPN.
MINI_CLASS_MAP: dict[int, dict[str, str | None]] = {
    1: {"covid": "NCP", "normal": "NOR", "pneumonia_bacterial": "NOR", "pneumonia_viral": "NOR"},
    2: {"covid": "NCP", "normal": "NOR", "pneumonia_bacterial": "CPN", "pneumonia_viral": "CPN"},
    3: {"covid": "NCP", "normal": "NOR", "pneumonia_bacterial": "CPB", "pneumonia_viral": "CPV"},
    4: {"covid": "NCP", "normal": "NOR", "pneumonia_bacterial": "CPN", "pneumonia_viral": "CPN"},
    5: {"covid": "NCP", "normal": "NOR"},
}

#: Kermany pneumonia kind (:func:`cxr_core.data.tables.kermany_names.kermany_pneumonia_kind`) -> CVR-Net class.
_KERMANY_CLASSES = {"bacteria": "CPB", "virus": "CPV"}


def get_task(task: int | str | Task) -> Task:
    """The task by number (``3``) or name (``"task3"``, ``"Task-3"``)."""
    if isinstance(task, Task):
        return task
    m = re.fullmatch(r"(?:task[-_ ]?)?([1-5])", str(task).strip(), re.IGNORECASE)
    if not m:
        raise CxrLookupError(f"unknown CVR-Net task {task!r}; tasks are 1-5 ({[t.name for t in TASKS.values()]})")
    return TASKS[int(m.group(1))]


def kermany_kind(file_name: str) -> str | None:
    """``"CPB"`` for Kermany's ``personN_bacteria_M`` files, ``"CPV"`` for ``personN_virus_M``, else ``None``
    (Kermany's name rule: :func:`cxr_core.data.tables.kermany_names.kermany_pneumonia_kind`)."""
    return _KERMANY_CLASSES.get(kermany_pneumonia_kind(file_name))


def _image_files(folder: Path) -> list[Path]:
    """Image files under ``folder`` (recursive), sorted as Keras' ``flow_from_directory`` sorts them."""
    found = []
    for dirpath, _, files in os.walk(folder, followlinks=True):
        for f in sorted(files):
            if is_image_name(f):
                found.append(Path(dirpath) / f)
    return sorted(found)


def _check_on_error(on_error: str) -> None:
    if on_error not in ("raise", "skip"):
        raise ValueError(f"on_error must be 'raise' or 'skip', got {on_error!r}")


def read_task_folders(root: str | Path, task: int | str | Task, *, on_error: str = "raise") -> SampleTable:
    """Read one task's class folders as the authors laid them out (``root/01_NOR`` ...) [CVR-T].

    Every sub-folder of ``root`` must be one of the task's folder names (:attr:`Task.folders`,
    all spellings, e.g. ``02_NCP`` or ``03_NCP`` for Task-1) or a class name itself (``NOR``).
    Unknown folders raise, or with ``on_error="skip"`` their files go to ``skipped``.
    """
    _check_on_error(on_error)
    task = get_task(task)
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"task folder root not found: {root}")
    known = dict(task.folders, **{c: c for c in task.class_names})
    rows, skipped = [], []
    for sub in sorted(p for p in root.iterdir() if p.is_dir()):
        label = known.get(sub.name)
        files = _image_files(sub)
        if label is None:
            msg = (f"{sub}: folder {sub.name!r} is not a class of {task.name} (expected one of {sorted(known)}); "
                   f"rename it, or leave its files out with on_error='skip' (each listed as skipped)")
            if on_error == "raise":
                raise SampleError(msg)
            skipped += [(str(f), f"folder {sub.name!r} not a class of {task.name}") for f in files]
            continue
        for f in files:
            rows.append({"sample_id": f.relative_to(root).as_posix(), "path": os.path.abspath(f), "label": label,
                         "patient_id": None, "source": None})
    if not rows:
        raise SampleError(f"{root}: no images found in the folders of {task.name} ({sorted(known)})")
    return table_from_rows(rows, task.class_names, skipped)


def read_kermany(
    pneumonia_dir: str | Path,
    *,
    normal_dir: str | Path | None = None,
    covid_dir: str | Path | None = None,
    task: int | str | Task = 3,
    on_error: str = "raise",
) -> SampleTable:
    """Kermany's pneumonia folder (plus optional normal and COVID folders) as one task's samples.

    The pneumonia class comes from the file name, as Kermany named them (``person1_bacteria_1.jpeg``
    -> CPB, ``person1_virus_6.jpeg`` -> CPV); Task-3 keeps CPB/CPV, Tasks 2 and 4 pool them into CPN,
    Task-1 into NOR (non-COVID). A pneumonia file not named ``personN_bacteria_M`` / ``personN_virus_M``
    (:func:`kermany_kind`) raises, or with ``on_error="skip"`` goes to ``skipped``. Patient ids come
    from the file names by the core's one rule,
    :func:`cxr_core.data.tables.kermany_names.kermany_patient_id` (``kermany-person1_bacteria``,
    ``kermany-IM-0115``, ``kermany-NORMAL2-IM-1427``), as ``data build`` and class folders give them;
    ``covid_dir`` images get no patient id. ``sample_id`` is the path relative to the
    common parent of the given folders.
    """
    _check_on_error(on_error)
    task = get_task(task)
    if task.number == 5:
        raise CxrError("Task-5 is the CT task; Kermany's X-rays belong to Tasks 1-4")
    pool = MINI_CLASS_MAP[task.number]
    dirs = {"pneumonia": Path(pneumonia_dir)}
    if normal_dir is not None:
        dirs["normal"] = Path(normal_dir)
    if covid_dir is not None:
        dirs["covid"] = Path(covid_dir)
    for kind, d in dirs.items():
        if not d.is_dir():
            raise FileNotFoundError(f"{kind} folder not found: {d}")
    absolute = {kind: Path(os.path.abspath(d)) for kind, d in dirs.items()}
    base = Path(os.path.commonpath([str(d) for d in absolute.values()]))
    if base in absolute.values():
        base = base.parent
    rows, skipped = [], []
    for kind, d in absolute.items():
        for f in _image_files(d):
            if kind == "pneumonia":
                sub = kermany_kind(f.name)
                if sub is None:
                    msg = f"{f}: Kermany pneumonia file name is neither personN_bacteria_M nor personN_virus_M"
                    if on_error == "raise":
                        raise SampleError(msg)
                    skipped.append((str(f), "file name not personN_bacteria_M / personN_virus_M"))
                    continue
                label = pool["pneumonia_bacterial" if sub == "CPB" else "pneumonia_viral"]
            else:
                label = pool[kind]
            rows.append({
                "sample_id": f.relative_to(base).as_posix(),
                "path": str(f),
                "label": label,
                "patient_id": None if kind == "covid" else kermany_patient_id(f.name),
                "source": None if kind == "covid" else "kermany",
            })
    return table_from_rows(rows, task.class_names, skipped)


def read_mini_for_task(root: str | Path, task: int | str | Task) -> SampleTable:
    """The shared test sample at ``root`` (``cxr4-mini`` or ``ct2-mini``) labelled for ``task``.

    Reads ``root/MANIFEST.csv`` (columns ``path, class, source_repo, patient_id`` ...) and maps its
    classes with :data:`MINI_CLASS_MAP`. For smoke runs only: the sample is far too small to
    reproduce any published figure.
    """
    task = get_task(task)
    root = Path(root)
    manifest = root / "MANIFEST.csv"
    if not manifest.is_file():
        raise FileNotFoundError(f"no MANIFEST.csv in {root}")
    frame = pd.read_csv(manifest, dtype=str, keep_default_na=False)
    for col in ("path", "class"):
        if col not in frame.columns:
            raise SampleError(f"{manifest}: missing column {col!r}; found {list(frame.columns)}")
    mapping = MINI_CLASS_MAP[task.number]
    unknown = sorted(set(frame["class"]) - set(mapping))
    if unknown:
        raise SampleError(
            f"{manifest}: classes {unknown} have no mapping for {task.name} ({task.modality}); "
            f"expected {sorted(mapping)} - use cxr4-mini for Tasks 1-4 and ct2-mini for Task 5"
        )
    rows = []
    for rec in frame.itertuples(index=False):
        label = mapping[rec[frame.columns.get_loc("class")]]
        if label is None:
            continue
        path = os.path.abspath(root / rec.path)
        patient = getattr(rec, "patient_id", "") or None
        rows.append({"sample_id": Path(rec.path).as_posix(), "path": str(path), "label": label,
                     "patient_id": patient, "source": getattr(rec, "source_repo", "") or None})
    return table_from_rows(rows, task.class_names, [])
