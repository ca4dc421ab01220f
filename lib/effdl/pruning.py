"""Magnitude pruning of ResNet-20 (assignment B, Lab 2).

A pruned weight is a weight that is exactly zero. The layers that count for pruning are every
``nn.Conv2d`` and ``nn.Linear`` of a network except the 1x1 ``id_mapping`` shortcuts (their
names contain "id_mapping"); in `effdl.models.ResNetCIFAR` these are the ``.conv`` and
``.linear`` modules inside the FP wrappers, named e.g. ``body_op.0.conv1.0.conv``.

- `prune_by_percentage`: one threshold per layer (every layer ends at the same sparsity).
- `global_prune_by_percentage`: one threshold for all counted layers together.
- `finetune_after_prune`: one epoch of training that keeps pruned weights at exactly zero.
- `capture_masks` / `apply_masks`: the same "stay pruned" rule for any training loop.
- `iterative_prune_schedule`, `sparsity_report`, `format_sparsity_report`.

The three functions students write (the first three) are self-contained on purpose: the
solution notebook is rendered from their source.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn as nn

# The answers students write; the solution notebook copies their source. They use torch, nn
# and numpy only, and nothing else from effdl.
STANDALONE = ("prune_by_percentage", "global_prune_by_percentage", "finetune_after_prune")


def prune_by_percentage(layer: nn.Module, q: float) -> None:
    """Zero the weights of one layer whose magnitude is below the layer's q-th percentile.

    ``layer`` is an ``nn.Conv2d`` or ``nn.Linear``, or a wrapper holding one as ``.conv`` or
    ``.linear`` (the ``FP_Conv`` and ``FP_Linear`` layers of ``FP_layers.py``). ``q`` is a
    percentage in [0, 100]: the threshold is ``np.percentile(|w|, q)`` over all of this layer's
    weights (zeros included), and every weight with ``|w| < threshold`` is set to 0, so about
    q percent of the weights end up zero. The weight is changed in place; the bias is never
    pruned.
    """
    if not 0 <= q <= 100:
        raise ValueError(f"q is a percentage and must lie in [0, 100], got {q}")
    if isinstance(layer, (nn.Conv2d, nn.Linear)):
        weight = layer.weight
    elif isinstance(getattr(layer, "conv", None), nn.Conv2d):
        weight = layer.conv.weight
    elif isinstance(getattr(layer, "linear", None), nn.Linear):
        weight = layer.linear.weight
    else:
        raise TypeError(
            f"expected an nn.Conv2d or nn.Linear (or a wrapper with .conv / .linear), "
            f"got {type(layer).__name__}"
        )
    with torch.no_grad():
        magnitude = weight.detach().abs()
        threshold = float(np.percentile(magnitude.cpu().numpy(), q))
        # Compare in float64, the precision numpy computed the threshold in.
        weight.masked_fill_(magnitude.double() < threshold, 0.0)


def global_prune_by_percentage(net: nn.Module, q: float) -> None:
    """Prune the whole network with one magnitude threshold shared by all counted layers.

    The threshold is the q-th percentile (``q`` in percent) of |w| over the weights of every
    ``nn.Conv2d`` and ``nn.Linear`` of ``net`` concatenated, skipping modules whose name
    contains "id_mapping". Weights below it are set to 0 in place. About q percent of the
    counted weights end up zero in total, but layers differ: layers with many small weights
    lose more of them than layers with few.
    """
    if not 0 <= q <= 100:
        raise ValueError(f"q is a percentage and must lie in [0, 100], got {q}")
    weights = [
        module.weight
        for name, module in net.named_modules()
        if isinstance(module, (nn.Conv2d, nn.Linear)) and "id_mapping" not in name
    ]
    if not weights:
        raise ValueError("the network has no nn.Conv2d or nn.Linear layer to prune")
    with torch.no_grad():
        magnitudes = torch.cat([w.detach().abs().flatten().cpu() for w in weights])
        threshold = float(np.percentile(magnitudes.numpy(), q))
        for w in weights:
            w.masked_fill_(w.detach().abs().double() < threshold, 0.0)


def finetune_after_prune(
    net: nn.Module,
    trainloader: torch.utils.data.DataLoader,
    criterion: nn.Module,
    optimizer: torch.optim.Optimizer,
    prune: bool = True,
) -> float:
    """Train ``net`` for one epoch; with ``prune=True`` the pruned weights stay exactly zero.

    At the start, every counted layer (``nn.Conv2d`` / ``nn.Linear``, not ``id_mapping``)
    records which of its weights are exactly zero. After each optimizer step those weights
    are set back to zero: the step itself may move them (momentum and weight decay act on
    every weight), so masking the gradient alone is not enough. The batches are moved to the
    device of the network's parameters. Returns the mean training loss of the epoch (per
    sample).
    """
    device = next(net.parameters()).device
    masks = []
    if prune:
        for name, module in net.named_modules():
            if isinstance(module, (nn.Conv2d, nn.Linear)) and "id_mapping" not in name:
                masks.append((module.weight, module.weight.detach() == 0))
    net.train()
    total_loss = 0.0
    total_seen = 0
    for inputs, targets in trainloader:
        inputs, targets = inputs.to(device), targets.to(device)
        optimizer.zero_grad()
        loss = criterion(net(inputs), targets)
        loss.backward()
        optimizer.step()
        if prune:
            with torch.no_grad():
                for weight, pruned in masks:
                    weight.masked_fill_(pruned, 0.0)
        total_loss += loss.item() * targets.size(0)
        total_seen += targets.size(0)
    return total_loss / max(total_seen, 1)


def counted_layers(net: nn.Module) -> list[tuple[str, nn.Module]]:
    """The (name, module) pairs that count for pruning: Conv2d and Linear, no ``id_mapping``."""
    return [
        (name, module)
        for name, module in net.named_modules()
        if isinstance(module, (nn.Conv2d, nn.Linear)) and "id_mapping" not in name
    ]


def capture_masks(net: nn.Module) -> dict[str, torch.Tensor]:
    """Record which weights of the counted layers are nonzero.

    Returns ``{layer name: bool tensor of the weight's shape}``, True where the weight is
    nonzero (kept) and False where it is pruned. The masks live on the weights' device.
    """
    return {name: module.weight.detach() != 0 for name, module in counted_layers(net)}


def apply_masks(net: nn.Module, masks: dict[str, torch.Tensor]) -> None:
    """Set the pruned weights (False in ``masks``) back to exactly zero, in place.

    Call it after every optimizer step to keep a pruned network pruned. Every name in
    ``masks`` must be a module of ``net`` with a weight of the mask's shape.
    """
    modules = dict(net.named_modules())
    with torch.no_grad():
        for name, mask in masks.items():
            if name not in modules:
                raise KeyError(f"mask for {name!r}, but the network has no module of that name")
            weight = modules[name].weight
            if weight.shape != mask.shape:
                raise ValueError(
                    f"mask for {name!r} has shape {tuple(mask.shape)}, "
                    f"the weight has {tuple(weight.shape)}"
                )
            weight.masked_fill_(~mask.to(device=weight.device, dtype=torch.bool), 0.0)


def iterative_prune_schedule(q_final: float, epochs: int = 10) -> list[float]:
    """Pruning percentages of iterative pruning: ``q_final * e / epochs`` before epoch e.

    With the course's 10 epochs and q_final = 80 this is [8, 16, ..., 80].
    """
    if epochs < 1:
        raise ValueError(f"epochs must be >= 1, got {epochs}")
    return [q_final * e / epochs for e in range(1, epochs + 1)]


def sparsity_report(net: nn.Module) -> dict:
    """Count the zero weights of each counted layer and of all of them together.

    Returns ``{"layers": [{"name", "zeros", "total", "sparsity"}, ...], "zeros", "total",
    "sparsity"}`` where sparsity is the fraction of zeros (0..1).
    """
    layers = []
    zeros_all = 0
    total_all = 0
    for name, module in counted_layers(net):
        zeros = int((module.weight.detach() == 0).sum())
        total = module.weight.numel()
        layers.append({"name": name, "zeros": zeros, "total": total, "sparsity": zeros / total})
        zeros_all += zeros
        total_all += total
    return {
        "layers": layers,
        "zeros": zeros_all,
        "total": total_all,
        "sparsity": zeros_all / total_all if total_all else 0.0,
    }


def format_sparsity_report(report: dict) -> str:
    """A plain-text table of a `sparsity_report`: one line per layer and a total line."""
    width = max([len(layer["name"]) for layer in report["layers"]] + [5])
    lines = [f"{'layer':<{width}}  {'zeros':>8}  {'total':>8}  sparsity"]
    for layer in report["layers"]:
        lines.append(
            f"{layer['name']:<{width}}  {layer['zeros']:>8}  {layer['total']:>8}  "
            f"{layer['sparsity']:.4f}"
        )
    lines.append(
        f"{'total':<{width}}  {report['zeros']:>8}  {report['total']:>8}  {report['sparsity']:.4f}"
    )
    return "\n".join(lines)
