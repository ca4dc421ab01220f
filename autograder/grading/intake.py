"""Take in one submission (a notebook, a folder, or a zip of either) as data, safely.

Nothing here runs student code. Files are copied into a private staging folder with caps on
count and size; links, absolute paths and `..` are refused and reported, and so is a file
of a zip that a folder of the same name in the zip would have to replace; the notebook is
parsed as JSON (undecodable bytes replaced) into the list of code cells the harness will see.
Problems become notes in the feedback, never crashes. What the trusted side will parse is
capped before it parses it (names of zip entries, code per cell and per notebook, code read
to choose among notebooks), since parsing grows with its input outside every sandbox limit.

Which notebook is graded, when a submission holds several: the one with the most functions
written (definitions whose body is more than a `raise NotImplementedError` stub), then the
one named exactly like the assignment's notebook, then the most recently modified; the
feedback names it and warns that there were several. A submission with nothing gradable (not
a zip, no notebook, a notebook that is not a readable notebook, and no graded support file
beside it) is refused with the reason (SubmissionError): it "could not be graded".
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import stat
import tempfile
import time
import zipfile
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from autograder import plugin
from autograder.cells import cell_text, code_role
from autograder.grading.statements import IPythonBudget, written_definitions
from autograder.sandbox.harness.codec import clean_text

MAX_FILES = 200
MAX_FILE_BYTES = 25 * 1024 * 1024
MAX_TOTAL_BYTES = 100 * 1024 * 1024
MAX_NOTEBOOK_BYTES = 30 * 1024 * 1024
# Code is parsed on the trusted side (about 3 us and up to 1 KB per character for the densest
# code): these caps keep one submission's parsing to seconds. A solution holds ~20,000.
MAX_SOURCE_CHARS = 1_000_000  # of code per notebook
MAX_CELL_CHARS = 200_000  # of code per cell
MAX_CODE_CELLS = 20_000
MAX_CANDIDATES = 20  # notebooks read to choose the one to grade (the rest are only listed)
MAX_CHOOSING_CHARS = 2_000_000  # of code parsed, in all, to choose among several notebooks
MAX_NAME_CHARS = 1024  # of a zip entry's or folder file's path inside the submission
MAX_NAME_PARTS = 64  # folders deep
IGNORED_PARTS = ("__MACOSX", ".ipynb_checkpoints", "__pycache__", ".git")


class SubmissionError(ValueError):
    """The path cannot be graded at all (it does not exist, or is not a notebook/folder/zip)."""


@dataclass
class Submission:
    """A staged submission: its files, its notebook's code cells, and what was refused."""

    student_id: str
    source: Path
    files_dir: Path
    notebook_name: str | None = None
    cells: list[dict[str, Any]] = field(default_factory=list)
    metadata: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    content_hash: str = ""

    @property
    def variant_claimed(self) -> str | None:
        """The variant id written in the notebook's metadata, if any (data, not trusted)."""
        effdl = self.metadata.get("effdl")
        value = effdl.get("variant") if isinstance(effdl, dict) else None
        return clean_text(value) if isinstance(value, str) and len(value) < 100 else None


def _other_assignment(metadata: dict[str, Any], assignment: str) -> str | None:
    """The other installed assignment a notebook's metadata names, if it names one: its
    answers belong to that assignment's problems (grading them here scores, say, B1's
    true/false answers against A1's key). A claim of this one, or of nothing known, is no
    reason to refuse (the metadata is the student's to keep or lose)."""
    effdl = metadata.get("effdl")
    claimed = effdl.get("assignment") if isinstance(effdl, dict) else None
    if isinstance(claimed, str) and claimed != assignment and claimed in plugin.names():
        return claimed
    return None


def student_id_from_path(path: Path) -> str:
    """The default student id: the file or folder name without .ipynb/.zip."""
    name = path.name
    for suffix in (".zip", ".ipynb"):
        if name.endswith(suffix):
            name = name[: -len(suffix)]
    return name


def _name_too_long(name: str) -> bool:
    return len(name) > MAX_NAME_CHARS or name.replace("\\", "/").count("/") >= MAX_NAME_PARTS


def _safe_relpath(name: str) -> PurePosixPath | None:
    """A relative path with no '..', no absolute root and no empty parts, else None."""
    if _name_too_long(name):
        return None  # refused before any work that grows with the name (with a note)
    name = name.replace("\\", "/")
    path = PurePosixPath(name)
    if path.is_absolute() or not path.parts or any(p in ("..", "") for p in path.parts):
        return None
    if any(part in IGNORED_PARTS or part.startswith("._") for part in path.parts):
        return None
    return path


