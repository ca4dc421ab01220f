"""Writing files so that a reader never sees half of one, and nothing is replaced unasked."""

from __future__ import annotations

import os
from pathlib import Path


class FileExistsRefused(FileExistsError):
    """The output file exists and replacing it was not asked for."""


def write_atomic(path: Path, text: str) -> None:
    """Write a file so that it is either the old or the new content, never half of one. A
    character UTF-8 cannot hold (a lone surrogate a submission smuggled into a string that
    reached the page) is written as "?": a page with one odd character beats no page."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with open(tmp, "w", encoding="utf-8", errors="replace") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)  # a full disk, a folder at `path`: no stray temp file
        raise


def write_new(path: Path, text: str, force: bool = False) -> None:
    """Write an output file, refusing to replace an existing one unless `force`."""
    if path.is_dir():
        raise FileExistsRefused(f"{path} is a folder; --out needs a file name")
    if path.exists() and not force:
        raise FileExistsRefused(f"{path} exists; choose another --out or add --force to replace it")
    write_atomic(path, text)
