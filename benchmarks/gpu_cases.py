"""What bench_gpu.py measures: the four model cases, the published protocols, the reference figures.

Every case is built from the experiment YAML a user runs (``experiments/...``), through the project's
own config loader, model builder, pipeline spec and (for CORONA-Net) phase views, so the numbers are
those of ``covid-cxr cv``. Backbones start from random weights (speed does not depend on them, and
nothing is downloaded).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

REPO = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class Case:
    """One model as one protocol phase trains it."""

    key: str
    title: str
    experiment: str  # relative to the repository
    phase: str | None = None  # CORONA-Net: "reinit" (phase 1) or "classify" (phase 2)
    large_batch: int = 64
    smoke_size: int | None = None  # square input of a --smoke run (None: the published size)


CASES: tuple[Case, ...] = (
    Case("coronet", "CoroNet 4-class (Xception, 150 px)", "experiments/coronet/4class.yaml",
         large_batch=128, smoke_size=71),
    Case("cvrnet", "CVR-Net Task-1 (ResNet50 + Xception, 224 px)", "experiments/cvrnet/task1.yaml",
         large_batch=64, smoke_size=96),
    Case("coronanet_p2", "CORONA-Net phase 2, classify (VGG16-BN, 224 px)", "experiments/coronanet/covidx.yaml",
         phase="classify", large_batch=64),
    Case("coronanet_p1", "CORONA-Net phase 1, re-init (VGG16-BN + decoder, 224 px)",
         "experiments/coronanet/covidx.yaml", phase="reinit", large_batch=64),
)


@dataclass(frozen=True)
class Protocol:
    """A published training protocol: ``folds`` x (per phase: ``epochs`` over ``n_train`` images, and a
    validation pass over ``n_val`` images after every epoch when the phase validates)."""

    name: str
    phases: tuple[tuple[str, int, bool], ...]  # (case key, epochs, validates after each epoch)
    folds: int
    n_train: int
    n_val: int
    source: str


PROTOCOLS: tuple[Protocol, ...] = (
    Protocol("CoroNet 4-class, 4-fold CV, 80 epochs", (("coronet", 80, True),), 4,
             n_train=938, n_val=313,  # 1,251 = 3 folds of 313 + 1 of 312
             source="1,251 images (Table I), 4 folds, batch 10, 80 epochs [S4]; validation = test fold"),
    Protocol("CVR-Net Task-1, 5-fold CV, 200 epochs (no early stop)", (("cvrnet", 200, True),), 5,
             n_train=5080, n_val=1277,
             source="6,356 images, train 5,080 / val 1,277 per fold, batch 8, up to 200 epochs [CVR-T]"),
    Protocol("CORONA-Net COVIDx, phase 1 + phase 2, 990 + 990 epochs", (("coronanet_p1", 990, False), ("coronanet_p2", 990, True)), 1,
             n_train=16546, n_val=7812,
             source="train_COVIDx.txt 16,546 rows, test_split_v2 7,812 rows (drop_duplicates keep), batch 12, "
                    "990 epochs per phase [CR], [CR-S]; phase 1 without validation (checkpoint last)"),
)

# Published throughput of NVIDIA's ResNet-50 v1.5 for TensorFlow (DeepLearningExamples,
# TensorFlow/Classification/ConvNets/resnet50v1.5/README.md, "Training performance", 1 GPU,
# 224x224 ImageNet, batch 256 per GPU (FP32 on V100: 128), NGC 20.06-tf1 container), and the CoroNet
# notebook's Colab K80 log (README "Expected speed", docs/PAPERS.md [CN-old]).
REFERENCES: tuple[tuple[str, str, float, str | None], ...] = (  # (label, precision, img/s, case or all)
    ("ResNet-50 v1.5 TF, A100 40GB, mixed precision + XLA", "mixed_float16+xla", 2375.0, None),
    ("ResNet-50 v1.5 TF, A100 40GB, TF32 + XLA", "float32", 909.0, None),
    ("ResNet-50 v1.5 TF, V100 16GB, mixed precision + XLA", "mixed_float16+xla", 1270.0, None),
    ("ResNet-50 v1.5 TF, V100 16GB, FP32 + XLA", "float32", 412.0, None),
    ("CoroNet 150 px, batch 10, Colab K80, tf.keras 2.x [CN-old]", "float32", 38.0, "coronet"),
)


def case_config(case: Case, *, smoke: bool):
    """The experiment config of ``case`` (random backbone weights; the smoke input size)."""
    from cxr_core.config.experiment import load_config

    over: dict[str, Any] = {"model": {"backbone_weights": None}, "train": {"verbose": 0}}
    if smoke and case.smoke_size:
        over["preprocess"] = {"image_size": [case.smoke_size, case.smoke_size]}
    return load_config(REPO / case.experiment, overrides=over)


def num_classes(cfg) -> int:
    if cfg.model.num_classes:
        return int(cfg.model.num_classes)
    return len(cfg.data.class_names or ()) or 4


def case_model(case: Case, cfg) -> tuple[Callable[[], Any], str, tuple[str, ...], bool]:
    """``(build, loss, metrics, target_is_input)`` for ``case``, as the protocol trains it.

    CORONA-Net phase 1 is the model with its decoder seen through its reconstruction output (MSE
    against the input); phase 2 the config's model seen through its logits
    (:mod:`coronanet_tf.training`).
    """
    from cxr_core.models.build import model_builder

    n = num_classes(cfg)
    if case.phase == "reinit":
        from coronanet_tf.training import reconstruction_view

        build = model_builder(cfg, n)
        return (lambda: reconstruction_view(build(options={"with_decoder": True}))), "mse", (), True
    if case.phase == "classify":
        from coronanet_tf.training import logits_view

        build = model_builder(cfg, n)
        return (lambda: logits_view(build())), cfg.train.loss, ("accuracy",), False
    return model_builder(cfg, n), cfg.train.loss, ("accuracy",), False


def bench_table(root: Path, classes: int, *, limit: int | None = None):
    """A :class:`SampleTable` of the images under ``root`` (MANIFEST.csv ``path`` column), labels
    cycled over ``classes`` (speed does not depend on them)."""
    import pandas as pd

    from cxr_core.data.tables.sample_table import SampleTable

    manifest = pd.read_csv(Path(root) / "MANIFEST.csv")
    if limit:
        manifest = manifest.iloc[:limit]
    names = tuple(f"class_{i}" for i in range(classes))
    idx = [i % classes for i in range(len(manifest))]
    frame = pd.DataFrame({
        "sample_id": list(manifest["path"]),
        "path": [str(Path(root) / p) for p in manifest["path"]],
        "label": [names[i] for i in idx],
        "label_index": idx,
        "patient_id": list(manifest["path"]),
        "source": "bench",
    })
    return SampleTable(frame=frame, class_names=names)