def _copy_folder(source: Path, dest: Path, notes: list[str]) -> None:
    total = 0
    count = 0
    for path in sorted(source.rglob("*")):
        rel = path.relative_to(source)
        if path.is_symlink():
            notes.append(f"refused {rel}: symbolic links are not accepted")
            continue
        if not path.is_file() or _safe_relpath(rel.as_posix()) is None:
            continue
        size = path.stat().st_size
        count += 1
        if count > MAX_FILES or size > MAX_FILE_BYTES or total + size > MAX_TOTAL_BYTES:
            notes.append(f"refused {rel}: the submission is too large (limits: {MAX_FILES} files)")
            continue
        total += size
        target = dest / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, target)
        os.utime(target, (path.stat().st_atime, path.stat().st_mtime))  # "the newest" rule


def _extract_zip(source: Path, dest: Path, notes: list[str]) -> None:
    try:
        archive = zipfile.ZipFile(source)
    except (zipfile.BadZipFile, OSError) as exc:
        raise SubmissionError(f"{source.name} is not a readable zip file: {exc}") from exc
    total = 0
    with archive:
        members = archive.infolist()
        if len(members) > 4 * MAX_FILES:
            notes.append(f"the zip has {len(members)} entries: only the first ones were read")
        members = members[: 4 * MAX_FILES]
        # A file and a folder of one name cannot both be unpacked: the folder wins (it may
        # hold the notebook), the file is refused.
        folders = {
            rel.parents[i].as_posix()
            for rel in (_safe_relpath(m.filename) for m in members)
            if rel is not None
            for i in range(len(rel.parts) - 1)
        }
        unpacked: set[str] = set()
        for info in members:
            mode = info.external_attr >> 16
            rel = _safe_relpath(info.filename)
            if info.is_dir():
                continue
            if stat.S_ISLNK(mode):
                notes.append(f"refused {info.filename}: symbolic links are not accepted")
                continue
            if rel is None:
                if _name_too_long(info.filename):
                    notes.append(
                        f"refused {info.filename[:80]!r}...: names longer than {MAX_NAME_CHARS} "
                        f"characters or {MAX_NAME_PARTS} folders deep"
                    )
                elif ".." in info.filename or info.filename.startswith(("/", "\\")):
                    notes.append(f"refused {info.filename!r}: paths leaving the folder")
                continue
            if rel.as_posix() in folders:
                notes.append(
                    f"refused {info.filename}: the zip also holds a folder of the same name"
                )
                continue
            if info.file_size > MAX_FILE_BYTES or total + info.file_size > MAX_TOTAL_BYTES:
                notes.append(f"refused {info.filename}: too large once unpacked")
                continue
            try:
                copied = _unpack(archive, info, dest.joinpath(*rel.parts))
            except Exception as exc:  # any decoder's error: an unknown method, encryption, ...
                why = f"{type(exc).__name__}: {exc}"[:200]
                notes.append(f"refused {info.filename!r}: it could not be unpacked ({why})")
                continue
            if copied is None:
                notes.append(f"refused {info.filename}: too large once unpacked")
                continue
            total += copied
            if rel.as_posix() in unpacked:
                notes.append(
                    f"WARNING: the zip holds {rel.as_posix()} more than once: the last copy in "
                    "the archive was kept and graded"
                )
            unpacked.add(rel.as_posix())


def _unpack(archive: zipfile.ZipFile, info: zipfile.ZipInfo, target: Path) -> int | None:
    """Write one zip entry to `target`; its size, or None (and nothing written) when it is
    larger than its header said and than the cap. Keeps the entry's time ("the newest")."""
    target.parent.mkdir(parents=True, exist_ok=True)
    copied = 0
    try:
        with archive.open(info) as src, open(target, "wb") as out:
            while chunk := src.read(1 << 20):
                copied += len(chunk)
                if copied > MAX_FILE_BYTES:  # a header that lied about the size
                    break
                out.write(chunk)
    except BaseException:
        target.unlink(missing_ok=True)
        raise
    if copied > MAX_FILE_BYTES:
        target.unlink()
        return None
    try:
        stamp = time.mktime((*info.date_time, 0, 0, -1))
        os.utime(target, (stamp, stamp))
    except (OverflowError, ValueError, OSError):
        pass
    return copied


def _flatten_single_folder(dest: Path) -> None:
    """A zip of a folder unpacks into that folder: use its contents as the submission."""
    entries = [p for p in dest.iterdir()]
    if len(entries) == 1 and entries[0].is_dir() and not entries[0].is_symlink():
        # Moved out of `dest` first: whatever names the folder holds (its own, or any other),
        # they then land in an empty folder.
        holder = Path(tempfile.mkdtemp(prefix="unpacked-", dir=dest.parent))
        inner = entries[0].rename(holder / "folder")
        for child in inner.iterdir():
            child.rename(dest / child.name)
        inner.rmdir()
        holder.rmdir()


