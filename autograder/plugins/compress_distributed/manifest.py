"""Assignment C as a plug-in: numpy compressors in the notebook, DDP communication hooks in
comm_hooks.py (submitted beside it, and run by the checks in a real gloo process group in
the sandbox), the torchrun script ddp_train.py (given), and the lab."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from autograder.authoring.render import lit
from autograder.plugin import Lab, Manifest
from effdl.variants_c import compress_distributed_key, compress_distributed_variant


def _template_globals() -> dict[str, Any]:
    """Helpers for the public checks' expected values, evaluated with effdl at build time."""
    from effdl.compression import topk_sparsify
    from effdl.hogwild import sgd_update

    def topk_roundtrip(ratio: float) -> Callable[[np.ndarray], np.ndarray]:
        return lambda p: topk_sparsify(p, ratio)

    def updated(w: np.ndarray, idx: np.ndarray, val: np.ndarray, y: float, lr: float) -> np.ndarray:
        out = np.array(w, dtype=np.float64)
        sgd_update(out, idx, val, y, lr)
        return out

    return {"topk_roundtrip": topk_roundtrip, "updated": updated}


def _variant_literals(v: dict[str, Any]) -> list[str]:
    """What a variant's notebook sets: the C2 gradient, the C3 vector to quantize and the
    C4 per-rank gradients (how a notebook made for another student is recognised)."""
    return [
        f"g2 = np.array({lit(v['c2']['g'])})",
        f"y_q = np.array({lit(v['c3']['quantize']['y'])})",
        f"G4 = np.array({lit(v['c4']['grads'])})",
    ]


def _lab_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--quick", action="store_true", help="fewer steps, trials and epochs (about a minute)"
    )
    parser.add_argument(
        "--out",
        default="runs/compress-distributed",
        help="output directory (default: runs/compress-distributed)",
    )


def _lab_run(args: argparse.Namespace) -> int:
    from effdl.train.compress_lab import run_compress_distributed_lab

    out = Path(args.out)
    if out.exists() and not out.is_dir():
        raise ValueError(f"--out {out}: exists and is not a directory")
    run_compress_distributed_lab(quick=args.quick, out_dir=out)
    return 0


MANIFEST = Manifest(
    name="compress-distributed",
    title="Communication-efficient and asynchronous training",
    variant=compress_distributed_variant,
    answer_key=compress_distributed_key,
    # DDP's constructor imports torch's compiler (torch._dynamo, 1.6 s): imported once here,
    # every rank process the hook checks fork inherits it.
    preimport=("numpy", "torch", "torch._dynamo", "torch.distributed", "torch.nn.parallel"),
    submitted_modules=("comm_hooks.py",),
    given_modules=("ddp_train.py",),
    statement_budget=20.0,
    untagged_budget=5.0,
    template_globals=_template_globals,
    variant_literals=_variant_literals,
    selftest_seconds=12.0,
    selftest_repeats=0.25,
    lab=Lab(
        help="the compression, quantized sensing, DDP-hook and Hogwild experiments of C2-C5",
        arguments=_lab_arguments,
        run=_lab_run,
    ),
)
