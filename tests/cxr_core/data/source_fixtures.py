"""Public sources in their real download layouts, built at test time from ../shared/data images.

Column names and file naming follow the sources themselves (see cxr_core/data/build/sources.py): the
ieee8023 ``metadata.csv`` header of 2020-05 and later, Kermany's ``personN_bacteria_M.jpeg`` /
``IM-xxxx-xxxx.jpeg`` naming (with the Kaggle archive's nested copy and ``__MACOSX``), COVID-CT's
``Images-processed/CT_COVID/CT_COVID`` + ``Data-split`` lists, agchung's Figure1 / Actualmed
metadata, the RSNA challenge's class-info CSV + DICOMs, and the Radiography Database folders.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
from PIL import Image

IEEE_HEADER = ("patientid,offset,sex,age,finding,RT_PCR_positive,survival,intubated,intubation_present,went_icu,"
               "in_icu,needed_supplemental_O2,extubated,temperature,pO2_saturation,leukocyte_count,"
               "neutrophil_count,lymphocyte_count,view,modality,date,location,folder,filename,doi,url,license,"
               "clinical_notes,other_notes,")


def mini_files(shared: Path, folder: str) -> list[Path]:
    return sorted((shared / folder).iterdir())


def write_dicom(path: Path, pixels: np.ndarray, *, photometric: str = "MONOCHROME2", bits_stored: int = 8) -> Path:
    """A minimal valid DICOM (Secondary Capture, explicit VR little endian) holding ``pixels``."""
    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.uid import ExplicitVRLittleEndian, SecondaryCaptureImageStorage, generate_uid

    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = SecondaryCaptureImageStorage
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = Dataset()
    ds.file_meta = meta
    ds.SOPClassUID, ds.SOPInstanceUID = meta.MediaStorageSOPClassUID, meta.MediaStorageSOPInstanceUID
    ds.Modality = "CR"
    ds.Rows, ds.Columns = pixels.shape[:2]
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = photometric
    ds.BitsAllocated = 8 if bits_stored <= 8 else 16
    ds.BitsStored, ds.HighBit, ds.PixelRepresentation = bits_stored, bits_stored - 1, 0
    ds.PixelData = pixels.astype(np.uint8 if bits_stored <= 8 else np.uint16).tobytes()
    path.parent.mkdir(parents=True, exist_ok=True)
    ds.save_as(path, enforce_file_format=True)
    return path


def gray(path: Path) -> np.ndarray:
    return np.asarray(Image.open(path).convert("L"))


def make_ieee8023(root: Path, shared: Path, n_covid: int = 6) -> Path:
    """metadata.csv (2020-05+ header) + images/: COVID-19 PA/AP rows, a lateral, a CT (volumes/), a
    bacterial finding, and a row whose file is missing."""
    images = root / "images"
    images.mkdir(parents=True)
    covid = [p for p in mini_files(shared, "cxr4-mini/covid") if p.name.startswith("ieee8023_")][:n_covid + 1]
    rows = []
    for i, src in enumerate(covid):
        name = src.name.removeprefix("ieee8023_")
        shutil.copyfile(src, images / name)
        view = "L" if i == n_covid else ("PA" if i % 2 else "AP Supine")
        rows.append(f"{100 + i // 2},{i},M,50,Pneumonia/Viral/COVID-19,Y,,,,,,,,,,,,,{view},X-ray,2020,x,images,{name},,,,,,")
    bac = mini_files(shared, "cxr4-mini/pneumonia_bacterial")[0]
    shutil.copyfile(bac, images / "strep.jpeg")
    rows.append("7,0,F,30,Pneumonia/Bacterial/Streptococcus,,,,,,,,,,,,,,PA,X-ray,2019,x,images,strep.jpeg,,,,,,")
    rows.append("8,0,F,30,Pneumonia/Viral/COVID-19,,,,,,,,,,,,,,Axial,CT,2020,x,volumes,ct.nii.gz,,,,,,")
    rows.append('9,0,F,30,Pneumonia/Viral/COVID-19,,,,,,,,,,,,,,PA,X-ray,2020,"Wuhan, China",images,missing.jpg,,,,"a, quoted, note",,')
    (root / "metadata.csv").write_text(IEEE_HEADER + "\n" + "\n".join(rows) + "\n", encoding="utf-8")
    return root


def make_kermany(root: Path, shared: Path, n: int = 5) -> Path:
    """Kaggle layout: chest_xray/{train,test,val}/{NORMAL,PNEUMONIA} + nested copy + __MACOSX."""
    top = root / "chest_xray"
    normal = mini_files(shared, "cxr4-mini/normal")[:n]
    bac = mini_files(shared, "cxr4-mini/pneumonia_bacterial")[:n]
    vir = mini_files(shared, "cxr4-mini/pneumonia_viral")[:n]
    for i, src in enumerate(normal):
        split = "train" if i < n - 1 else "test"
        name = src.name.removeprefix("kermany_")
        if i == 0:
            name = "NORMAL2-IM-1427-0001.jpeg"
        (top / split / "NORMAL").mkdir(parents=True, exist_ok=True)
        shutil.copyfile(src, top / split / "NORMAL" / name)
    for kind, files in (("bacteria", bac), ("virus", vir)):
        for i, src in enumerate(files):
            split = "train" if i < n - 1 else "val"
            (top / split / "PNEUMONIA").mkdir(parents=True, exist_ok=True)
            shutil.copyfile(src, top / split / "PNEUMONIA" / f"person{i % 3 + 1}_{kind}_{i}.jpeg")
    (top / "train" / "PNEUMONIA" / ".DS_Store").write_bytes(b"\0\0")
    shutil.copyfile(bac[0], top / "train" / "PNEUMONIA" / "scan7.jpeg")  # no _bacteria_/_virus_
    nested = top / "chest_xray" / "train" / "NORMAL"
    nested.mkdir(parents=True)
    shutil.copyfile(normal[1], nested / "IM-9999-0001.jpeg")
    (root / "__MACOSX" / "chest_xray" / "train" / "NORMAL").mkdir(parents=True)
    (root / "__MACOSX" / "chest_xray" / "train" / "NORMAL" / "._IM-0001-0001.jpeg").write_bytes(b"x")
    return root


def make_covid_ct(root: Path, shared: Path, n: int = 8) -> Path:
    """Images-processed/CT_COVID/CT_COVID/ (as unzipped) + Data-split lists (one name per line)."""
    lists = {}
    for folder, mini, stem in (("CT_COVID", "ct2-mini/covid", "CT_COVID"), ("CT_NonCOVID", "ct2-mini/normal", "CT_NonCOVID")):
        target = root / "Images-processed" / folder / folder
        target.mkdir(parents=True)
        names = []
        for src in mini_files(shared, mini)[:n]:
            name = src.name.removeprefix("ucsdct_")
            shutil.copyfile(src, target / name)
            names.append(name)
        lists[stem] = names
    for cls, stem in (("COVID", "CT_COVID"), ("NonCOVID", "CT_NonCOVID")):
        names = lists[stem]
        d = root / "Data-split" / cls
        d.mkdir(parents=True)
        (d / f"train{stem}.txt").write_text("\n".join(names[:4]) + "\n")
        (d / f"val{stem}.txt").write_text("\n".join(names[4:5]) + "\n\n")
        (d / f"test{stem}.txt").write_text("\n".join(names[5:7] + ["not_there.png"]) + "\n")
    return root  # names[7] of each class is in no list


def make_agchung(root: Path, shared: Path, prefix: str) -> Path:
    """Figure1 (no file column: images/<patientid>.jpg/.png, Latin-1) or Actualmed (imagename)."""
    images = root / "images"
    images.mkdir(parents=True)
    files = [p for p in mini_files(shared, "cxr4-mini/covid") if p.name.startswith(prefix + "_")][:3]
    header = "patientid,offset,sex,age,finding,survival,temperature,pO2 saturation,view,modality,{col},artifacts/distortion,notes"
    if prefix == "figure1":
        rows = []
        for src in files:
            name = src.name.removeprefix("figure1_")
            shutil.copyfile(src, images / name)
            rows.append(f"{Path(name).stem},,M,50,COVID-19,,,,AP erect,X-ray,orig.jpeg,,caf\xe9")
        rows.append("COVID-00099,,,,,,,,,X-ray,,,")
        text = header.format(col="originalfile") + "\n" + "\n".join(rows) + "\n"
        (root / "metadata.csv").write_bytes(text.encode("latin-1"))
    else:
        rows = []
        for i, src in enumerate(files):
            name = src.name.removeprefix("actualmed_")
            shutil.copyfile(src, images / name)
            rows.append(f"ANON{i},,,,COVID-19,,,,PA,X-ray,{name},,\", date taken\"")
        rows.append("ANON9,,,,,,,,PA,X-ray,CR.none.png,,Inconclusive")
        (root / "metadata.csv").write_text(header.format(col="imagename") + "\n" + "\n".join(rows) + "\n")
    return root


def make_rsna(root: Path, shared: Path) -> Path:
    """stage_2_detailed_class_info.csv (one row per box) + stage_2_train_images/*.dcm (MONOCHROME2 and 1)."""
    ids = ["0004cfab-14fd-4e49-80ba-63a80b6bddd6", "00436515-870c-4b36-a041-de91049b9ab4",
           "00569f44-917d-4c86-a842-81832af98c30"]
    src = mini_files(shared, "cxr4-mini/normal")[:3]
    images = root / "stage_2_train_images"
    for i, (pid, f) in enumerate(zip(ids, src)):
        px = gray(f)
        if i == 2:
            write_dicom(images / f"{pid}.dcm", 255 - px, photometric="MONOCHROME1")
        else:
            write_dicom(images / f"{pid}.dcm", px)
    rows = ["patientId,class", f"{ids[0]},Normal", f"{ids[1]},Lung Opacity", f"{ids[1]},Lung Opacity",
            f"{ids[2]},No Lung Opacity / Not Normal", "ffffffff-0000-0000-0000-000000000000,Normal"]
    (root / "stage_2_detailed_class_info.csv").write_text("\n".join(rows) + "\n")
    return root


def make_radiography(root: Path, shared: Path) -> Path:
    """Later layout: COVID-19_Radiography_Dataset/{COVID,Normal}/images + masks/; names 'COVID (1).png'
    as COVIDx's sirm rows expect (v1 naming)."""
    base = root / "COVID-19_Radiography_Dataset"
    for cls, mini in (("COVID", "cxr4-mini/covid"), ("Normal", "cxr4-mini/normal")):
        (base / cls / "images").mkdir(parents=True)
        (base / cls / "masks").mkdir(parents=True)
        for i, f in enumerate([p for p in mini_files(shared, mini) if p.suffix == ".png" or cls == "Normal"][:2], 1):
            name = f"{cls} ({i}).png"
            Image.open(f).convert("RGB").save(base / cls / "images" / name)
            Image.open(f).convert("L").save(base / cls / "masks" / name)
    return root


def make_ozturk(root: Path, shared: Path, covid_names: list[str], covid_sources: list[Path]) -> Path:
    """github muhammedtalo/COVID-19's layout: ``X-Ray Image DataSet/{Covid-19,No_findings,Pneumonia}``.

    Covid-19 files get ``covid_names`` (names of the collection's metadata.csv, as the release's are);
    the ChestX-ray8 folders get ChestX-ray8 names (``<patient>_<follow-up>.png``): patient 00001684 in
    both classes, 00000099 twice in No_findings; one Pneumonia file without such a name (``scan.png``)
    and a README.md that is not an image."""
    base = root / "X-Ray Image DataSet"
    for folder in ("Covid-19", "No_findings", "Pneumonia"):
        (base / folder).mkdir(parents=True)
    for name, src in zip(covid_names, covid_sources):
        shutil.copyfile(src, base / "Covid-19" / name)
    normal = mini_files(shared, "cxr4-mini/normal")
    pneumonia = mini_files(shared, "cxr4-mini/pneumonia_bacterial")
    for name, src in zip(("00001684_000.png", "00001684_003.png", "00000099_000.png", "00000099_002.png"), normal):
        Image.open(src).convert("L").save(base / "No_findings" / name)
    for name, src in zip(("00001684_011.png", "00000500_001.png", "scan.png"), pneumonia):
        Image.open(src).convert("L").save(base / "Pneumonia" / name)
    (base / "Pneumonia" / "README.md").write_text("not an image\n")
    (root / "README.md").write_text("# COVID-19\n")
    return root