@dataclass
class _Candidate:
    """One notebook of the submission, read: what grading it would see."""

    path: Path
    rel: str
    cells: list[dict[str, Any]]
    metadata: dict[str, Any]
    notes: list[str]
    problem: str | None  # why it is not a readable notebook, or None
    written: int = 0
    mtime: float = 0.0


def _read_candidate(
    path: Path, files_dir: Path, count_written: bool, budget: IPythonBudget
) -> _Candidate:
    notes: list[str] = []
    cells, metadata, problem = _parse(path.read_bytes(), notes)
    rel = path.relative_to(files_dir).as_posix()
    written = written_definitions(cells, budget) if count_written and problem is None else 0
    return _Candidate(path, rel, cells, metadata, notes, problem, written, path.stat().st_mtime)


def _choose_notebook(files_dir: Path, assignment: str, notes: list[str]) -> _Candidate | None:
    """The notebook to grade (see the module's docstring for the rule), or None."""
    paths = sorted(p for p in files_dir.rglob("*.ipynb") if p.is_file() and not p.is_symlink())
    if not paths:
        return None
    several, total = len(paths) > 1, len(paths)
    exact = f"{assignment}.ipynb"
    paths.sort(key=lambda p: p.name != exact)  # stable: the exact name first, read in full
    if len(paths) > MAX_CANDIDATES:
        notes.append(
            f"the submission holds {len(paths)} notebooks: only {MAX_CANDIDATES} were read "
            f"to choose from (not read: {', '.join(p.name for p in paths[MAX_CANDIDATES:][:5])}"
            f"{', ...' if len(paths) > MAX_CANDIDATES + 5 else ''})"
        )
        paths = paths[:MAX_CANDIDATES]
    if not several:
        return _read_candidate(paths[0], files_dir, False, IPythonBudget())

    def rank(c: _Candidate) -> tuple:
        return (c.problem is not None, -c.written, c.path.name != exact, -c.mtime, c.rel)

    budget = IPythonBudget()  # one for all the notebooks read to choose from
    found: list[_Candidate] = []
    best: _Candidate | None = None
    parsed, unread = 0, []
    for path in paths:
        over = parsed > MAX_CHOOSING_CHARS
        candidate = _read_candidate(path, files_dir, not over, budget)
        parsed += sum(len(c["source"]) for c in candidate.cells)
        if over and candidate.problem is None:
            unread.append(candidate.rel)
        found.append(candidate)
        if best is None or rank(candidate) < rank(best):  # only the best so far keeps its cells
            if best is not None:
                best.cells, best.metadata = [], {}
            best = candidate
        else:
            candidate.cells, candidate.metadata = [], {}
    assert best is not None
    if unread:
        notes.append(
            f"the notebooks hold over {MAX_CHOOSING_CHARS:,} characters of code in all: "
            f"{', '.join(unread[:5])}{', ...' if len(unread) > 5 else ''} counted as having "
            "no functions written"
        )
    found.sort(key=rank)
    counts = ", ".join(f"{c.rel} {'unreadable' if c.problem else c.written}" for c in found[:6]) + (
        ", ..." if len(found) > 6 else ""
    )
    notes.append(
        f"WARNING: the submission holds {total} notebooks: graded {best.rel}. The rule: "
        f"the most functions written (here: {counts}), then the name {exact}, then the most "
        "recently modified. Submit one notebook to be sure which one is graded."
    )
    return best


