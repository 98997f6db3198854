"""Build the benchmark image set: real chest X-ray content at the originals' sizes (>= 600 files).

Sources (never copied into the repository; the set goes to a temporary or ignored folder):

- every image of ``../shared/data/cxr4-mini`` (192 real X-rays, downscaled to 512 px), upscaled three
  times with PIL bicubic to a long side drawn uniformly from 1000..2500 px (seeded), saved in the
  file's own format and mode (JPEG quality 90 / PNG, gray or RGB as the original);
- the full-size originals of ``../shared/data/cxr4-mini-raw`` (1458-2394 px, PNG and JPEG), four
  byte-identical copies each.

192 x 3 + 6 x 4 = 600 files in class folders (``covid/``, ``normal/``, ``pneumonia_bacterial/``,
``pneumonia_viral/``), so Keras' ``flow_from_directory`` reads the same files as our pipeline.

    python benchmarks/make_bench_data.py [OUT_DIR]     # default: /tmp/cxr-bench-data
"""

from __future__ import annotations

import csv
import shutil
import sys
from pathlib import Path

import numpy as np
from PIL import Image

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared" / "data"
DEFAULT_OUT = Path("/tmp/cxr-bench-data")


def build(out: Path = DEFAULT_OUT, copies: int = 3, raw_copies: int = 4, seed: int = 0) -> Path:
    """Write the set into ``out`` (skipped when its MANIFEST.csv exists); returns ``out``."""
    out = Path(out)
    if (out / "MANIFEST.csv").is_file():
        return out
    rng = np.random.default_rng(seed)
    rows = []
    mini = SHARED / "cxr4-mini"
    raw = SHARED / "cxr4-mini-raw"
    for src_root, n_copy, upscale in ((mini, copies, True), (raw, raw_copies, False)):
        with open(src_root / "MANIFEST.csv", newline="") as f:
            items = list(csv.DictReader(f))
        for item in items:
            src = src_root / item["path"]
            cls = item["class"]
            (out / cls).mkdir(parents=True, exist_ok=True)
            for k in range(n_copy):
                dst = out / cls / f"{src.stem}_{'up' if upscale else 'raw'}{k}{src.suffix}"
                if upscale:
                    im = Image.open(src)
                    im.load()
                    if im.mode not in ("L", "RGB"):
                        im = im.convert("RGB")
                    long_side = int(rng.integers(1000, 2501))
                    w, h = im.size
                    s = long_side / max(w, h)
                    im = im.resize((max(1, round(w * s)), max(1, round(h * s))), Image.BICUBIC)
                    if src.suffix.lower() in (".jpg", ".jpeg"):
                        im.save(dst, quality=90)
                    else:
                        im.save(dst)
                else:
                    shutil.copyfile(src, dst)
                rows.append((f"{cls}/{dst.name}", cls))
    with open(out / "MANIFEST.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["path", "class"])
        w.writerows(rows)
    return out


if __name__ == "__main__":
    target = build(Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT_OUT)
    files = [p for p in target.rglob("*") if p.suffix.lower() in (".png", ".jpg", ".jpeg")]
    sizes = [Image.open(p).size for p in files]
    longs = [max(s) for s in sizes]
    print(f"{target}: {len(files)} images, long side {min(longs)}..{max(longs)} px (median {int(np.median(longs))}), "
          f"{sum(p.suffix.lower() == '.png' for p in files)} PNG, "
          f"{sum(p.stat().st_size for p in files) / 2**20:.0f} MiB")
