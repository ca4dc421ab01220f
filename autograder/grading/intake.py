"""Take in one submission (a notebook, a folder, or a zip of either) as data, safely.

Nothing here runs student code. Files are copied into a private staging folder with caps on
count and size; links, absolute paths and `..` are refused and reported; the notebook is
parsed as JSON (undecodable bytes replaced, malformed JSON reported) into the list of code
cells the harness will see. Problems become notes in the feedback, never crashes.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import stat
import zipfile
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from autograder.cells import cell_text, code_role

MAX_FILES = 200
MAX_FILE_BYTES = 25 * 1024 * 1024
MAX_TOTAL_BYTES = 100 * 1024 * 1024
MAX_NOTEBOOK_BYTES = 30 * 1024 * 1024
MAX_SOURCE_CHARS = 5_000_000
MAX_CODE_CELLS = 20_000
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
        return value if isinstance(value, str) and len(value) < 100 else None


def student_id_from_path(path: Path) -> str:
    """The default student id: the file or folder name without .ipynb/.zip."""
    name = path.name
    for suffix in (".zip", ".ipynb"):
        if name.endswith(suffix):
            name = name[: -len(suffix)]
    return name


def _safe_relpath(name: str) -> PurePosixPath | None:
    """A relative path with no '..', no absolute root and no empty parts, else None."""
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
        for info in members[: 4 * MAX_FILES]:
            mode = info.external_attr >> 16
            rel = _safe_relpath(info.filename)
            if info.is_dir():
                continue
            if stat.S_ISLNK(mode):
                notes.append(f"refused {info.filename}: symbolic links are not accepted")
                continue
            if rel is None:
                if ".." in info.filename or info.filename.startswith(("/", "\\")):
                    notes.append(f"refused {info.filename!r}: paths leaving the folder")
                continue
            if info.file_size > MAX_FILE_BYTES or total + info.file_size > MAX_TOTAL_BYTES:
                notes.append(f"refused {info.filename}: too large once unpacked")
                continue
            target = dest.joinpath(*rel.parts)
            target.parent.mkdir(parents=True, exist_ok=True)
            with archive.open(info) as src, open(target, "wb") as out:
                copied = 0
                while chunk := src.read(1 << 20):
                    copied += len(chunk)
                    if copied > MAX_FILE_BYTES:  # a header that lied about the size
                        break
                    out.write(chunk)
            if copied > MAX_FILE_BYTES:
                target.unlink()
                notes.append(f"refused {info.filename}: too large once unpacked")
                continue
            total += copied


def _flatten_single_folder(dest: Path) -> None:
    """A zip of a folder unpacks into that folder: use its contents as the submission."""
    entries = [p for p in dest.iterdir()]
    if len(entries) == 1 and entries[0].is_dir() and not entries[0].is_symlink():
        # Moved aside first: the folder may hold an entry of its own name (sub/sub).
        inner = entries[0].rename(dest / f".effdl-unpacked-{entries[0].name}")
        for child in inner.iterdir():
            child.rename(dest / child.name)
        inner.rmdir()


def _choose_notebook(files_dir: Path, assignment: str, notes: list[str]) -> Path | None:
    notebooks = sorted(p for p in files_dir.rglob("*.ipynb") if p.is_file())
    if not notebooks:
        return None
    for nb in notebooks:
        if nb.name == f"{assignment}.ipynb":
            return nb
    if len(notebooks) > 1:
        names = ", ".join(p.relative_to(files_dir).as_posix() for p in notebooks[:5])
        notes.append(f"several notebooks ({names}): graded {notebooks[0].name}")
    return notebooks[0]


def parse_notebook(raw: bytes, notes: list[str]) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Code cells [{index, role, source}] and the metadata of a notebook file, as data."""
    if len(raw) > MAX_NOTEBOOK_BYTES:
        notes.append(f"the notebook is larger than {MAX_NOTEBOOK_BYTES // 2**20} MiB: not read")
        return [], {}
    try:
        text = raw.decode("utf-8-sig")  # a byte order mark, as some editors write, is fine
    except UnicodeDecodeError:
        text = raw.decode("utf-8-sig", "replace")
        notes.append("the notebook is not valid UTF-8: undecodable bytes were replaced")
    try:
        data = json.loads(text)
    except (ValueError, RecursionError) as exc:
        notes.append(f"the notebook is not valid JSON ({exc}); no code from it could be graded")
        return [], {}
    if not isinstance(data, dict) or not isinstance(data.get("cells"), list):
        notes.append("the notebook has no list of cells: no code from it could be graded")
        return [], {}
    cells = []
    chars = 0
    for index, cell in enumerate(data["cells"]):
        if not isinstance(cell, dict) or cell.get("cell_type") != "code":
            continue
        source = cell_text(cell)
        chars += len(source)
        if len(cells) >= MAX_CODE_CELLS:
            notes.append(
                f"the notebook has over {MAX_CODE_CELLS} code cells: cells from {index} on were not read"
            )
            break
        if chars > MAX_SOURCE_CHARS:
            notes.append(
                f"the notebook holds over {MAX_SOURCE_CHARS} characters of code: cells "
                f"from {index} on were not read"
            )
            break
        cells.append({"index": index, "role": code_role(cell), "source": source})
    metadata = data.get("metadata") if isinstance(data.get("metadata"), dict) else {}
    return cells, metadata


def content_hash(files_dir: Path) -> str:
    """SHA-256 over the staged files' relative paths and bytes (what decides a re-grade)."""
    digest = hashlib.sha256()
    for path in sorted(files_dir.rglob("*")):
        if path.is_file() and not path.is_symlink():
            digest.update(path.relative_to(files_dir).as_posix().encode() + b"\0")
            digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()


def load_submission(
    path: Path, assignment: str, staging: Path, student_id: str | None = None
) -> Submission:
    """Stage `path` (notebook, folder or zip) into `staging` and parse its notebook."""
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
            notes.append("the notebook is too large to grade")
        else:
            shutil.copyfile(path, files_dir / f"{assignment}.ipynb")
    else:
        raise SubmissionError(f"{path}: expected a .ipynb notebook, a folder or a .zip")
    sub = Submission(
        student_id=student_id or student_id_from_path(path),
        source=path,
        files_dir=files_dir,
        notes=notes,
    )
    notebook = _choose_notebook(files_dir, assignment, notes)
    if notebook is None:
        notes.append(f"no notebook (.ipynb) was found: expected {assignment}.ipynb")
    else:
        sub.notebook_name = notebook.relative_to(files_dir).as_posix()
        sub.cells, sub.metadata = parse_notebook(notebook.read_bytes(), notes)
    sub.content_hash = content_hash(files_dir)
    return sub
