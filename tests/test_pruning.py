"""effdl.pruning: magnitude pruning per layer and globally, and masks that hold."""

import inspect
import textwrap

import numpy as np
import pytest
import torch
import torch.nn as nn
from torch.utils.data import DataLoader, TensorDataset

from effdl import pruning
from effdl.models import FP_Conv, ResNetCIFAR
from effdl.pruning import (
    apply_masks,
    capture_masks,
    counted_layers,
    finetune_after_prune,
    format_sparsity_report,
    global_prune_by_percentage,
    iterative_prune_schedule,
    prune_by_percentage,
    sparsity_report,
)


@pytest.fixture(autouse=True, scope="module")
def one_cpu_thread():
    """Small tensors: one torch thread is as fast, and much faster on a busy shared machine."""
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


def tie_free_linear(seed: int = 0) -> nn.Linear:
    """A 40 -> 25 layer (1,000 weights) whose magnitudes are all distinct."""
    layer = nn.Linear(40, 25)
    g = torch.Generator().manual_seed(seed)
    magnitudes = (torch.randperm(1000, generator=g).float() + 1) / 1000
    signs = torch.where(torch.rand(1000, generator=g) < 0.5, -1.0, 1.0)
    with torch.no_grad():
        layer.weight.copy_((magnitudes * signs).reshape(25, 40))
    return layer


@pytest.mark.parametrize("q", [0, 30, 50, 73.3, 99])
def test_prune_by_percentage_sparsity_and_kept_weights(q):
    layer = tie_free_linear()
    before = layer.weight.detach().clone()
    bias = layer.bias.detach().clone()
    prune_by_percentage(layer, q)
    after = layer.weight.detach()
    zeros = int((after == 0).sum())
    assert abs(zeros - q * 1000 / 100) <= 1, (q, zeros)  # within one element of q percent
    kept = after != 0
    assert torch.equal(after[kept], before[kept])  # kept weights unchanged
    if 0 < zeros < 1000:
        assert before[~kept].abs().max() < before[kept].abs().min()  # the largest are kept
    assert torch.equal(layer.bias, bias)


def test_prune_by_percentage_not_by_index():
    layer = nn.Linear(4, 1, bias=False)
    with torch.no_grad():
        layer.weight.copy_(torch.tensor([[5.0, -0.1, 3.0, 0.2]]))
    prune_by_percentage(layer, 50)
    assert torch.equal(layer.weight, torch.tensor([[5.0, 0.0, 3.0, 0.0]]))


def test_prune_by_percentage_on_wrappers_and_convs():
    torch.manual_seed(0)
    wrapper = FP_Conv(8, 8, 3)
    prune_by_percentage(wrapper, 60)
    assert abs(float((wrapper.conv.weight == 0).float().mean()) - 0.6) <= 1 / 576
    with pytest.raises(TypeError):
        prune_by_percentage(nn.ReLU(), 50)
    with pytest.raises(ValueError):
        prune_by_percentage(nn.Linear(3, 3), 150)


def test_global_threshold_is_percentile_over_counted_layers():
    torch.manual_seed(0)
    net = ResNetCIFAR()
    before = {name: p.detach().clone() for name, p in net.named_parameters()}
    counted = [name for name, _ in counted_layers(net)]
    assert len(counted) == 20 and not any("id_mapping" in n for n in counted)
    magnitudes = np.concatenate([before[f"{n}.weight"].abs().flatten().numpy() for n in counted])
    threshold = np.percentile(magnitudes, 70)
    global_prune_by_percentage(net, 70)
    params = dict(net.named_parameters())
    for name in counted:
        w0 = before[f"{name}.weight"]
        assert torch.equal(params[f"{name}.weight"] == 0, w0.abs().double() < threshold), name
    for name in ("body_op.3.id_mapping.0.conv.weight", "body_op.6.id_mapping.0.conv.weight"):
        assert torch.equal(params[name], before[name])  # shortcuts are not counted
    report = sparsity_report(net)
    assert abs(report["zeros"] - 0.7 * report["total"]) <= 1
    per_layer = [layer["sparsity"] for layer in report["layers"]]
    assert max(per_layer) - min(per_layer) > 0.1  # one threshold, unequal layers


def _tiny_task(n: int = 64, seed: int = 0) -> DataLoader:
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 3, 8, 8, generator=g)
    y = torch.randint(0, 10, (n,), generator=g)
    return DataLoader(TensorDataset(x, y), batch_size=16)


def test_finetune_after_prune_keeps_zeros_through_momentum_and_weight_decay():
    torch.manual_seed(0)
    net = ResNetCIFAR()
    global_prune_by_percentage(net, 60)
    zeros_before = {n: m.weight.detach() == 0 for n, m in counted_layers(net)}
    optimizer = torch.optim.SGD(net.parameters(), lr=0.05, momentum=0.875, weight_decay=1e-4)
    loader = _tiny_task()
    for _ in range(2):  # the second epoch starts with momentum buffers already full
        loss = finetune_after_prune(net, loader, nn.CrossEntropyLoss(), optimizer)
        assert isinstance(loss, float) and np.isfinite(loss)
    for name, module in counted_layers(net):
        assert torch.equal(module.weight.detach() == 0, zeros_before[name]), name


