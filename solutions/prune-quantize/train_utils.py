"""Training and evaluation loops for assignment B (given)."""

import numpy as np
import torch
import torch.nn as nn


def seed_everything(seed: int) -> None:
    """Seed Python's, NumPy's and torch's (CPU and CUDA) random generators."""
    import random

    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    if torch.cuda.is_available():
        torch.cuda.manual_seed_all(seed)


def default_device() -> torch.device:
    """CUDA when a GPU is available, else the CPU."""
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def _progress(iterable, desc: str, enabled: bool | None):
    """Wrap ``iterable`` in a tqdm bar when enabled and tqdm is installed.

    ``enabled=None`` shows a bar only when stderr is a terminal.
    """
    import sys

    if enabled is None:
        enabled = sys.stderr.isatty()
    if not enabled:
        return iterable
    try:
        from tqdm import tqdm
    except ImportError:  # tqdm is optional: no bar, the per-epoch lines remain
        return iterable
    return tqdm(iterable, desc=desc, leave=False)


def train_epoch(
    net: nn.Module,
    loader: torch.utils.data.DataLoader,
    criterion: nn.Module,
    optimizer: torch.optim.Optimizer,
    masks: dict[str, torch.Tensor] | None = None,
    progress: bool | None = False,
    desc: str = "train",
) -> float:
    """Train ``net`` for one pass over ``loader``; return the mean loss per sample.

    With ``masks`` the weights marked False are set back to exactly zero after every
    optimizer step, so pruned weights stay pruned whatever the optimizer does (momentum,
    weight decay). Batches go to the device of the network's parameters.
    """
    device = next(net.parameters()).device
    modules = dict(net.named_modules())
    masked = []
    for name, keep in (masks or {}).items():
        weight = modules[name].weight
        masked.append((weight, ~keep.to(device=weight.device, dtype=torch.bool)))
    net.train()
    total_loss = 0.0
    seen = 0
    for inputs, targets in _progress(loader, desc, progress):
        inputs, targets = inputs.to(device), targets.to(device)
        optimizer.zero_grad()
        loss = criterion(net(inputs), targets)
        loss.backward()
        optimizer.step()
        if masked:
            with torch.no_grad():
                for weight, pruned in masked:
                    weight.masked_fill_(pruned, 0.0)
        total_loss += loss.item() * targets.size(0)
        seen += targets.size(0)
    return total_loss / max(seen, 1)


@torch.no_grad()
def evaluate(
    net: nn.Module, loader: torch.utils.data.DataLoader, criterion: nn.Module | None = None
) -> tuple[float, float]:
    """Return (mean loss per sample, accuracy as a fraction in [0, 1]) of ``net`` on ``loader``.

    The network is put in eval mode (BatchNorm uses its running statistics); the loss is the
    cross-entropy unless another ``criterion`` is given.
    """
    criterion = criterion or nn.CrossEntropyLoss()
    device = next(net.parameters()).device
    net.eval()
    total_loss = 0.0
    correct = 0
    seen = 0
    for inputs, targets in loader:
        inputs, targets = inputs.to(device), targets.to(device)
        outputs = net(inputs)
        total_loss += criterion(outputs, targets).item() * targets.size(0)
        correct += (outputs.argmax(dim=1) == targets).sum().item()
        seen += targets.size(0)
    if seen == 0:
        raise ValueError("the loader yielded no samples")
    return total_loss / seen, correct / seen
