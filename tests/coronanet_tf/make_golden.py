"""Write the golden files of tests/coronanet_tf/golden/ from PyTorch (needs torch).

- ``convert_vgg_ae.npz``: the reference ``vgg_ae``'s outputs for a seeded state dict (golden_tensors.py);
- ``torch_init.npz``: per layer CORONA-Net adds on VGG16-BN, the fan-in and the spread of PyTorch's
  default initialisation over many ``reset_parameters()`` draws (test_torch_init_golden.py).


    python -m tests.coronanet_tf.make_golden

Run it again only when the reference (coronanet_tf.torch_reference), the layers or the seeds change; the
live tests (``test_golden_file_is_what_torch_computes_today`` in test_convert.py, and
``test_golden_init_file_is_what_torch_draws_today`` in test_torch_init.py; CI has torch) say when a file is
stale.
"""

from __future__ import annotations

import numpy as np

from tests.coronanet_tf.golden_tensors import (GOLDEN, INIT_GOLDEN, INIT_DRAWS, INPUTS_SEED, WEIGHTS_SEED,
                                               reconstruction_sample, seeded_inputs, seeded_state_dict)


def golden_arrays() -> dict[str, np.ndarray]:
    """What the golden file holds, computed now with PyTorch."""
    import torch

    from coronanet_tf import torch_reference

    model = torch_reference.build_torch_reference(num_classes=3, with_decoder=True)
    template = model.state_dict()
    keys = list(template)
    shapes = [tuple(t.shape) for t in template.values()]
    state = seeded_state_dict(keys, shapes)
    model.load_state_dict({k: torch.from_numpy(np.asarray(v)) for k, v in state.items()})
    model.eval()
    x = seeded_inputs()
    with torch.no_grad():
        logits, rec = model(torch.from_numpy(x.transpose(0, 3, 1, 2).copy()))
    rec = rec.numpy().transpose(0, 2, 3, 1)
    width = max(len(s) for s in map(str, shapes))
    return {
        "keys": np.array(keys),
        "shapes": np.array([str(list(s)).ljust(width) for s in shapes]),
        "weights_seed": np.array(WEIGHTS_SEED), "inputs_seed": np.array(INPUTS_SEED),
        "torch_version": np.array(torch.__version__),
        "logits": logits.numpy().astype(np.float32),
        **{k: np.ascontiguousarray(v, dtype=np.float32) for k, v in reconstruction_sample(rec).items()},
    }


def torch_added_modules() -> dict:
    """Keras layer name -> a torch module of the same shape, as [CR]'s ``vgg_ae`` creates it."""
    import torch

    from coronanet_tf.model import BOTTLENECK_CHANNELS, CLASSIFIER_UNITS, DECODER224_LAYERS

    mods = {"nscnn_0": torch.nn.Conv2d(512, BOTTLENECK_CHANNELS, kernel_size=1, padding=0)}
    widths = (BOTTLENECK_CHANNELS * 7 * 7, *CLASSIFIER_UNITS, 3)
    for i, (n_in, n_out) in enumerate(zip(widths[:-1], widths[1:])):
        mods[f"classifier_{2 * i}"] = torch.nn.Linear(n_in, n_out, bias=True)
    in_ch = 1
    for i, (out_ch, kernel, stride, pad) in enumerate(DECODER224_LAYERS, start=1):
        mods[f"dec_upsample{i}"] = torch.nn.ConvTranspose2d(in_ch, out_ch, kernel_size=kernel, stride=stride,
                                                            padding=pad)
        in_ch = out_ch
    return mods


def torch_draws(module, n: int = INIT_DRAWS) -> tuple[np.ndarray, np.ndarray]:
    """Weight and bias values of repeated torch ``reset_parameters`` (at least n of each), seed 0."""
    import torch

    w, b = [], []
    torch.manual_seed(0)
    while sum(x.size for x in w) < n or sum(x.size for x in b) < n:
        module.reset_parameters()
        w.append(module.weight.detach().numpy().ravel().copy())
        b.append(module.bias.detach().numpy().ravel().copy())
    return np.concatenate(w), np.concatenate(b)


def init_arrays() -> dict[str, np.ndarray]:
    """Per added layer (in :func:`torch_added_modules` order): torch's fan-in, weight count, bias length,
    and the max |value| and std of the weight and bias draws."""
    import torch

    names, rows = [], []
    for name, module in torch_added_modules().items():
        fan_in, _ = torch.nn.init._calculate_fan_in_and_fan_out(module.weight)
        tw, tb = torch_draws(module)
        names.append(name)
        rows.append([fan_in, module.weight.numel(), module.bias.numel(),
                     np.abs(tw).max(), tw.std(), np.abs(tb).max(), tb.std()])
    return {"layers": np.array(names), "stats": np.array(rows, dtype=np.float64),
            "columns": np.array(["fan_in", "weight_numel", "bias_numel", "weight_max", "weight_std",
                                 "bias_max", "bias_std"]),
            "draws": np.array(INIT_DRAWS), "torch_version": np.array(torch.__version__)}


def main() -> None:
    GOLDEN.parent.mkdir(parents=True, exist_ok=True)
    for path, arrays in ((GOLDEN, golden_arrays()), (INIT_GOLDEN, init_arrays())):
        np.savez_compressed(path, **arrays)
        print(f"wrote {path} ({path.stat().st_size / 1024:.0f} KB)")


if __name__ == "__main__":
    main()
