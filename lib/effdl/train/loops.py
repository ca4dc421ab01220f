"""Training, evaluation and finetuning loops for assignment B.

- `train_epoch` / `evaluate`: one pass over a loader.
- `fit`: several epochs with a test after each, the best state kept, and a checkpoint after
  every epoch from which an interrupted run resumes.
- `finetune`: `fit` with the course's finetuning setup (SGD, lr 0.002, momentum 0.875,
  weight decay 1e-4), optionally keeping pruned weights at zero.
- `iterative_prune`: the iterative pruning of B3(d) (per layer) and B3(e) (global).

Masks are ``{module name: bool tensor}`` as made by `effdl.pruning.capture_masks`: True marks
a weight that is kept, False one that must stay exactly zero. Batches go to the device of the
network's parameters; `finetune` and `iterative_prune` first move the network to
`default_device()` (CUDA when available) unless given a device. Progress bars use tqdm when
it is installed, and plain per-epoch lines otherwise.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path

import numpy as np
import torch
import torch.nn as nn

from effdl.pruning import global_prune_by_percentage, iterative_prune_schedule, prune_by_percentage
from effdl.train.checkpoint import load_checkpoint, save_checkpoint

# Functions and constants that use nothing but torch, nn, numpy, the standard library (imported
# inside them) and each other: assignment bundles copy their source.
STANDALONE = ("seed_everything", "default_device", "_progress", "train_epoch", "evaluate")

FINETUNE_LR = 0.002
FINETUNE_MOMENTUM = 0.875
FINETUNE_WEIGHT_DECAY = 1e-4
FINETUNE_EPOCHS = 20
FINETUNE_BATCH_SIZE = 256


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


def _state_to_cpu(state: dict) -> dict:
    return {k: v.detach().cpu().clone() if torch.is_tensor(v) else v for k, v in state.items()}


def fit(
    net: nn.Module,
    trainloader: Iterable,
    testloader: Iterable,
    optimizer: torch.optim.Optimizer,
    epochs: int,
    *,
    scheduler: torch.optim.lr_scheduler.LRScheduler | None = None,
    criterion: nn.Module | None = None,
    masks: dict[str, torch.Tensor] | None = None,
    before_epoch: Callable[[nn.Module, int], dict | None] | None = None,
    best_from_epoch: int = 0,
    restore_best: bool = True,
    checkpoint: str | Path | None = None,
    tag: dict | None = None,
    progress: bool | None = None,
    log: Callable[[str], None] | None = print,
    desc: str = "epoch",
) -> dict:
    """Train for ``epochs`` epochs, testing after each; return the history.

    - ``masks``: pruned weights (False) are kept at exactly zero during every epoch.
    - ``before_epoch(net, epoch)``: called before each epoch (0-based); if it returns a mask
      dict, that epoch uses it instead of ``masks`` (iterative pruning uses this).
    - The best test accuracy is tracked from epoch ``best_from_epoch`` on; with
      ``restore_best`` the network ends with the weights of that best epoch.
    - ``checkpoint``: after every epoch the model, optimizer, scheduler, best state, history
      and random-generator states are saved there (atomically). If the file exists when
      ``fit`` starts and its ``tag`` matches, training continues after its last epoch.

    The network must already be on its device (`default_device()` for instance) before the
    optimizer is made. Returns ``{"train_loss", "test_loss", "test_acc": per-epoch lists,
    "best_acc", "best_epoch", "epochs"}``.
    """
    criterion = criterion or nn.CrossEntropyLoss()
    history = {"train_loss": [], "test_loss": [], "test_acc": []}
    best_acc, best_epoch, best_state = -1.0, -1, None
    start = 0
    generator = getattr(getattr(trainloader, "sampler", None), "generator", None)
    tag = dict(tag or {}, epochs=epochs)

    if checkpoint is not None and Path(checkpoint).is_file():
        state = load_checkpoint(checkpoint)
        if state.get("tag") != tag:
            if log:
                log(f"{checkpoint}: made with other settings, starting over")
        else:
            net.load_state_dict(state["model"])
            optimizer.load_state_dict(state["optimizer"])
            if scheduler is not None and state.get("scheduler") is not None:
                scheduler.load_state_dict(state["scheduler"])
            history = state["history"]
            best_acc, best_epoch, best_state = state["best_acc"], state["best_epoch"], state["best"]
            torch.set_rng_state(state["rng_torch"])
            if generator is not None and state.get("rng_loader") is not None:
                generator.set_state(state["rng_loader"])
            start = state["epoch"] + 1
            if log:
                log(f"{checkpoint}: resuming after epoch {start}/{epochs}")

    for epoch in range(start, epochs):
        epoch_masks = masks
        if before_epoch is not None:
            returned = before_epoch(net, epoch)
            if returned is not None:
                epoch_masks = returned
        train_loss = train_epoch(
            net,
            trainloader,
            criterion,
            optimizer,
            masks=epoch_masks,
            progress=progress,
            desc=f"{desc} {epoch + 1}/{epochs}",
        )
        if scheduler is not None:
            scheduler.step()
        test_loss, test_acc = evaluate(net, testloader, criterion)
        history["train_loss"].append(train_loss)
        history["test_loss"].append(test_loss)
        history["test_acc"].append(test_acc)
        if epoch >= best_from_epoch and test_acc > best_acc:
            best_acc, best_epoch = test_acc, epoch
            best_state = _state_to_cpu(net.state_dict())
        if log:
            log(
                f"{desc} {epoch + 1}/{epochs}: train loss {train_loss:.4f}, "
                f"test loss {test_loss:.4f}, test accuracy {test_acc:.4f}"
            )
        if checkpoint is not None:
            save_checkpoint(
                checkpoint,
                {
                    "epoch": epoch,
                    "tag": tag,
                    "model": net.state_dict(),
                    "optimizer": optimizer.state_dict(),
                    "scheduler": scheduler.state_dict() if scheduler is not None else None,
                    "history": history,
                    "best_acc": best_acc,
                    "best_epoch": best_epoch,
                    "best": best_state,
                    "rng_torch": torch.get_rng_state(),
                    "rng_loader": generator.get_state() if generator is not None else None,
                },
            )

    if restore_best and best_state is not None:
        net.load_state_dict(best_state)
    return dict(history, best_acc=best_acc, best_epoch=best_epoch, epochs=epochs)


def _masks_of(net: nn.Module) -> dict[str, torch.Tensor]:
    return {
        name: module.weight.detach() != 0
        for name, module in net.named_modules()
        if isinstance(module, (nn.Conv2d, nn.Linear)) and "id_mapping" not in name
    }


def finetune(
    net: nn.Module,
    trainloader: Iterable,
    testloader: Iterable,
    epochs: int = FINETUNE_EPOCHS,
    lr: float = FINETUNE_LR,
    momentum: float = FINETUNE_MOMENTUM,
    weight_decay: float = FINETUNE_WEIGHT_DECAY,
    masks: dict[str, torch.Tensor] | bool | None = None,
    device: torch.device | str | None = None,
    **fit_kwargs,
) -> dict:
    """Finetune ``net`` with the course's setup and keep its best state; return the history.

    SGD with ``lr`` 0.002, ``momentum`` 0.875 and ``weight_decay`` 1e-4 for ``epochs`` (20)
    epochs; the course uses batches of 256 (the loader's business). ``masks=True`` keeps the
    weights that are zero now at zero throughout (a pruned network stays pruned); a mask
    dict does the same for the weights it marks False. The network is moved to ``device``
    (default: CUDA when available). Other keyword arguments go to `fit` (``checkpoint``,
    ``log``, ``progress``, ...). At the end ``net`` holds the weights of the best epoch.
    """
    net.to(device or default_device())
    if masks is True:
        masks = _masks_of(net)
    elif masks is False:
        masks = None
    optimizer = torch.optim.SGD(
        net.parameters(), lr=lr, momentum=momentum, weight_decay=weight_decay
    )
    fit_kwargs.setdefault("tag", {"lr": lr, "momentum": momentum, "weight_decay": weight_decay})
    fit_kwargs.setdefault("desc", "finetune")
    return fit(net, trainloader, testloader, optimizer, epochs, masks=masks, **fit_kwargs)


def iterative_prune(
    net: nn.Module,
    trainloader: Iterable,
    testloader: Iterable,
    q_final: float,
    global_: bool = False,
    prune_epochs: int = 10,
    fixed_epochs: int = 10,
    lr: float = FINETUNE_LR,
    momentum: float = FINETUNE_MOMENTUM,
    weight_decay: float = FINETUNE_WEIGHT_DECAY,
    device: torch.device | str | None = None,
    **fit_kwargs,
) -> dict:
    """Iterative magnitude pruning to ``q_final`` percent (B3(d); B3(e) with ``global_``).

    Before epoch e = 1..``prune_epochs`` the network is pruned to ``q_final * e /
    prune_epochs`` percent, per layer (`prune_by_percentage` on every counted layer) or with
    one global threshold (`global_prune_by_percentage`). Until the last pruning step the
    pruned weights may grow back during training; from the last pruning step on they are held
    at zero, for that epoch and ``fixed_epochs`` more. The best state is chosen among the
    epochs at the final sparsity. Finetuning settings and keyword arguments as in `finetune`.
    """
    net.to(device or default_device())
    schedule = iterative_prune_schedule(q_final, prune_epochs)

    def before_epoch(model: nn.Module, epoch: int) -> dict | None:
        if epoch < prune_epochs:
            q = schedule[epoch]
            if global_:
                global_prune_by_percentage(model, q)
            else:
                for name, module in model.named_modules():
                    if isinstance(module, (nn.Conv2d, nn.Linear)) and "id_mapping" not in name:
                        prune_by_percentage(module, q)
        # Hold the zeros from the final pruning step on; before it, let weights regrow.
        return _masks_of(model) if epoch >= prune_epochs - 1 else {}

    optimizer = torch.optim.SGD(
        net.parameters(), lr=lr, momentum=momentum, weight_decay=weight_decay
    )
    tag = {"q_final": q_final, "global": global_, "prune_epochs": prune_epochs, "lr": lr}
    fit_kwargs.setdefault("tag", tag)
    fit_kwargs.setdefault("desc", "global prune" if global_ else "iterative prune")
    return fit(
        net,
        trainloader,
        testloader,
        optimizer,
        prune_epochs + fixed_epochs,
        before_epoch=before_epoch,
        best_from_epoch=prune_epochs - 1,
        **fit_kwargs,
    )