def parse_notebook(raw: bytes, notes: list[str]) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Code cells [{index, role, source}] and the metadata of a notebook file, as data; why it
    cannot be read, if it cannot, is added to `notes`."""
    cells, metadata, problem = _parse(raw, notes)
    if problem is not None:
        notes.append(f"{problem}: no code from it could be graded")
    return cells, metadata


def _parse(raw: bytes, notes: list[str]) -> tuple[list[dict[str, Any]], dict[str, Any], str | None]:
    """(code cells, metadata, why the bytes are not a readable notebook or None)."""
    if len(raw) > MAX_NOTEBOOK_BYTES:
        return [], {}, f"the notebook is larger than {MAX_NOTEBOOK_BYTES // 2**20} MiB"
    try:
        text = raw.decode("utf-8-sig")  # a byte order mark, as some editors write, is fine
    except UnicodeDecodeError:
        text = raw.decode("utf-8-sig", "replace")
        notes.append("the notebook is not valid UTF-8: undecodable bytes were replaced")
    try:
        data = json.loads(text)
    except (ValueError, RecursionError) as exc:
        return [], {}, f"the notebook is not valid JSON ({str(exc)[:120]})"
    if not isinstance(data, dict) or not isinstance(data.get("cells"), list):
        return [], {}, "the file is not a notebook (it has no list of cells)"
    cells = []
    chars = 0
    for index, cell in enumerate(data["cells"], start=1):  # as a reader counts them
        if not isinstance(cell, dict) or cell.get("cell_type") != "code":
            continue
        source = cell_text(cell)
        if len(source) > MAX_CELL_CHARS:
            notes.append(
                f"cell {index} holds over {MAX_CELL_CHARS:,} characters of code: it was not read"
            )
            continue
        chars += len(source)
        if len(cells) >= MAX_CODE_CELLS:
            notes.append(
                f"the notebook has over {MAX_CODE_CELLS} code cells: cells from {index} on were not read"
            )
            break
        if chars > MAX_SOURCE_CHARS:
            notes.append(
                f"the notebook holds over {MAX_SOURCE_CHARS:,} characters of code: cells "
                f"from {index} on were not read"
            )
            break
        cells.append({"index": index, "role": code_role(cell), "source": source})
    metadata = data.get("metadata") if isinstance(data.get("metadata"), dict) else {}
    return cells, metadata, None


def missing_literals(cells: list[dict[str, Any]], literals: list[str]) -> list[str]:
    """The literals (a variant's numbers, as the notebook's cells carry them) that no code cell
    holds, whitespace aside: a notebook made for another student lacks some of them."""
    texts = ["".join(str(c.get("source", "")).split()) for c in cells]
    return [lit for lit in literals if not any("".join(lit.split()) in t for t in texts)]


def content_hash(files_dir: Path) -> str:
    """SHA-256 over the staged files' relative paths and bytes (what decides a re-grade)."""
    digest = hashlib.sha256()
    for path in sorted(files_dir.rglob("*")):
        if path.is_file() and not path.is_symlink():
            # os.fsencode: a name that is no UTF-8 (kept by Python as surrogates) hashes too
            digest.update(os.fsencode(path.relative_to(files_dir).as_posix()) + b"\0")
            digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()


def load_submission(
    path: Path, assignment: str, staging: Path, student_id: str | None = None
) -> Submission:
    """Stage `path` (notebook, folder or zip) into `staging` and parse its notebook. Raises
    SubmissionError when nothing in it can be graded, with the reason."""
    path = Path(path)
    if not path.exists():
        raise SubmissionError(f"{path} does not exist")
    files_dir = staging / "files"
    files_dir.mkdir(parents=True)
    notes: list[str] = []
    if path.is_dir():
        _copy_folder(path, files_dir, notes)
    elif path.suffix == ".zip":
        _extract_zip(path, files_dir, notes)
        _flatten_single_folder(files_dir)
    elif path.suffix == ".ipynb":
        if path.stat().st_size > MAX_NOTEBOOK_BYTES:
            raise SubmissionError(
                f"{path.name} is larger than {MAX_NOTEBOOK_BYTES // 2**20} MiB, too large to grade"
            )
        shutil.copyfile(path, files_dir / f"{assignment}.ipynb")
    else:
        raise SubmissionError(f"{path}: expected a .ipynb notebook, a folder or a .zip")
    sub = Submission(
        student_id=student_id or student_id_from_path(path),
        source=path,
        files_dir=files_dir,
        notes=notes,
    )
    chosen = _choose_notebook(files_dir, assignment, notes)
    if chosen is None:
        problem = f"no notebook (.ipynb) was found: expected {assignment}.ipynb"
        base = files_dir
    else:
        sub.notebook_name = chosen.rel
        sub.cells, sub.metadata = chosen.cells, chosen.metadata
        notes += chosen.notes
        label = path.name if path.is_file() and path.suffix == ".ipynb" else chosen.rel
        problem = None if chosen.problem is None else f"{label}: {chosen.problem}"
        base = chosen.path.parent
    other = _other_assignment(sub.metadata, assignment)
    if other is not None:
        raise SubmissionError(
            f"{path.name if path.is_file() else sub.notebook_name} is the notebook of "
            f"assignment {other!r} (its metadata says "
            f"so), not of {assignment!r}: the wrong notebook was submitted, or it was graded "
            "as the wrong assignment"
        )
    if problem is not None:
        modules = [m for m in plugin.get(assignment).submitted_modules if (base / m).is_file()]
        if not modules:
            raise SubmissionError(problem)
        notes.insert(0, f"WARNING: {problem}; only {', '.join(modules)} could be graded")
    sub.content_hash = content_hash(files_dir)
    return sub
