"""effdl.train: finetuning with masks, atomic and resumable checkpoints, the lab end to end."""

import inspect
import json
import sys
import textwrap

import numpy as np
import pytest
import torch
import torch.nn as nn

from effdl.data import make_loaders, synthetic_cifar
from effdl.models import ResNetCIFAR
from effdl.pruning import counted_layers, global_prune_by_percentage, sparsity_report
from effdl.train import checkpoint as checkpoint_module
from effdl.train import (
    evaluate,
    finetune,
    fit,
    iterative_prune,
    load_checkpoint,
    loops,
    save_checkpoint,
    seed_everything,
    train_epoch,
)


@pytest.fixture(autouse=True, scope="module")
def one_cpu_thread():
    """Small tensors: one torch thread is as fast, and much faster on a busy shared machine."""
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


def small_task(seed: int = 0, n: int = 80):
    """A learnable 8x8 synthetic task: (train loader, test loader)."""
    train = synthetic_cifar(n, seed=seed, image_size=8)
    test = synthetic_cifar(40, seed=seed, image_size=8, sample_seed=seed + 1)
    return make_loaders(train, test, batch_size=16, seed=seed)


def test_finetune_keeps_pruned_weights_and_lowers_the_loss():
    seed_everything(0)
    trainloader, testloader = small_task()
    net = ResNetCIFAR()
    global_prune_by_percentage(net, 50)
    zeros = {n: m.weight.detach() == 0 for n, m in counted_layers(net)}
    loss_before, _ = evaluate(net, trainloader)
    history = finetune(
        net, trainloader, testloader, epochs=3, lr=0.05, masks=True, device="cpu", log=None
    )
    loss_after, _ = evaluate(net, trainloader)
    assert loss_after < 0.5 * loss_before, (loss_before, loss_after)
    assert len(history["test_acc"]) == 3 and 0 <= history["best_acc"] <= 1
    for name, module in counted_layers(net):
        assert torch.equal(module.weight.detach() == 0, zeros[name]), name


def test_train_epoch_with_mask_dict_and_evaluate():
    seed_everything(0)
    trainloader, testloader = small_task()
    net = ResNetCIFAR()
    with torch.no_grad():
        net.final_fc.linear.weight[:, :32] = 0
    masks = {"final_fc.linear": net.final_fc.linear.weight.detach() != 0}
    optimizer = torch.optim.SGD(net.parameters(), lr=0.05, momentum=0.875, weight_decay=1e-4)
    loss = train_epoch(net, trainloader, nn.CrossEntropyLoss(), optimizer, masks=masks)
    assert loss > 0
    assert (net.final_fc.linear.weight[:, :32] == 0).all()
    test_loss, acc = evaluate(net, testloader)
    assert test_loss > 0 and 0 <= acc <= 1


def test_progress_bar_falls_back_without_tqdm(monkeypatch):
    monkeypatch.setitem(sys.modules, "tqdm", None)  # "import tqdm" now fails
    items = [1, 2, 3]
    assert loops._progress(items, "x", True) is items


def test_checkpoint_round_trip(tmp_path):
    state = {"epoch": 3, "model": {"w": torch.arange(4.0)}, "history": [0.5, 0.25]}
    path = save_checkpoint(tmp_path / "sub" / "ck.pt", state)
    loaded = load_checkpoint(path)
    assert loaded["epoch"] == 3 and loaded["history"] == [0.5, 0.25]
    assert torch.equal(loaded["model"]["w"], torch.arange(4.0))
    with pytest.raises(FileNotFoundError):
        load_checkpoint(tmp_path / "missing.pt")


