"""Training for assignment B: loops, atomic and resumable checkpoints, and the B3-B4 lab.

The lab (`effdl.train.lab`: `train_dense`, `run_prune_quantize_lab`) is imported on demand,
since it pulls in plotting.
"""

from effdl.train.checkpoint import load_checkpoint, save_checkpoint
from effdl.train.loops import (
    default_device,
    evaluate,
    finetune,
    fit,
    iterative_prune,
    seed_everything,
    train_epoch,
)

__all__ = [
    "default_device",
    "evaluate",
    "finetune",
    "fit",
    "iterative_prune",
    "load_checkpoint",
    "save_checkpoint",
    "seed_everything",
    "train_epoch",
]
