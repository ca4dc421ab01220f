"""Assignment B's fixtures: what its graded calls run on, built inside the sandbox.

The harness copies this folder into each job and imports it before any student code runs;
like the harness, it imports only the standard library, numpy and torch (a test reads its
imports). The hidden checks import the same module on the trusted side to build the same
net and compute the reference. Each mode of MODES gets the student's graded object (a
function, or the STE class) and the call's spec, and returns plain data.
"""

from __future__ import annotations

import copy
import sys
from typing import Any


def tiny_net(torch: Any, weights: dict[str, Any] | None = None) -> Any:
    """A small net named like the course's ResNet (head_conv, body_op, id_mapping, final_fc).

    Pruning and finetuning checks use it so that they never run through the student's STE;
    the trusted checks build the same net to compute the reference.
    """
    nn = torch.nn

    class Wrap(nn.Module):
        def __init__(self, inner: Any, attr: str) -> None:
            super().__init__()
            setattr(self, attr, inner)
            self.attr = attr

        def forward(self, x: Any) -> Any:
            return getattr(self, self.attr)(x)

    def conv_bn(cin: int, cout: int, k: int, stride: int) -> Any:
        conv = nn.Conv2d(cin, cout, k, stride=stride, padding=k // 2, bias=False)
        return nn.Sequential(Wrap(conv, "conv"), nn.BatchNorm2d(cout))

    class Block(nn.Module):
        def __init__(self, cin: int, cout: int, stride: int) -> None:
            super().__init__()
            self.conv1 = conv_bn(cin, cout, 3, stride)
            self.conv2 = conv_bn(cout, cout, 3, 1)
            self.id_mapping = conv_bn(cin, cout, 1, stride) if cin != cout else None

        def forward(self, x: Any) -> Any:
            out = self.conv2(torch.relu(self.conv1(x)))
            short = x if self.id_mapping is None else self.id_mapping(x)
            return torch.relu(out + short)

    class TinyNet(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.head_conv = conv_bn(3, 4, 3, 1)
            self.body_op = nn.Sequential(Block(4, 4, 1), Block(4, 8, 2))
            self.final_fc = Wrap(nn.Linear(8, 10), "linear")

        def forward(self, x: Any) -> Any:
            out = self.body_op(torch.relu(self.head_conv(x)))
            return self.final_fc(out.mean(dim=(2, 3)))

    net = TinyNet()
    with torch.no_grad():  # nothing left to the global generator, which other threads share
        for module in net.modules():
            if isinstance(module, nn.BatchNorm2d | nn.Linear):
                n = module.bias.numel()
                module.bias.copy_(0.05 * torch.linspace(-1.0, 1.0, n))
                if isinstance(module, nn.BatchNorm2d):
                    module.weight.copy_(1.0 + 0.1 * torch.linspace(-1.0, 1.0, n))
    if weights:
        state = net.state_dict()
        for name, value in weights.items():
            state[name] = torch.as_tensor(value, dtype=state[name].dtype)
        net.load_state_dict(state)
    return net


def weights_of(net: Any) -> dict[str, Any]:
    """Every conv and linear weight of a net, as numpy arrays by state-dict name.

    Read from the modules, not the state dict, so that a layer pruned with
    torch.nn.utils.prune (whose state dict holds weight_orig and weight_mask) counts too.
    """
    torch = sys.modules["torch"]
    return {
        f"{name}.weight": module.weight.detach().cpu().numpy().copy()
        for name, module in net.named_modules()
        if isinstance(module, torch.nn.Conv2d | torch.nn.Linear)
    }


def other_parameters(net: Any) -> dict[str, Any]:
    """The parameters that never count for pruning: biases and batch-norm weights."""
    layers = {name[: -len(".weight")] for name in weights_of(net)}
    out = {}
    for name, value in net.named_parameters():
        module, _, attr = name.rpartition(".")
        if module in layers and attr in ("weight", "weight_orig"):  # _orig: nn.utils.prune
            continue
        out[name] = value.detach().cpu().numpy().copy()
    return out


def finetune_setup(torch: Any, spec: dict[str, Any]) -> tuple[Any, Any, Any]:
    """The net, the batches and the optimizer a finetuning call starts from.

    The hidden check builds the same to compute its reference. With spec["warm_start"] the
    optimizer has been used before, as in iterative pruning: one step on the first batch gives
    every weight a momentum, then the (pruned) starting weights are loaded back. Masking only
    the gradients then no longer keeps the pruned weights at zero; re-applying the mask does.
    """
    torch.manual_seed(0)
    net = tiny_net(torch, spec["weights"])
    data = torch.utils.data.TensorDataset(
        torch.tensor(spec["x"], dtype=torch.float32), torch.tensor(spec["y"]).long()
    )
    loader = torch.utils.data.DataLoader(data, batch_size=int(spec["batch_size"]))
    opt = torch.optim.SGD(
        net.parameters(),
        lr=spec["lr"],
        momentum=spec["momentum"],
        weight_decay=spec["weight_decay"],
    )
    net.train()
    if spec.get("warm_start"):
        start = copy.deepcopy(net.state_dict())
        inputs, targets = next(iter(loader))
        opt.zero_grad()
        torch.nn.functional.cross_entropy(net(inputs), targets).backward()
        opt.step()
        opt.zero_grad()
        net.load_state_dict(start)
    return net, loader, opt


def run_ste(ste: Any, spec: dict[str, Any]) -> dict[str, Any]:
    """STE.apply(w, bit, symmetric) on a fixed tensor; with an upstream gradient, backward.

    Also what w holds right after the forward (the STE must leave the full-precision weight
    as it was) and the dtype of the forward's result (w's own, float32, is the one asked for).
    """
    import torch

    w = torch.tensor(spec["w"], dtype=torch.float32, requires_grad=True)
    result: dict[str, Any] = {}
    wq = ste.apply(w, spec["bit"], spec.get("symmetric", False))
    result["forward"] = wq
    result["w_after"] = w.detach().clone()
    result["dtype"] = str(wq.dtype) if isinstance(wq, torch.Tensor) else type(wq).__name__
    if spec.get("upstream") is not None:
        upstream = torch.tensor(spec["upstream"], dtype=torch.float32)
        try:
            torch.autograd.backward(wq, upstream)
            result["grad"] = w.grad
        except Exception as exc:  # reported as data: the check explains it
            result["backward_error"] = f"{type(exc).__name__}: {exc}"
    return result


def run_prune_layer(fn: Any, spec: dict[str, Any]) -> dict[str, Any]:
    """fn(layer, q) on a Conv2d or Linear holding the given weight; what the layer holds after."""
    import torch

    weight = torch.tensor(spec["weight"], dtype=torch.float32)
    if weight.dim() == 4:
        layer = torch.nn.Conv2d(weight.shape[1], weight.shape[0], weight.shape[2], bias=False)
    else:
        layer = torch.nn.Linear(weight.shape[1], weight.shape[0])
    with torch.no_grad():
        layer.weight.copy_(weight)
        if layer.bias is not None:  # small values a threshold on |w| would also remove
            layer.bias.copy_(torch.linspace(0.05, 0.5, layer.bias.numel()))
    returned = fn(layer, spec["q"])
    out = {"weight": layer.weight, "returned_none": returned is None}
    return {**out, "bias": layer.bias} if layer.bias is not None else out


def run_global_prune(fn: Any, spec: dict[str, Any]) -> dict[str, Any]:
    """fn(net, q) on the tiny net with the given weights; every weight and other parameter."""
    import torch

    torch.manual_seed(0)
    net = tiny_net(torch, spec["weights"])
    fn(net, spec["q"])
    return {"weights": weights_of(net), "others": other_parameters(net)}


def run_finetune(fn: Any, spec: dict[str, Any]) -> dict[str, Any]:
    """fn(net, loader, criterion, optimizer, prune=spec["prune"]) for one epoch (prune=True
    unless the spec says otherwise); the weights after."""
    import torch

    net, loader, opt = finetune_setup(torch, spec)
    returned = fn(
        net, loader, torch.nn.CrossEntropyLoss(), opt, prune=bool(spec.get("prune", True))
    )
    return {"weights": weights_of(net), "returned": returned}


MODES = {
    "ste": run_ste,
    "prune_layer": run_prune_layer,
    "global_prune": run_global_prune,
    "finetune": run_finetune,
}
