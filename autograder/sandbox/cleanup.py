"""Removing a folder a submission could have written into, whatever it left there.

shutil.rmtree recurses once per level (a 1,500-deep tree raises RecursionError) and a
folder without permissions stops it. `remove_tree` walks down and back up with one open
folder at a time, never follows a symbolic link (a link is removed, not its target), makes
folders of its own user writable where that is what stops it, and never raises: it returns
how many entries it could not remove, so a caller can say so.
"""

from __future__ import annotations

import contextlib
import os
import stat
from pathlib import Path

_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0)


def _open_dir(name: str, parent: int | None) -> int | None:
    """An fd of the folder `name` (relative to the folder fd `parent`), or None; a folder of
    our own user that denies us reading, entering or changing it is given those rights."""
    for _ in range(2):
        try:
            fd = os.open(name, _DIR_FLAGS, dir_fd=parent)
        except PermissionError:
            with contextlib.suppress(OSError):
                os.chmod(name, 0o700, dir_fd=parent)
            continue
        except OSError:
            return None
        with contextlib.suppress(OSError):
            mode = os.fstat(fd).st_mode
            if mode & 0o700 != 0o700 and os.geteuid() != 0:
                os.fchmod(fd, stat.S_IMODE(mode) | 0o700)
        return fd
    return None


def _unlink(name: str, folder: int) -> bool:
    for _ in range(2):
        try:
            os.unlink(name, dir_fd=folder)
            return True
        except FileNotFoundError:
            return True
        except PermissionError:
            with contextlib.suppress(OSError):
                os.fchmod(folder, 0o700)
        except OSError:
            return False
    return False


def remove_tree(path: Path | str) -> int:
    """Remove `path` and everything under it without recursion and without following links.
    A link or a file at `path` is removed itself. Returns the number of entries left."""
    try:
        return _remove_tree(os.fspath(path))
    except OSError:
        return 1


def _remove_tree(path: str) -> int:
    try:
        info = os.lstat(path)
    except FileNotFoundError:
        return 0
    except OSError:
        return 1
    if not stat.S_ISDIR(info.st_mode):
        try:
            os.unlink(path)
            return 0
        except OSError:
            return 1
    current = _open_dir(path, None)
    if current is None:
        return 1
    # The names from `path` down to the folder `current` is, and per level the entries
    # that could not be removed (skipped when the folder is read again).
    names: list[str] = []
    stuck: list[set[str]] = [set()]
    left = 0
    while True:
        child = None
        try:
            with os.scandir(current) as entries:
                for entry in entries:
                    if entry.name in stuck[-1]:
                        continue
                    if entry.is_dir(follow_symlinks=False):
                        child = entry.name
                        break
                    if not _unlink(entry.name, current):
                        stuck[-1].add(entry.name)
                        left += 1
        except OSError:
            pass  # an unreadable folder: what is left in it stays, and is counted below
        if child is not None:
            opened = _open_dir(child, current)
            if opened is None:
                stuck[-1].add(child)
                left += 1
                continue
            os.close(current)
            current = opened
            names.append(child)
            stuck.append(set())
            continue
        if not names:  # the top folder is done
            os.close(current)
            try:
                os.rmdir(path)
            except OSError:
                left += 1
            return left
        try:
            parent = os.open("..", _DIR_FLAGS, dir_fd=current)
        finally:
            os.close(current)
        current = parent
        name = names.pop()
        stuck.pop()
        try:
            os.rmdir(name, dir_fd=current)
        except OSError:
            stuck[-1].add(name)
            left += 1
