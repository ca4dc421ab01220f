"""The lab of assignment C: compressed and asynchronous training, end to end, on the CPU.

``python -m effdl.train.compress_lab [--quick] [--out DIR]`` (or
`run_compress_distributed_lab`) runs, with progress bars:

1. C2 compressors on K workers' least-squares problem (the canonical variant's data): every
   compressor with and without error feedback, DGC and dense SGD; bytes per step and how far
   each run ends from the optimum. Also DGC's sparsity warm-up.
2. C3 recovery of sparse vectors from quantized Gaussian measurements by ISTA, as a function
   of M / N, sparsity and bits; then QCS-SGD against SGD and TernGrad by bits and loss.
3. C4 data-parallel training of an MLP on the digits with K gloo processes on 127.0.0.1 and
   each communication hook (torch's allreduce, fp16 and PowerSGD; top-k with and without
   error feedback; TernGrad): bytes per step, test accuracy, wall time.
4. C5 Hogwild against a locked run on a sparse and a dense logistic regression: updates per
   second and final loss by process count, and the fraction of updates lost to conflicts.

It writes ``results.json``, ``results.md`` and the plots ``c2_error_feedback.png``,
``c3_recovery.png``, ``c3_loss_vs_bits.png``, ``c4_accuracy_vs_bytes.png`` and
``c5_hogwild.png`` into the output directory.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from effdl.compression import dgc_sparsity, train_workers
from effdl.ddp_hooks import HOOK_NAMES
from effdl.hogwild import lost_updates, run_hogwild, sparse_logistic_data
from effdl.qcs import recovery_trial, sparse_regression_data, train_qcs
from effdl.variants_c import compress_distributed_variant

Log = Callable[[str], None]


def lab_config(quick: bool = False) -> dict:
    """Sizes of the lab's runs, quick (under a minute on 2 idle cores) or full (a few).

    A plain dict: `run_compress_distributed_lab` takes a modified copy as ``config``.
    """
    return {
        "c2_steps": 1000 if quick else 3000,
        "c3_N": 128,
        "c3_M": [8, 16, 24, 32, 48, 64, 96],
        "c3_sparsity": [4, 8],
        "c3_bits": [None, 8, 4, 2],
        "c3_trials": 3 if quick else 10,
        "qcs_steps": 150 if quick else 400,
        "c4_world_sizes": [2] if quick else [2, 4],
        "c4_epochs": 20 if quick else 40,
        "c4_ratio": 0.001,
        "c4_hooks": list(HOOK_NAMES),
        "c4_start_method": "spawn",
        "c5_n": 20000,
        "c5_epochs": 5 if quick else 10,
        "c5_repeats": 3,
        "c5_procs": [1, 2, 4],
        "c5_count_updates": 10000 if quick else 50000,
    }


def _bar(items: Sequence, desc: str, log: Log | None) -> tqdm:
    return tqdm(items, desc=desc, leave=False, disable=log is None)


# ---------------------------------------------------------------- C2
def _c2(cfg: dict, log: Log | None) -> dict:
    variant = compress_distributed_variant()
    ef = variant["c2"]["ef"]
    A, b = np.array(ef["A"], dtype=np.float64), np.array(ef["b"], dtype=np.float64)
    runs = [
        ("dense SGD", "none", False, {}),
        ("top-k 10%", "topk", False, {"ratio": ef["ratio"]}),
        ("top-k 10% + EF", "topk", True, {"ratio": ef["ratio"]}),
        ("1-bit", "onebit", False, {}),
        ("1-bit + EF", "onebit", True, {}),
        ("QSGD s=4", "qsgd", False, {"s": 4}),
        ("QSGD s=4 + EF", "qsgd", True, {"s": 4}),
        ("TernGrad", "terngrad", False, {}),
        ("DGC 10%, momentum 0.5", "dgc", False, {"ratio": ef["ratio"], "momentum": 0.5}),
        ("dense momentum 0.5", "momentum", False, {"momentum": 0.5}),
    ]
    rows, curves = [], {}
    for name, method, error_feedback, kw in _bar(runs, "C2 compressors", log):
        run = train_workers(
            A, b, method, ef["lr"], cfg["c2_steps"], error_feedback=error_feedback,
            rng=np.random.default_rng(0), **kw,
        )  # fmt: skip
        rows.append(
            {
                "run": name,
                "bytes_per_step": int(run["bytes_per_step"]),
                "relative_distance": float(run["distance"][-1] / run["distance"][0]),
                "final_loss": float(run["loss"][-1]),
                "excess_loss": float(run["loss"][-1] - run["optimal_loss"]),
            }
        )
        curves[name] = (run["distance"] / run["distance"][0]).tolist()
    return {
        "problem": {k: ef[k] for k in ("n_workers", "rows", "dim", "lr", "ratio")},
        "steps": cfg["c2_steps"],
        "rows": rows,
        "curves": curves,
        "dgc_sparsity": [dgc_sparsity(e) for e in range(6)],
    }


# ---------------------------------------------------------------- C3
def _c3(cfg: dict, log: Log | None) -> dict:
    N = cfg["c3_N"]
    grid = []
    cases = [
        (s, bits, M) for s in cfg["c3_sparsity"] for bits in cfg["c3_bits"] for M in cfg["c3_M"]
    ]
    for s, bits, M in _bar(cases, "C3 recovery", log):
        errors = [
            recovery_trial(N, M, s, bits, np.random.default_rng([M, s, t]), 1e-2, 500)
            for t in range(cfg["c3_trials"])
        ]
        grid.append(
            {
                "s": s,
                "bits": bits,
                "M": M,
                "M_over_N": M / N,
                "median_error": float(np.median(errors)),
            }
        )
    X, y, _ = sparse_regression_data(2000, 256, 4, np.random.default_rng(0), 0.1)
    settings = [
        ("SGD (32-bit floats)", "sgd", {}),
        ("TernGrad", "terngrad", {}),
        ("QCS M=64, 6 bits", "qcs", {"M": 64, "bits": 6}),
        ("QCS M=48, 4 bits", "qcs", {"M": 48, "bits": 4}),
        ("QCS M=96, 8 bits", "qcs", {"M": 96, "bits": 8}),
    ]
    training = []
    for name, method, kw in _bar(settings, "C3 QCS-SGD", log):
        start = time.perf_counter()
        run = train_qcs(
            X, y, method, n_workers=4, lr=0.5, steps=cfg["qcs_steps"], batch=2,
            lam_ratio=1e-2, ista_steps=150, rng=np.random.default_rng(1), **kw,
        )  # fmt: skip
        training.append(
            {
                "run": name,
                "bits_per_step": int(run["bits_per_step"]),
                "final_loss": float(run["loss"][-1]),
                "loss": run["loss"].tolist(),
                "bits": run["bits"].tolist(),
                "seconds": time.perf_counter() - start,
            }
        )
    loss0 = training[0]["loss"][0]
    target = 0.25 * loss0
    for row in training:
        reached = [b for b, v in zip(row["bits"], row["loss"]) if v <= target]
        row["bits_to_quarter_loss"] = reached[0] if reached else None
    return {
        "N": N,
        "lam_ratio": 1e-2,
        "ista_steps": 500,
        "trials": cfg["c3_trials"],
        "grid": grid,
        "training": {
            "problem": "2000 samples, N = 256 features, 4 nonzero per sample, 4 workers, batch 2",
            "initial_loss": loss0,
            "target_loss": target,
            "steps": cfg["qcs_steps"],
            "runs": training,
        },
    }


# ---------------------------------------------------------------- C4
def _c4(cfg: dict, log: Log | None) -> dict:
    from effdl.train.ddp import run_digits_ddp

    runs = []
    for K in _bar(cfg["c4_world_sizes"], "C4 DDP world sizes", log):
        started = time.perf_counter()
        results = run_digits_ddp(
            K,
            cfg["c4_hooks"],
            epochs=cfg["c4_epochs"],
            ratio=cfg["c4_ratio"],
            timeout_s=1200,
            start_method=cfg["c4_start_method"],
        )
        if log:
            seconds = time.perf_counter() - started
            log(f"C4: {K} processes, {len(cfg['c4_hooks'])} hooks in {seconds:.0f} s")
        runs.extend(results)
    return {
        "model": "MLP 64-128-10 (9,610 parameters), SGD lr 0.1 momentum 0.9, global batch 64",
        "epochs": cfg["c4_epochs"],
        "topk_ratio": cfg["c4_ratio"],
        "powersgd": "PowerSGDState(rank 1, start_powerSGD_iter 10, error feedback)",
        "runs": runs,
    }


# ---------------------------------------------------------------- C5
def _c5(cfg: dict, log: Log | None) -> dict:
    # (d, nonzeros per sample, learning rate): the dense problem's smaller step keeps its
    # run short of convergence, where lost updates show in the loss.
    problems = {
        "sparse": (10000, 10, 0.05),
        "dense": (100, 100, 0.002),
    }
    rows, lost = [], []
    cases = [
        (name, P, lock) for name in problems for P in cfg["c5_procs"] for lock in (False, True)
    ]
    data = {
        name: sparse_logistic_data(cfg["c5_n"], d, nnz, np.random.default_rng(0))
        for name, (d, nnz, _) in problems.items()
    }
    for name, P, lock in _bar(cases, "C5 Hogwild", log):
        idx, val, y, _ = data[name]
        d, _, lr = problems[name]
        # The machine may be shared: the fastest of a few repeats is the least disturbed.
        repeats = [
            run_hogwild(idx, val, y, P, lr=lr, epochs=cfg["c5_epochs"], lock=lock, d=d)
            for _ in range(cfg["c5_repeats"])
        ]
        best = max(repeats, key=lambda r: r["updates_per_s"])
        rows.append(
            {
                "problem": name,
                "n_procs": P,
                "lock": lock,
                "updates": best["updates"],
                "seconds": best["seconds"],
                "updates_per_s": best["updates_per_s"],
                "updates_per_s_all": [r["updates_per_s"] for r in repeats],
                "loss": best["loss"],
            }
        )
    for name, P in _bar(
        [(n, P) for n in problems for P in cfg["c5_procs"][1:]], "C5 lost updates", log
    ):
        d, nnz, _ = problems[name]
        r = lost_updates(d, nnz, P, cfg["c5_count_updates"])
        lost.append({"problem": name, "n_procs": P, **r})
    return {
        "problems": {
            name: {"d": d, "nnz": nnz, "n": cfg["c5_n"], "lr": lr}
            for name, (d, nnz, lr) in problems.items()
        },
        "epochs": cfg["c5_epochs"],
        "cpu_count": os.cpu_count(),
        "rows": rows,
        "lost_updates": lost,
    }


# ---------------------------------------------------------------- the lab
def run_compress_distributed_lab(
    quick: bool = False,
    out_dir: str | Path = Path("runs/compress-distributed"),
    log: Log | None = print,
    config: dict | None = None,
) -> dict:
    """Run the lab's four parts, write results.json, results.md and the plots; return results.

    quick: smaller runs (the same tables and plots); config: the sizes (default
    ``lab_config(quick)``); log: where progress messages go (None: silent, without progress
    bars). The C4 part has torch DDP processes of its own; every process uses one torch
    thread. Returns the dict written to results.json.
    """
    import torch

    say = log or (lambda _msg: None)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    cfg = lab_config(quick) if config is None else dict(config)
    previous_threads = torch.get_num_threads()
    torch.set_num_threads(1)
    start = time.perf_counter()
    results: dict = {
        "quick": quick,
        "config": cfg,
        "torch": torch.__version__,
        "numpy": np.__version__,
        "python": platform.python_version(),
        "cpu_count": os.cpu_count(),
        "timings_s": {},
    }
    try:
        for part, fn in (("c2", _c2), ("c3", _c3), ("c4", _c4), ("c5", _c5)):
            started = time.perf_counter()
            results[part] = fn(cfg, log)
            results["timings_s"][part] = round(time.perf_counter() - started, 1)
            say(f"[{part}] done in {results['timings_s'][part]:.1f} s")
    finally:
        torch.set_num_threads(previous_threads)
    results["wall_time_s"] = round(time.perf_counter() - start, 1)
    (out_dir / "results.json").write_text(json.dumps(results, indent=2) + "\n")
    (out_dir / "results.md").write_text(results_markdown(results))
    write_plots(results, out_dir)
    say(f"lab done in {results['wall_time_s']:.0f} s; results in {out_dir}/results.md")
    return results


def _fmt_bytes(x: float) -> str:
    return f"{x:,.0f}"


def results_markdown(results: dict) -> str:
    """The lab's results as Markdown tables."""
    cfg = results["config"]
    lines = [
        "# Compressed and asynchronous training lab" + (" (quick)" if results["quick"] else ""),
        "",
        f"torch {results['torch']}, numpy {results['numpy']}, Python {results['python']}, "
        f"{results['cpu_count']} CPUs; wall time {results['wall_time_s']:.0f} s.",
        "",
    ]
    c2 = results["c2"]
    p = c2["problem"]
    lines += [
        f"## C2 compressors ({p['n_workers']} workers, {p['rows']} rows x {p['dim']} each, "
        f"lr {p['lr']}, {c2['steps']} steps)",
        "",
        "Distance to the joint optimum after the run, relative to the start (1 = no progress).",
        "",
        "| run | bytes per worker per step | relative distance | loss - optimal loss |",
        "| --- | ---: | ---: | ---: |",
    ]
    for row in c2["rows"]:
        lines.append(
            f"| {row['run']} | {row['bytes_per_step']} | {row['relative_distance']:.4f} | "
            f"{row['excess_loss']:.2e} |"
        )
    lines += [
        "",
        "DGC sparsity warm-up by epoch: "
        + ", ".join(f"{100 * s:.4g}%" for s in c2["dgc_sparsity"]),
        "",
    ]
    c3 = results["c3"]
    lines += [
        f"## C3 recovery error (N = {c3['N']}, median relative error over {c3['trials']} "
        f"trials, ISTA {c3['ista_steps']} steps, lam = {c3['lam_ratio']} ||Phi^T y||_inf)",
        "",
    ]
    Ms = cfg["c3_M"]
    for s in cfg["c3_sparsity"]:
        lines += [
            f"s = {s} nonzeros",
            "",
            "| bits | " + " | ".join(f"M={M}" for M in Ms) + " |",
            "| --- | " + " | ".join("---:" for _ in Ms) + " |",
        ]
        for bits in cfg["c3_bits"]:
            cells = [
                f"{r['median_error']:.3f}"
                for M in Ms
                for r in c3["grid"]
                if r["s"] == s and r["bits"] == bits and r["M"] == M
            ]
            lines.append(f"| {'exact' if bits is None else bits} | " + " | ".join(cells) + " |")
        lines.append("")
    tr = c3["training"]
    lines += [
        f"QCS-SGD: {tr['problem']}, {tr['steps']} steps; start loss {tr['initial_loss']:.3f}, "
        f"target {tr['target_loss']:.3f} (a quarter).",
        "",
        "| method | bits per worker per step | final loss | bits to the target | seconds |",
        "| --- | ---: | ---: | ---: | ---: |",
    ]
    for row in tr["runs"]:
        reach = row["bits_to_quarter_loss"]
        lines.append(
            f"| {row['run']} | {row['bits_per_step']} | {row['final_loss']:.4f} | "
            f"{'-' if reach is None else _fmt_bytes(reach)} | {row['seconds']:.1f} |"
        )
    c4 = results["c4"]
    lines += [
        "",
        f"## C4 DDP on the digits ({c4['model']}; {c4['epochs']} epochs; top-k ratio "
        f"{c4['topk_ratio']}; {c4['powersgd']})",
        "",
        "Payload: the bytes one rank's message holds per step; wire: a ring estimate of what "
        "it sends (all-reduce 2(K-1)/K payloads, all-gather K-1).",
        "",
        "| hook | K | payload bytes/step | wire bytes/step | vs allreduce | test acc (%) | wall (s) |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for r in c4["runs"]:
        ratio = r["dense_bytes_per_step"] / r["bytes_per_step"]
        lines.append(
            f"| {r['hook']} | {r['world_size']} | {_fmt_bytes(r['bytes_per_step'])} | "
            f"{_fmt_bytes(r['wire_bytes_per_step'])} | {ratio:.0f}x | "
            f"{100 * r['test_acc']:.2f} | {r['wall_s']:.1f} |"
        )
    c5 = results["c5"]
    lines += [
        "",
        f"## C5 Hogwild ({c5['cpu_count']} CPUs; {c5['epochs']} epochs over "
        f"{c5['problems']['sparse']['n']} samples)",
        "",
        f"Updates per second: the fastest of {results['config']['c5_repeats']} repeats; "
        "speed-up: over one process without a lock.",
        "",
        "| problem | processes | lock | updates/s | speed-up | final loss |",
        "| --- | ---: | --- | ---: | ---: | ---: |",
    ]
    for r in c5["rows"]:
        prob = c5["problems"][r["problem"]]
        label = f"{r['problem']} (d={prob['d']}, {prob['nnz']} per sample, lr {prob['lr']})"
        one = next(
            x
            for x in c5["rows"]
            if x["problem"] == r["problem"] and x["n_procs"] == 1 and not x["lock"]
        )
        lines.append(
            f"| {label} | {r['n_procs']} | {'yes' if r['lock'] else 'no'} | "
            f"{_fmt_bytes(r['updates_per_s'])} | {r['updates_per_s'] / one['updates_per_s']:.2f} | "
            f"{r['loss']:.4f} |"
        )
    lines += [
        "",
        "Additions lost to conflicting writes (every process adds 1 to its sample's "
        "coordinates, no lock):",
        "",
        "| problem | processes | additions | lost | lost (%) |",
        "| --- | ---: | ---: | ---: | ---: |",
    ]
    for r in c5["lost_updates"]:
        lines.append(
            f"| {r['problem']} | {r['n_procs']} | {_fmt_bytes(r['expected'])} | "
            f"{_fmt_bytes(r['lost'])} | {100 * r['lost_fraction']:.3f} |"
        )
    lines += ["", "## Time per part (s)", "", "| part | seconds |", "| --- | ---: |"]
    lines += [f"| {k} | {v:.1f} |" for k, v in results["timings_s"].items()]
    return "\n".join(lines) + "\n"


def write_plots(results: dict, out_dir: str | Path) -> list[Path]:
    """Write the lab's five PNG plots into out_dir; return their paths."""
    from matplotlib.figure import Figure  # no pyplot: no GUI backend is touched

    out_dir = Path(out_dir)
    written = []

    def save(fig: Figure, name: str) -> None:
        written.append(out_dir / name)
        fig.savefig(written[-1], bbox_inches="tight")

    fig = Figure(figsize=(6, 4), dpi=120)
    ax = fig.subplots()
    for name, curve in results["c2"]["curves"].items():
        if name.startswith(("top-k", "1-bit", "dense SGD", "DGC")):
            ax.semilogy(
                np.maximum(curve, 1e-12),
                label=name,
                linestyle="-" if "EF" in name or "dense" in name else "--",
            )
    ax.set_xlabel("step")
    ax.set_ylabel("||w - w*|| / ||w_0 - w*||")
    ax.set_title("C2: error feedback")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    save(fig, "c2_error_feedback.png")

    c3 = results["c3"]
    fig = Figure(figsize=(6, 4), dpi=120)
    ax = fig.subplots()
    for s in results["config"]["c3_sparsity"]:
        for bits in results["config"]["c3_bits"]:
            rows = [r for r in c3["grid"] if r["s"] == s and r["bits"] == bits]
            label = f"s={s}, {'exact' if bits is None else f'{bits} bits'}"
            ax.plot(
                [r["M_over_N"] for r in rows],
                [r["median_error"] for r in rows],
                "o-",
                label=label,
                markersize=3,
            )
    ax.set_xlabel("M / N")
    ax.set_ylabel("median relative recovery error")
    ax.set_title(f"C3: ISTA recovery, N = {c3['N']}")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=6, ncol=2)
    save(fig, "c3_recovery.png")

    fig = Figure(figsize=(6, 4), dpi=120)
    ax = fig.subplots()
    for row in c3["training"]["runs"]:
        bits = np.maximum(np.array(row["bits"], dtype=np.float64), 1.0)
        ax.loglog(bits, row["loss"], label=row["run"])
    ax.set_xlabel("bits sent by one worker")
    ax.set_ylabel("training loss")
    ax.set_title("C3: loss against communication")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    save(fig, "c3_loss_vs_bits.png")

    fig = Figure(figsize=(6, 4), dpi=120)
    ax = fig.subplots()
    K = min(r["world_size"] for r in results["c4"]["runs"])
    for r in results["c4"]["runs"]:
        if r["world_size"] == K:
            ax.semilogx(
                np.maximum(r["bytes_by_epoch"], 1),
                100 * np.array(r["test_acc_by_epoch"]),
                "o-",
                markersize=3,
                label=r["hook"],
            )
    ax.set_xlabel(f"bytes sent by one rank (cumulative, K = {K})")
    ax.set_ylabel("test accuracy (%)")
    ax.set_title("C4: accuracy against bytes")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    save(fig, "c4_accuracy_vs_bytes.png")

    fig = Figure(figsize=(6, 4), dpi=120)
    ax = fig.subplots()
    for problem in ("sparse", "dense"):
        for lock in (False, True):
            rows = [
                r for r in results["c5"]["rows"] if r["problem"] == problem and r["lock"] == lock
            ]
            ax.plot(
                [r["n_procs"] for r in rows],
                [r["updates_per_s"] for r in rows],
                "o-" if not lock else "s--",
                label=f"{problem}, {'lock' if lock else 'Hogwild'}",
            )
    ax.set_xlabel("processes")
    ax.set_ylabel("updates per second")
    ax.set_title(f"C5: throughput ({results['c5']['cpu_count']} CPUs)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    save(fig, "c5_hogwild.png")
    return written


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m effdl.train.compress_lab [--quick] [--out DIR]``."""
    parser = argparse.ArgumentParser(
        prog="python -m effdl.train.compress_lab",
        description="Assignment C's lab: gradient compression, compressive sensing, DDP "
        "communication hooks and Hogwild, on the CPU.",
    )
    parser.add_argument("--quick", action="store_true", help="smaller runs (a few minutes)")
    parser.add_argument("--out", default="runs/compress-distributed", help="output directory")
    args = parser.parse_args(argv)
    run_compress_distributed_lab(quick=args.quick, out_dir=Path(args.out))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
