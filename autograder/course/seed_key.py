"""The key of the hidden inputs' seeds when a course has no secret.

A submission's hidden inputs are drawn from an HMAC of its content keyed by the course
secret (grading/suite.py: submission_seed). A course without a secret (the canonical
variant) still needs a key nobody can read from the code, or a student could draw their own
hidden inputs. This one is made at random the first time it is needed and kept, readable by
its owner only, in $EFFDL_SEED_KEY_FILE, else $XDG_STATE_HOME/effdl/seed-key (by default
~/.local/state/effdl/seed-key), so that a regrade on this installation draws the same inputs.
EFFDL_SEED_KEY sets it outright (the same value on every machine of a Dask cluster; the
course read by `load_course` carries it to the workers either way).
"""

from __future__ import annotations

import contextlib
import functools
import os
import secrets
from pathlib import Path

MIN_LENGTH = 16


def key_file() -> Path:
    """Where this installation's key is kept."""
    if os.environ.get("EFFDL_SEED_KEY_FILE"):
        return Path(os.environ["EFFDL_SEED_KEY_FILE"])
    state = os.environ.get("XDG_STATE_HOME") or os.path.join(Path.home(), ".local", "state")
    return Path(state) / "effdl" / "seed-key"


@functools.cache
def _kept(path: Path) -> str:
    try:
        text = path.read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        text = ""
    if len(text) >= MIN_LENGTH:
        return text
    if text:
        raise ValueError(f"{path}: the seed key is shorter than {MIN_LENGTH} characters")
    path.parent.mkdir(parents=True, exist_ok=True)
    made = secrets.token_hex(32)
    try:  # O_EXCL: two graders starting at once keep the first one's key
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return _kept.__wrapped__(path)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(made + "\n")
    return made


def installation_key() -> str:
    """EFFDL_SEED_KEY, else this installation's kept key (made on first use). Raises
    OSError when it can be neither read nor made (a read-only home), ValueError when the
    kept file is not a key."""
    given = os.environ.get("EFFDL_SEED_KEY", "")
    if given:
        if len(given) < MIN_LENGTH:
            raise ValueError(f"EFFDL_SEED_KEY must be at least {MIN_LENGTH} characters")
        return given
    return _kept(key_file())


def seed_key_or_none() -> str | None:
    """installation_key(), or None where it cannot be had."""
    with contextlib.suppress(OSError, ValueError):
        return installation_key()
    return None
