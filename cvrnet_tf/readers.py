"""Dataset readers CVR-Net adds as ``data.format`` values (``FAMILY.data.readers``).

``data.format: kermany`` reads Kermany's release layout, a folder with ``NORMAL`` and ``PNEUMONIA``
subfolders (``chest_xray/train``), through :func:`cvrnet_tf.tasks.read_kermany`: the pneumonia
class comes from the file names (``_bacteria_`` -> CPB, ``_virus_`` -> CPV), as the authors'
Task-3 classes are [CVR-P12], docs/PAPERS.md §2.3.
"""

from __future__ import annotations

from pathlib import Path

from cvrnet_tf.tasks import TASKS, read_kermany
from cxr_core.errors import CxrError

#: Tasks whose classes a Kermany folder can give (Task-5 is CT; Task-4 has Task-2's classes).
_XRAY_TASKS = (1, 2, 3)


def _subfolder(root: Path, name: str) -> Path | None:
    found = [p for p in root.iterdir() if p.is_dir() and p.name.lower() == name.lower()]
    return found[0] if found else None


def read_kermany_folder(source, *, class_names=None, image_dir=None, drop_duplicates=False,
                        on_error: str = "raise"):
    """A Kermany ``train`` or ``test`` folder (``NORMAL``, ``PNEUMONIA``) as one task's samples.

    ``class_names`` picks the task whose classes they are, in that order (``NOR, NCP`` -> Task-1,
    ``NOR, CPN, NCP`` -> Task-2, ``NOR, CPB, CPV, NCP`` -> Task-3; None -> Task-3). ``image_dir``
    and ``drop_duplicates`` do not apply to class folders and must be left unset. Returns a
    :class:`cxr_core.data.tables.sample_table.SampleTable`; ValueError names the folder or the classes.
    """
    root = Path(source)
    if image_dir is not None or drop_duplicates:
        raise CxrError(f"data.format kermany: image_dir / drop_duplicates do not apply to the folder {root}")
    if not root.is_dir():
        raise FileNotFoundError(f"data.format kermany: folder {root} not found (expected NORMAL/ and PNEUMONIA/)")
    if class_names is None:
        task = TASKS[3]
    else:
        wanted = tuple(str(c) for c in class_names)
        matches = [TASKS[n] for n in _XRAY_TASKS if TASKS[n].class_names == wanted]
        if not matches:
            raise CxrError(f"data.format kermany: class_names {list(wanted)} are no X-ray task's classes; "
                             f"expected one of {[list(TASKS[n].class_names) for n in _XRAY_TASKS]}")
        task = matches[0]
    pneumonia = _subfolder(root, "PNEUMONIA")
    if pneumonia is None:
        raise FileNotFoundError(f"data.format kermany: no PNEUMONIA folder in {root}")
    return read_kermany(pneumonia, normal_dir=_subfolder(root, "NORMAL"), task=task, on_error=on_error)


READERS = {"kermany": read_kermany_folder}
