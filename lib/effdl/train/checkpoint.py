"""Checkpoints that are never half-written.

`save_checkpoint` writes to a temporary file in the target's directory, flushes it to disk
and renames it over the target in one step (``os.replace`` is atomic on POSIX and Windows),
so a crash or a kill during the write leaves the previous checkpoint intact.
`load_checkpoint` reads one back onto the CPU without unpickling arbitrary objects.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path
from typing import Any

import torch


def save_checkpoint(path: str | Path, state: Any) -> Path:
    """Write ``state`` (a state dict, or a dict of tensors, numbers, strings, lists and dicts)
    to ``path`` atomically: either the old file or the complete new one is there, never a
    partial one. Missing parent directories are created. Returns the path.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            torch.save(state, f)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp_name, 0o644)  # mkstemp creates the file readable by its owner only
        os.replace(tmp_name, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp_name)
        raise
    # Make the rename itself durable (best effort: not every platform can open a directory).
    with contextlib.suppress(OSError):
        dir_fd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
    return path


def load_checkpoint(path: str | Path, map_location: str | torch.device = "cpu") -> Any:
    """Read a checkpoint written by `save_checkpoint` (or ``torch.save``), onto the CPU by
    default. Only tensors and plain Python containers are accepted (``weights_only``), so a
    checkpoint from an untrusted source cannot run code.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no checkpoint at {path}")
    return torch.load(path, map_location=map_location, weights_only=True)
