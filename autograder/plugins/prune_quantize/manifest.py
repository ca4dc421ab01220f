"""Assignment B as a plug-in: torch in the sandbox, FP_layers.py submitted beside the notebook,
fixtures that build the layers and the small net each graded call runs on, and the lab."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from autograder.authoring.render import lit
from autograder.plugin import Lab, Manifest
from effdl.reference import prune_quantize_key
from effdl.variants import prune_quantize_variant


def _template_globals() -> dict[str, Any]:
    import torch

    return {"torch": torch}


def _variant_literals(v: dict[str, Any]) -> list[str]:
    """What a variant's notebook sets: its pruning percentages and its seed."""
    return [f"PRUNE_QS = {lit(v['prune_qs'])}", f"seed_everything({lit(v['seed'])})"]


def _lab_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data", required=True, help="'digits' or 'cifar10:DIR'")
    parser.add_argument("--checkpoint", help="dense starting checkpoint (default: train one)")
    parser.add_argument("--quick", action="store_true", help="short schedules for a smoke run")
    parser.add_argument("--out", default="runs", help="output directory (default: runs/)")


def _lab_run(args: argparse.Namespace) -> int:
    from effdl.train.lab import run_prune_quantize_lab

    if args.checkpoint and not Path(args.checkpoint).is_file():
        raise FileNotFoundError(f"--checkpoint {args.checkpoint}: no such file")
    run_prune_quantize_lab(
        data=args.data, checkpoint=args.checkpoint, quick=args.quick, out_dir=Path(args.out)
    )
    return 0


MANIFEST = Manifest(
    name="prune-quantize",
    title="Pruning and fixed-point quantization of ResNet-20",
    variant=prune_quantize_variant,
    answer_key=prune_quantize_key,
    # torch imports its compiler (torch._dynamo, with sympy) on the first optimizer built or
    # the first backward through a custom Function: 1.6 s. Imported once before the calls,
    # every call process inherits it instead of paying for it again.
    preimport=("numpy", "torch", "torch._dynamo"),
    submitted_modules=("FP_layers.py",),
    given_modules=("resnet20.py", "data_utils.py", "train_utils.py"),
    statement_budget=20.0,
    untagged_budget=5.0,
    template_globals=_template_globals,
    variant_literals=_variant_literals,
    selftest_seconds=8.0,
    selftest_repeats=0.25,
    requirements=("torch", "tqdm"),
    lab=Lab(
        help="the pruning and quantization experiments of B3-B4",
        arguments=_lab_arguments,
        run=_lab_run,
    ),
)