def test_finetune_after_prune_without_prune_lets_weights_regrow():
    torch.manual_seed(0)
    net = ResNetCIFAR()
    global_prune_by_percentage(net, 60)
    zeros = sparsity_report(net)["zeros"]
    optimizer = torch.optim.SGD(net.parameters(), lr=0.05, momentum=0.875, weight_decay=1e-4)
    finetune_after_prune(net, _tiny_task(), nn.CrossEntropyLoss(), optimizer, prune=False)
    assert sparsity_report(net)["zeros"] < zeros / 2


def test_masks_survive_sgd_steps_with_momentum_and_weight_decay():
    torch.manual_seed(0)
    net = ResNetCIFAR()
    for _, module in counted_layers(net):
        prune_by_percentage(module, 50)
    masks = capture_masks(net)
    assert set(masks) == {name for name, _ in counted_layers(net)}
    assert all(m.dtype == torch.bool for m in masks.values())
    optimizer = torch.optim.SGD(net.parameters(), lr=0.05, momentum=0.875, weight_decay=1e-4)
    x = torch.randn(16, 3, 8, 8)
    y = torch.randint(0, 10, (16,))
    for _ in range(5):
        optimizer.zero_grad()
        nn.functional.cross_entropy(net(x), y).backward()
        optimizer.step()
        apply_masks(net, masks)
    for name, module in counted_layers(net):
        assert torch.equal(module.weight.detach() != 0, masks[name]), name
    # Without re-applying, the same steps revive pruned weights: the test can see a failure.
    optimizer.zero_grad()
    nn.functional.cross_entropy(net(x), y).backward()
    optimizer.step()
    assert sparsity_report(net)["zeros"] < 0.1 * sparsity_report(net)["total"]


def test_apply_masks_checks_names_and_shapes():
    net = ResNetCIFAR()
    with pytest.raises(KeyError):
        apply_masks(net, {"nope": torch.ones(3, dtype=torch.bool)})
    with pytest.raises(ValueError, match="shape"):
        apply_masks(net, {"final_fc.linear": torch.ones(3, dtype=torch.bool)})


def test_iterative_schedule():
    assert iterative_prune_schedule(80) == pytest.approx([8, 16, 24, 32, 40, 48, 56, 64, 72, 80])
    assert iterative_prune_schedule(60, epochs=3) == pytest.approx([20, 40, 60])
    with pytest.raises(ValueError):
        iterative_prune_schedule(80, epochs=0)


def test_sparsity_report_counts():
    net = ResNetCIFAR()
    with torch.no_grad():
        net.head_conv[0].conv.weight[:2] = 0  # 2 of 16 filters: 54 of 432 weights
        net.body_op[3].id_mapping[0].conv.weight.zero_()  # not counted
    report = sparsity_report(net)
    assert [layer["name"] for layer in report["layers"]][0] == "head_conv.0.conv"
    head = report["layers"][0]
    assert (head["zeros"], head["total"]) == (54, 432)
    assert head["sparsity"] == pytest.approx(54 / 432, abs=1e-12)
    counted_weights = [
        p.numel()
        for name, p in net.named_parameters()
        if name.endswith(("conv.weight", "linear.weight")) and "id_mapping" not in name
    ]
    assert len(counted_weights) == 20
    assert report["total"] == sum(counted_weights)
    assert report["zeros"] == 54
    text = format_sparsity_report(report)
    assert "head_conv.0.conv" in text and "total" in text and "0.1250" in text


def test_answer_functions_are_self_contained():
    """The solution notebook copies the three answers by source: they run on their own."""
    namespace = {"torch": torch, "nn": nn, "np": np, "__name__": "bundle"}
    for name in pruning.STANDALONE:
        exec(textwrap.dedent(inspect.getsource(getattr(pruning, name))), namespace)
    a, b = tie_free_linear(), tie_free_linear()
    namespace["prune_by_percentage"](a, 40)
    prune_by_percentage(b, 40)
    assert torch.equal(a.weight, b.weight)
    torch.manual_seed(0)
    net = ResNetCIFAR()
    reference = ResNetCIFAR()
    reference.load_state_dict(net.state_dict())
    namespace["global_prune_by_percentage"](net, 55)
    global_prune_by_percentage(reference, 55)
    assert sparsity_report(net) == sparsity_report(reference)
    optimizer = torch.optim.SGD(net.parameters(), lr=0.05, momentum=0.875, weight_decay=1e-4)
    namespace["finetune_after_prune"](net, _tiny_task(), nn.CrossEntropyLoss(), optimizer)
    assert sparsity_report(net)["zeros"] == sparsity_report(reference)["zeros"]
