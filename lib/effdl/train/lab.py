"""The pruning and quantization lab of assignment B (B3-B4), end to end.

`train_dense` trains the dense ResNet-20 that the lab starts from (``effdl train``);
`run_prune_quantize_lab` runs the experiments (``effdl lab prune-quantize``) and writes
``results.json``, ``results.md`` and three plots into its output directory:

1. B3(a) accuracy of the dense network;
2. B3(b) one-shot per-layer pruning at several percentages, without finetuning;
3. B3(c) one-shot per-layer pruning to ``q_final`` and finetuning with the zeros held;
4. B3(d) iterative per-layer pruning and B3(e) iterative global pruning to ``q_final``;
5. B4(b) quantization of the body to 6..2 bits without finetuning;
6. B4(c) quantization-aware finetuning at 4, 3 and 2 bits;
7. B4(d) the best pruned network, quantized (zeros kept) before and after finetuning.

Each training step checkpoints after every epoch into ``OUT/resume/``; an interrupted lab
started again with the same arguments continues where it stopped. The directory is removed
when the lab completes.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import shutil
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import torch
import torch.nn as nn

from effdl.data import load_datasets, make_loaders
from effdl.models import ResNetCIFAR
from effdl.pruning import counted_layers, prune_by_percentage, sparsity_report
from effdl.quant import quantize
from effdl.train.checkpoint import load_checkpoint, save_checkpoint
from effdl.train.loops import (
    default_device,
    evaluate,
    finetune,
    fit,
    iterative_prune,
    seed_everything,
)

Log = Callable[[str], None]


@dataclasses.dataclass(frozen=True)
class LabConfig:
    """Schedules of the lab for one data set (see `lab_config`)."""

    dense_epochs: int
    dense_batch_size: int
    dense_lr: float
    dense_weight_decay: float
    finetune_epochs: int
    finetune_batch_size: int
    prune_epochs: int
    fixed_epochs: int
    q_sweep: tuple[float, ...] = (30.0, 50.0, 70.0, 80.0, 90.0)
    q_final: float = 80.0
    bits_sweep: tuple[int, ...] = (6, 5, 4, 3, 2)
    qat_bits: tuple[int, ...] = (4, 3, 2)
    train_subset: int | None = None
    num_workers: int = 0
    cpu_threads: int | None = None


def lab_config(data: str, quick: bool = False) -> LabConfig:
    """The schedules for data spec ``data``: CIFAR-10 (the course's) or the small sets.

    CIFAR-10 finetunes as the course does (batches of 256, 20 epochs; iterative pruning 10 +
    10 epochs). The digits have only 1,437 training images, 6 batches of 256 per epoch, so
    their finetuning uses batches of 64 with the same learning rate. ``quick`` shortens every
    schedule for a smoke run (and trains on 5,000 CIFAR images only). On the CPU the small
    sets run with one torch thread, CIFAR-10 with torch's default.
    """
    if data.strip().lower().startswith("cifar10"):
        # Decoding and augmenting CIFAR images is CPU work: use a few loader processes.
        workers = min(4, os.cpu_count() or 1)
        if quick:
            return LabConfig(
                2, 128, 0.1, 1e-4, 1, 256, 2, 1, train_subset=5000, num_workers=workers
            )
        return LabConfig(160, 128, 0.1, 1e-4, 20, 256, 10, 10, num_workers=workers)
    # The small sets use one CPU thread: 8x8 images are too small for threads to pay off, on a
    # shared machine waiting threads burn the cores others need (a run measured 5-10x
    # slower with 2 threads than with 1 while other jobs ran), and the numbers then do not
    # depend on the machine's core count.
    if quick:
        return LabConfig(8, 64, 0.05, 5e-4, 3, 64, 4, 2, cpu_threads=1)
    return LabConfig(30, 64, 0.05, 5e-4, 20, 64, 10, 10, cpu_threads=1)


@contextlib.contextmanager
def _cpu_threads(threads: int | None) -> Iterator[None]:
    """Run the block with ``threads`` torch CPU threads (None: leave the setting alone)."""
    if threads is None or torch.cuda.is_available():
        yield
        return
    previous = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


def _datasets(data: str, cfg: LabConfig, seed: int) -> tuple:
    train, test = load_datasets(data, seed=seed)
    if cfg.train_subset is not None and len(train) > cfg.train_subset:
        g = torch.Generator().manual_seed(seed)
        keep = torch.randperm(len(train), generator=g)[: cfg.train_subset].tolist()
        train = torch.utils.data.Subset(train, keep)
    return train, test


def train_dense(
    data: str,
    out: str | Path,
    epochs: int | None = None,
    quick: bool = False,
    seed: int = 0,
    log: Log | None = print,
    threads: int | None = None,
) -> dict:
    """Train a dense (full-precision) ResNet-20 on ``data`` and save its state dict to ``out``.

    SGD with Nesterov momentum 0.9 and a cosine learning-rate schedule; the number of epochs
    defaults to the data set's (`lab_config`). The file at ``out`` loads into
    ``ResNetCIFAR()`` with ``strict=True``. Training checkpoints after every epoch to
    ``OUT.resume`` and resumes from it if interrupted; that file is removed at the end.
    ``threads``: torch CPU threads (default: the data set's, see `lab_config`).
    Returns ``{"path", "test_acc", "epochs", "history", "seconds"}``.
    """
    cfg = lab_config(data, quick)
    with _cpu_threads(threads or cfg.cpu_threads):
        return _train_dense(data, Path(out), epochs, cfg, seed, log)


def _train_dense(
    data: str, out: Path, epochs: int | None, cfg: LabConfig, seed: int, log: Log | None
) -> dict:
    epochs = cfg.dense_epochs if epochs is None else int(epochs)
    if epochs < 1:
        raise ValueError(f"epochs must be >= 1, got {epochs}")
    start = time.perf_counter()
    seed_everything(seed)
    train, test = _datasets(data, cfg, seed)
    trainloader, testloader = make_loaders(
        train,
        test,
        batch_size=cfg.dense_batch_size,
        test_batch_size=512,
        seed=seed,
        num_workers=cfg.num_workers,
    )
    net = ResNetCIFAR().to(default_device())
    optimizer = torch.optim.SGD(
        net.parameters(),
        lr=cfg.dense_lr,
        momentum=0.9,
        weight_decay=cfg.dense_weight_decay,
        nesterov=True,
    )
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, epochs)
    resume = out.with_name(out.name + ".resume")
    history = fit(
        net,
        trainloader,
        testloader,
        optimizer,
        epochs,
        scheduler=scheduler,
        restore_best=False,
        checkpoint=resume,
        tag={"data": data, "seed": seed, "lr": cfg.dense_lr, "batch": cfg.dense_batch_size},
        log=log,
        desc="dense",
    )
    save_checkpoint(out, {k: v.cpu() for k, v in net.state_dict().items()})
    resume.unlink(missing_ok=True)
    seconds = time.perf_counter() - start
    if log:
        acc = history["test_acc"][-1]
        log(f"dense ResNet-20: test accuracy {acc:.4f} after {epochs} epochs ({seconds:.0f} s)")
        log(f"saved {out}")
    return {
        "path": str(out),
        "test_acc": history["test_acc"][-1],
        "epochs": epochs,
        "history": history,
        "seconds": seconds,
    }


def load_state_dict_file(path: str | Path) -> dict[str, torch.Tensor]:
    """Read a ResNet-20 state dict from a checkpoint file.

    Accepts a bare state dict (what ``torch.save(net.state_dict())`` writes) or a dict that
    holds one under "model", "state_dict" or "net"; a "module." prefix (DataParallel) is
    dropped.
    """
    state = load_checkpoint(path)
    for key in ("model", "state_dict", "net"):
        if isinstance(state, dict) and isinstance(state.get(key), dict):
            state = state[key]
            break
    if not isinstance(state, dict):
        raise ValueError(f"{path} holds no state dict")
    return {k.removeprefix("module."): v for k, v in state.items()}


def _prune_each_layer(net: nn.Module, q: float) -> None:
    for _, module in counted_layers(net):
        prune_by_percentage(module, q)


def _percent(x: float | None) -> str:
    return "-" if x is None else f"{100 * x:.2f}"


def run_prune_quantize_lab(
    data: str,
    checkpoint: str | Path | None = None,
    quick: bool = False,
    out_dir: str | Path = Path("runs"),
    seed: int = 0,
    log: Log | None = print,
    threads: int | None = None,
) -> dict:
    """Run the pruning and quantization experiments of B3-B4 on ``data``; return the results.

    ``data`` is "digits" or "cifar10:DIR" (see `effdl.data.load_data`); ``checkpoint`` is
    the dense network's state dict (trained first, into ``out_dir/dense.pt``, when None).
    Writes ``results.json``, ``results.md``, ``accuracy_vs_sparsity.png``,
    ``accuracy_vs_bits.png`` and ``layer_sparsity.png`` into ``out_dir``, plus the pruned
    networks ``pruned_oneshot.pt``, ``pruned_iterative.pt`` and ``pruned_global.pt``.
    Accuracies are fractions in [0, 1]. ``threads``: torch CPU threads (default: the data
    set's, see `lab_config`).
    """
    cfg = lab_config(data, quick)
    threads = threads or cfg.cpu_threads
    with _cpu_threads(threads):
        return _run_lab(data, checkpoint, quick, Path(out_dir), seed, log, cfg)


def _run_lab(
    data: str,
    checkpoint: str | Path | None,
    quick: bool,
    out_dir: Path,
    seed: int,
    log: Log | None,
    cfg: LabConfig,
) -> dict:
    say = log or (lambda _msg: None)
    out_dir.mkdir(parents=True, exist_ok=True)
    resume_dir = out_dir / "resume"
    lab_start = time.perf_counter()
    timings: dict[str, float] = {}
    device = default_device()

    def timed(name: str, started: float) -> None:
        timings[name] = round(time.perf_counter() - started, 2)
        say(f"[{name}] done in {timings[name]:.1f} s")

    results: dict = {
        "data": data,
        "quick": quick,
        "seed": seed,
        "device": str(device),
        "torch": torch.__version__,
        "cpu_threads": torch.get_num_threads(),
        "config": dataclasses.asdict(cfg),
    }

    # Dense starting point.
    dense_path = out_dir / "dense.pt"
    if checkpoint is None and resume_dir.is_dir() and dense_path.is_file():
        say(f"resuming an interrupted lab: reusing {dense_path}")
        checkpoint = dense_path
    if checkpoint is None:
        say("no --checkpoint given: training the dense network first")
        trained = _train_dense(data, dense_path, None, cfg, seed, log)
        checkpoint = trained["path"]
        timings["train_dense"] = round(trained["seconds"], 2)
    dense_state = load_state_dict_file(checkpoint)
    results["checkpoint"] = str(checkpoint)

    train, test = _datasets(data, cfg, seed)
    trainloader, testloader = make_loaders(
        train,
        test,
        batch_size=cfg.finetune_batch_size,
        test_batch_size=512,
        seed=seed,
        num_workers=cfg.num_workers,
    )

    def fresh(nbits: int | None = None, state: dict | None = None) -> ResNetCIFAR:
        net = ResNetCIFAR(Nbits=nbits)
        net.load_state_dict(dense_state if state is None else state, strict=True)
        return net.to(device)

    def tag(name: str) -> dict:
        # Identifies a step's resume file: a file made with other settings is not reused.
        return {"step": name, "data": data, "quick": quick, "seed": seed, "dense": str(checkpoint)}

    def tune(net: nn.Module, name: str, masks: bool) -> dict:
        seed_everything(seed)
        return finetune(
            net,
            trainloader,
            testloader,
            epochs=cfg.finetune_epochs,
            masks=masks,
            checkpoint=resume_dir / f"{name}.pt",
            tag=tag(name),
            log=log,
            desc=name,
        )

    # B3(a)
    started = time.perf_counter()
    _, dense_acc = evaluate(fresh(), testloader)
    results["dense"] = {"accuracy": dense_acc}
    say(f"dense accuracy {dense_acc:.4f}")
    timed("dense", started)

    # B3(b): one-shot per-layer pruning, no finetuning.
    started = time.perf_counter()
    sweep = []
    for q in cfg.q_sweep:
        net = fresh()
        _prune_each_layer(net, q)
        _, acc = evaluate(net, testloader)
        sweep.append({"q": q, "sparsity": sparsity_report(net)["sparsity"], "accuracy": acc})
        say(f"per-layer prune q={q:g}: accuracy {acc:.4f}")
    results["prune_sweep"] = sweep
    timed("prune_sweep", started)

    # B3(c): one-shot per-layer pruning to q_final, then finetuning with the zeros held.
    started = time.perf_counter()
    pruned: dict[str, dict] = {}
    net = fresh()
    _prune_each_layer(net, cfg.q_final)
    _, before = evaluate(net, testloader)
    history = tune(net, "oneshot", masks=True)
    report = sparsity_report(net)
    pruned["oneshot"] = {
        "q": cfg.q_final,
        "accuracy_before": before,
        "accuracy": history["best_acc"],
        "best_epoch": history["best_epoch"] + 1,
        "sparsity": report["sparsity"],
        "layers": report["layers"],
    }
    save_checkpoint(out_dir / "pruned_oneshot.pt", net.state_dict())
    states = {"oneshot": {k: v.cpu() for k, v in net.state_dict().items()}}
    timed("oneshot", started)

    # B3(d) and B3(e): iterative pruning, per layer and global.
    for name, global_ in (("iterative", False), ("global", True)):
        started = time.perf_counter()
        net = fresh()
        seed_everything(seed)
        history = iterative_prune(
            net,
            trainloader,
            testloader,
            cfg.q_final,
            global_=global_,
            prune_epochs=cfg.prune_epochs,
            fixed_epochs=cfg.fixed_epochs,
            checkpoint=resume_dir / f"{name}.pt",
            tag=tag(name),
            log=log,
        )
        report = sparsity_report(net)
        pruned[name] = {
            "q": cfg.q_final,
            "accuracy_before": None,
            "accuracy": history["best_acc"],
            "best_epoch": history["best_epoch"] + 1,
            "sparsity": report["sparsity"],
            "layers": report["layers"],
        }
        save_checkpoint(out_dir / f"pruned_{name}.pt", net.state_dict())
        states[name] = {k: v.cpu() for k, v in net.state_dict().items()}
        timed(name, started)
    results["pruned"] = pruned

    # B4(b): quantize the body without finetuning.
    started = time.perf_counter()
    bits_sweep = []
    for bits in cfg.bits_sweep:
        _, acc = evaluate(fresh(bits), testloader)
        bits_sweep.append({"bits": bits, "accuracy": acc})
        say(f"{bits}-bit body, no finetuning: accuracy {acc:.4f}")
    results["quant_sweep"] = bits_sweep
    timed("quant_sweep", started)

    # B4(c): quantization-aware finetuning.
    qat = []
    for bits in cfg.qat_bits:
        started = time.perf_counter()
        net = fresh(bits)
        _, before = evaluate(net, testloader)
        history = tune(net, f"qat{bits}", masks=False)
        qat.append({"bits": bits, "accuracy_before": before, "accuracy": history["best_acc"]})
        timed(f"qat{bits}", started)
    results["qat"] = qat

    # B4(d): prune, then quantize keeping the zeros, before and after finetuning.
    source = max(pruned, key=lambda k: pruned[k]["accuracy"])
    rows = []
    for bits in cfg.qat_bits:
        started = time.perf_counter()
        net = fresh(bits, states[source])
        _, before = evaluate(net, testloader)
        history = tune(net, f"prune_quant{bits}", masks=True)
        quantized_zeros = sum(
            int((quantize(module.weight, bits) == 0).sum())
            for name, module in counted_layers(net)
            if name.startswith("body_op")
        )
        rows.append(
            {
                "bits": bits,
                "accuracy_before": before,
                "accuracy": history["best_acc"],
                "sparsity": sparsity_report(net)["sparsity"],
                "body_zeros_quantized": quantized_zeros,
            }
        )
        timed(f"prune_quant{bits}", started)
    results["prune_quant"] = {"source": source, "rows": rows}

    results["timings_s"] = timings
    results["wall_time_s"] = round(time.perf_counter() - lab_start, 1)
    (out_dir / "results.json").write_text(json.dumps(results, indent=2) + "\n")
    (out_dir / "results.md").write_text(results_markdown(results))
    write_plots(results, out_dir)
    shutil.rmtree(resume_dir, ignore_errors=True)
    say(f"lab done in {results['wall_time_s']:.0f} s; results in {out_dir}/results.md")
    return results


def results_markdown(results: dict) -> str:
    """The lab's results as Markdown tables (accuracies in percent)."""
    cfg = results["config"]
    q = cfg["q_final"]
    lines = [
        f"# Pruning and quantization lab: {results['data']}"
        + (" (quick)" if results["quick"] else ""),
        "",
        f"Dense checkpoint `{results['checkpoint']}`, device {results['device']} "
        f"({results['cpu_threads']} CPU thread{'' if results['cpu_threads'] == 1 else 's'}), "
        f"torch {results['torch']}, seed {results['seed']}; finetuning: SGD lr 0.002, "
        f"momentum 0.875, weight decay 1e-4, batch {cfg['finetune_batch_size']}, "
        f"{cfg['finetune_epochs']} epochs; iterative pruning {cfg['prune_epochs']} + "
        f"{cfg['fixed_epochs']} epochs. Wall time {results['wall_time_s']:.0f} s.",
        "",
        f"Dense accuracy (B3a): **{_percent(results['dense']['accuracy'])}%**",
        "",
        "## B3(b) one-shot per-layer pruning, no finetuning",
        "",
        "| q (%) | sparsity (%) | accuracy (%) |",
        "| ---: | ---: | ---: |",
    ]
    for row in results["prune_sweep"]:
        lines.append(
            f"| {row['q']:g} | {_percent(row['sparsity'])} | {_percent(row['accuracy'])} |"
        )
    lines += [
        "",
        f"## B3(c)-(e) pruning to {q:g}% with finetuning (best test accuracy)",
        "",
        "| method | sparsity (%) | before finetuning (%) | after finetuning (%) |",
        "| --- | ---: | ---: | ---: |",
    ]
    labels = {
        "oneshot": "one-shot, per layer (c)",
        "iterative": "iterative, per layer (d)",
        "global": "iterative, global (e)",
    }
    for name, row in results["pruned"].items():
        lines.append(
            f"| {labels[name]} | {_percent(row['sparsity'])} | "
            f"{_percent(row['accuracy_before'])} | {_percent(row['accuracy'])} |"
        )
    lines += [
        "",
        "## Per-layer sparsity (%) after pruning",
        "",
        "| layer | one-shot per layer | global |",
        "| --- | ---: | ---: |",
    ]
    for a, b in zip(results["pruned"]["oneshot"]["layers"], results["pruned"]["global"]["layers"]):
        lines.append(f"| {a['name']} | {_percent(a['sparsity'])} | {_percent(b['sparsity'])} |")
    qat = {row["bits"]: row for row in results["qat"]}
    lines += [
        "",
        "## B4(b)-(c) quantized body (head and classifier full precision)",
        "",
        "| bits | no finetuning (%) | after QAT finetuning (%) |",
        "| ---: | ---: | ---: |",
    ]
    for row in results["quant_sweep"]:
        after = qat.get(row["bits"], {}).get("accuracy")
        lines.append(f"| {row['bits']} | {_percent(row['accuracy'])} | {_percent(after)} |")
    pq = results["prune_quant"]
    lines += [
        "",
        f"## B4(d) pruned ({labels[pq['source']]}) then quantized, zeros kept",
        "",
        "| bits | before finetuning (%) | after finetuning (%) | sparsity after (%) |",
        "| ---: | ---: | ---: | ---: |",
    ]
    for row in pq["rows"]:
        lines.append(
            f"| {row['bits']} | {_percent(row['accuracy_before'])} | "
            f"{_percent(row['accuracy'])} | {_percent(row['sparsity'])} |"
        )
    lines += ["", "## Time per step (s)", "", "| step | seconds |", "| --- | ---: |"]
    lines += [f"| {k} | {v:.1f} |" for k, v in results["timings_s"].items()]
    return "\n".join(lines) + "\n"


def write_plots(results: dict, out_dir: str | Path) -> list[Path]:
    """Write the lab's three PNG plots into ``out_dir``; return their paths."""
    from matplotlib.figure import Figure  # no pyplot: no GUI backend is touched

    out_dir = Path(out_dir)
    written = []
    dense = 100 * results["dense"]["accuracy"]

    fig = Figure(figsize=(6, 4), dpi=120)
    ax = fig.subplots()
    sweep = results["prune_sweep"]
    ax.plot(
        [0] + [100 * r["sparsity"] for r in sweep],
        [dense] + [100 * r["accuracy"] for r in sweep],
        "o-",
        label="one-shot per layer, no finetuning",
    )
    markers = {"oneshot": "s", "iterative": "^", "global": "D"}
    for name, row in results["pruned"].items():
        ax.plot(
            100 * row["sparsity"],
            100 * row["accuracy"],
            markers[name],
            label=f"{name} + finetuning",
        )
    ax.set_xlabel("sparsity of counted layers (%)")
    ax.set_ylabel("test accuracy (%)")
    ax.set_title("Accuracy vs sparsity")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    written.append(out_dir / "accuracy_vs_sparsity.png")
    fig.savefig(written[-1], bbox_inches="tight")

    fig = Figure(figsize=(6, 4), dpi=120)
    ax = fig.subplots()
    ax.axhline(dense, color="gray", linestyle="--", label="full precision")
    qs = results["quant_sweep"]
    ax.plot([r["bits"] for r in qs], [100 * r["accuracy"] for r in qs], "o-", label="no finetuning")
    qat = results["qat"]
    ax.plot([r["bits"] for r in qat], [100 * r["accuracy"] for r in qat], "s-", label="QAT")
    pq = results["prune_quant"]["rows"]
    ax.plot(
        [r["bits"] for r in pq],
        [100 * r["accuracy_before"] for r in pq],
        "v:",
        label="pruned + quantized",
    )
    ax.plot(
        [r["bits"] for r in pq],
        [100 * r["accuracy"] for r in pq],
        "^-",
        label="pruned + quantized, finetuned",
    )
    ax.set_xticks(sorted({r["bits"] for r in qs + qat + pq}))
    ax.set_xlabel("weight bits of the body")
    ax.set_ylabel("test accuracy (%)")
    ax.set_title("Accuracy vs bits")
    ax.invert_xaxis()
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    written.append(out_dir / "accuracy_vs_bits.png")
    fig.savefig(written[-1], bbox_inches="tight")

    fig = Figure(figsize=(8, 4), dpi=120)
    ax = fig.subplots()
    layers = results["pruned"]["global"]["layers"]
    ax.bar(range(len(layers)), [100 * r["sparsity"] for r in layers])
    ax.axhline(results["config"]["q_final"], color="gray", linestyle="--", label="target (total)")
    ax.set_xticks(range(len(layers)))
    ax.set_xticklabels([r["name"] for r in layers], rotation=90, fontsize=6)
    ax.set_ylabel("sparsity (%)")
    ax.set_title("Per-layer sparsity after global pruning")
    ax.legend(fontsize=8)
    written.append(out_dir / "layer_sparsity.png")
    fig.savefig(written[-1], bbox_inches="tight")
    return written