def test_failed_write_leaves_old_checkpoint_intact(tmp_path, monkeypatch):
    path = tmp_path / "ck.pt"
    save_checkpoint(path, {"version": 1})
    old_bytes = path.read_bytes()

    def crash_midway(obj, f):
        f.write(b"half a checkpoint")
        raise RuntimeError("disk full")

    monkeypatch.setattr(checkpoint_module.torch, "save", crash_midway)
    with pytest.raises(RuntimeError, match="disk full"):
        save_checkpoint(path, {"version": 2})
    monkeypatch.undo()
    assert path.read_bytes() == old_bytes
    assert load_checkpoint(path) == {"version": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["ck.pt"]  # no temporary file left


class Interrupt(Exception):
    pass


def _run(tmp_path, stop_at: int | None):
    """Three epochs of fit on a fresh, identically seeded setup; stop before `stop_at`."""
    seed_everything(0)
    trainloader, testloader = small_task()
    net = ResNetCIFAR()
    optimizer = torch.optim.SGD(net.parameters(), lr=0.02, momentum=0.875, weight_decay=1e-4)
    scheduler = torch.optim.lr_scheduler.StepLR(optimizer, 1, gamma=0.5)

    def before_epoch(_net, epoch):
        if epoch == stop_at:
            raise Interrupt

    history = fit(
        net,
        trainloader,
        testloader,
        optimizer,
        3,
        scheduler=scheduler,
        before_epoch=before_epoch,
        restore_best=False,
        checkpoint=tmp_path / "run.pt",
        log=None,
    )
    return net, history, optimizer


def test_resume_continues_from_the_saved_epoch(tmp_path):
    straight, straight_history, _ = _run(tmp_path / "a", stop_at=None)
    with pytest.raises(Interrupt):
        _run(tmp_path / "b", stop_at=2)
    assert load_checkpoint(tmp_path / "b" / "run.pt")["epoch"] == 1  # epochs 0 and 1 saved
    resumed, resumed_history, optimizer = _run(tmp_path / "b", stop_at=None)
    assert len(resumed_history["train_loss"]) == 3
    assert optimizer.param_groups[0]["lr"] == pytest.approx(0.02 * 0.5**3)
    # Same data order, same weights: the interrupted run ends where the straight one does.
    assert resumed_history["train_loss"] == pytest.approx(straight_history["train_loss"], abs=1e-6)
    for a, b in zip(straight.state_dict().values(), resumed.state_dict().values()):
        assert torch.allclose(a.float(), b.float(), atol=1e-6)


def test_resume_ignores_checkpoint_of_other_settings(tmp_path):
    path = tmp_path / "run.pt"
    save_checkpoint(path, {"tag": {"epochs": 99}, "epoch": 50})
    trainloader, testloader = small_task()
    net = ResNetCIFAR()
    optimizer = torch.optim.SGD(net.parameters(), lr=0.01)
    history = fit(net, trainloader, testloader, optimizer, 1, checkpoint=path, log=None)
    assert len(history["test_acc"]) == 1
    assert load_checkpoint(path)["epoch"] == 0


@pytest.mark.parametrize("global_", [False, True])
def test_iterative_prune_reaches_final_sparsity(global_):
    seed_everything(0)
    trainloader, testloader = small_task()
    net = ResNetCIFAR()
    history = iterative_prune(
        net,
        trainloader,
        testloader,
        60,
        global_=global_,
        prune_epochs=2,
        fixed_epochs=1,
        lr=0.01,
        device="cpu",
        log=None,
    )
    assert len(history["test_acc"]) == 3 and history["best_epoch"] >= 1
    report = sparsity_report(net)
    assert abs(report["zeros"] - 0.6 * report["total"]) <= (1 if global_ else len(report["layers"]))
    if not global_:
        for layer in report["layers"]:
            assert abs(layer["zeros"] - 0.6 * layer["total"]) <= 1, layer["name"]


def test_train_dense_and_lab_end_to_end(tmp_path):
    from effdl.train.lab import run_prune_quantize_lab, train_dense

    dense = train_dense("synthetic:30", tmp_path / "dense.pt", epochs=1, log=None)
    state = torch.load(dense["path"], weights_only=True)
    ResNetCIFAR().load_state_dict(state, strict=True)
    assert not (tmp_path / "dense.pt.resume").exists()

    out = tmp_path / "lab"
    threads = torch.get_num_threads()
    results = run_prune_quantize_lab(
        "synthetic:30", checkpoint=dense["path"], quick=True, out_dir=out, log=None
    )
    for name in (
        "results.json",
        "results.md",
        "accuracy_vs_sparsity.png",
        "accuracy_vs_bits.png",
        "layer_sparsity.png",
        "pruned_global.pt",
    ):
        assert (out / name).is_file(), name
    assert not (out / "resume").exists()
    assert torch.get_num_threads() == threads  # the lab's one-thread setting is undone
    saved = json.loads((out / "results.json").read_text())
    assert [r["bits"] for r in saved["quant_sweep"]] == [6, 5, 4, 3, 2]
    assert [r["q"] for r in saved["prune_sweep"]] == [30, 50, 70, 80, 90]
    for row in saved["prune_quant"]["rows"]:
        assert row["sparsity"] == pytest.approx(0.8, abs=0.01)  # pruning survives quantization
    assert results["pruned"]["global"]["sparsity"] == pytest.approx(0.8, abs=1e-4)
    assert "| 4 |" in (out / "results.md").read_text()


def test_loop_copies_are_self_contained():
    """Bundles copy the STANDALONE loop functions by source: they run with torch, nn, np."""
    namespace = {"torch": torch, "nn": nn, "np": np, "__name__": "bundle"}
    for name in loops.STANDALONE:
        exec(textwrap.dedent(inspect.getsource(getattr(loops, name))), namespace)
    namespace["seed_everything"](0)
    trainloader, testloader = small_task()
    net = ResNetCIFAR().to(namespace["default_device"]())
    optimizer = torch.optim.SGD(net.parameters(), lr=0.05)
    loss = namespace["train_epoch"](net, trainloader, nn.CrossEntropyLoss(), optimizer)
    test_loss, acc = namespace["evaluate"](net, testloader)
    assert loss > 0 and test_loss > 0 and 0 <= acc <= 1
