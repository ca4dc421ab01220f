"""`effdl similarity`: which submissions share their answer code, ranked, side by side.

    effdl similarity --class DIR --assignment NAME --out DIR [--gradebook G.sqlite]

Each submission's answer code (its answer cells and the support modules students edit) is
fingerprinted with copydetect (winnowed k-grams of tokens, with names and literals
normalized, so renamed variables and reordered functions still match), leaving out every
k-gram of the starter's own code. Every pair is scored by the share of each one's code that
the other holds. With a gradebook, pairs that lost the same checks with the same wrong
output (the same wrong numbers) are marked: independent mistakes rarely agree to the digit.
The page lists the pairs, most similar first, with the matching code highlighted side by side.
Nothing in a submission runs: the code is read as text.
"""

from __future__ import annotations

import itertools
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from copydetect import CodeFingerprint, compare_files
from copydetect.utils import highlight_overlap

from autograder import plugin
from autograder.checking.explain import gave_no_output
from autograder.commands.batch import discover
from autograder.course.settings import Course
from autograder.gradebook import Gradebook
from autograder.grading.grade import grade_submission
from autograder.grading.intake import SubmissionError, load_submission, parse_notebook
from autograder.publishing.files import write_atomic
from autograder.publishing.pages import render

NOISE = 25  # characters of normalized code: shorter common runs never count (copydetect's)
GUARANTEE = 25  # common runs this long are always found
START, END = "\x00\x01", "\x00\x02"  # marks around copied code (never in source text)
MAX_COMPARED_CHARS = 200_000  # of one student's answer code (the solutions' is about 20,000)
MAX_PAIRS_SHOWN = 50


class SimilarityError(ValueError):
    """The similarity report cannot be made as asked."""


@dataclass
class Pair:
    """Two submissions and how much of each one's answer code the other holds."""

    a: str
    b: str
    share_a: float
    share_b: float
    tokens: int
    same_wrong: list[str] = field(default_factory=list)  # checks lost with the same output
    code_a: str = ""
    code_b: str = ""

    @property
    def score(self) -> float:
        return max(self.share_a, self.share_b)


def answer_code(path: Path, assignment: str, student: str) -> str:
    """A submission's answer cells and submitted support modules, as one text."""
    manifest = plugin.get(assignment)
    with tempfile.TemporaryDirectory(prefix="effdl-similar-") as tmp:
        try:
            sub = load_submission(path, assignment, Path(tmp) / "staging", student)
        except SubmissionError:
            return ""
        parts = [c["source"] for c in sub.cells if c.get("role") == "answer"]
        base = sub.files_dir
        if sub.notebook_name:
            base = (sub.files_dir / sub.notebook_name).parent
        for name in manifest.submitted_modules:
            module = base / name
            if module.is_file() and not module.is_symlink():
                parts.append(module.read_text(encoding="utf-8", errors="replace"))
    return "\n\n".join(parts)


def starter_code(assignment: str) -> str:
    """The answer cells and support modules of the student bundle: what everyone was given."""
    manifest = plugin.get(assignment)
    raw = (manifest.bundle_dir / manifest.notebook).read_bytes()
    cells, _ = parse_notebook(raw, [])
    parts = [c["source"] for c in cells if c.get("role") == "answer"]
    for name in manifest.submitted_modules:
        if (manifest.bundle_dir / name).is_file():
            parts.append((manifest.bundle_dir / name).read_text(encoding="utf-8"))
    return "\n\n".join(parts)


def _fingerprint(text: str, folder: Path, name: str, boilerplate: list[int]) -> CodeFingerprint:
    path = folder / f"{name}.py"
    path.write_text(text, encoding="utf-8")
    return CodeFingerprint(
        str(path), NOISE, GUARANTEE - NOISE + 1, boilerplate=boilerplate, language="python"
    )


def _starter_messages(assignment: str) -> set[tuple[str, str]]:
    """(check, message) of every check the unfilled student bundle loses: what a student
    who left a part as given shares with everyone, which is no evidence."""
    result = grade_submission(plugin.get(assignment).bundle_dir, assignment, Course())
    return {(c.id, c.message) for c in result.checks if c.lost}


def _same_wrong_answers(gradebook: Path, assignment: str) -> dict[str, dict[str, str]]:
    """Per student, the message of every check they lost with an output of their own (the
    message holds that output; a missing or unfinished function, or the starter's own
    answer, shares nothing)."""
    starter = _starter_messages(assignment)
    out: dict[str, dict[str, str]] = {}
    with Gradebook.open(gradebook, create=False) as book:
        for row in book.check_results(assignment):
            check, message = row["check_id"], row["message"]
            if row["status"] == "passed" or not message or gave_no_output(message):
                continue
            if (check, message) not in starter:
                out.setdefault(row["student_id"], {})[check] = message
    return out


def compare_class(
    class_dir: Path, assignment: str, gradebook: Path | None = None
) -> tuple[list[Pair], list[str]]:
    """Every pair of the class's submissions, most similar first, and notes."""
    plugin.get(assignment)
    entries, notes = discover(class_dir)
    if len(entries) < 2:
        raise SimilarityError(f"{class_dir} holds fewer than two submissions to compare")
    codes = {e.student_id: answer_code(e.path, assignment, e.student_id) for e in entries}
    long = sorted(sid for sid, code in codes.items() if len(code) > MAX_COMPARED_CHARS)
    if long:
        notes.append(
            f"only the first {MAX_COMPARED_CHARS:,} characters of answer code were compared "
            f"for: {', '.join(long)}"
        )
        codes.update({sid: codes[sid][:MAX_COMPARED_CHARS] for sid in long})
    empty = sorted(sid for sid, code in codes.items() if not code.strip())
    if empty:
        notes.append(f"no answer code found for: {', '.join(empty)}")
    wrong = _same_wrong_answers(gradebook, assignment) if gradebook else {}
    with tempfile.TemporaryDirectory(prefix="effdl-similar-") as tmp:
        folder = Path(tmp)
        for sid, code in codes.items():  # no NUL, so no mark of its own (both begin with one)
            codes[sid] = code.replace("\x00", "")
        starter = _fingerprint(starter_code(assignment), folder, "_starter", [])
        prints = {
            sid: _fingerprint(code, folder, sid, list(starter.hashes))
            for sid, code in codes.items()
            if code.strip()
        }
        pairs = []
        for a, b in itertools.combinations(sorted(prints), 2):
            tokens, (share_a, share_b), (slices_a, slices_b) = compare_files(prints[a], prints[b])
            same = sorted(
                check
                for check, message in wrong.get(a, {}).items()
                if wrong.get(b, {}).get(check) == message
            )
            pair = Pair(a, b, float(share_a), float(share_b), int(tokens), same)
            if tokens:
                pair.code_a = highlight_overlap(prints[a].raw_code, slices_a, START, END)[0]
                pair.code_b = highlight_overlap(prints[b].raw_code, slices_b, START, END)[0]
            else:
                pair.code_a, pair.code_b = prints[a].raw_code, prints[b].raw_code
            pairs.append(pair)
    pairs.sort(key=lambda p: (-(p.score + 0.25 * bool(p.same_wrong)), p.a, p.b))
    return pairs, notes


def _marked(text: str) -> list[tuple[bool, str]]:
    """Text with START...END marks as (copied?, piece) runs, for the page to highlight."""
    out, copied = [], False
    for piece in text.replace(END, START).split(START):
        if piece:
            out.append((copied, piece))
        copied = not copied
    return out


def write_similarity(
    class_dir: Path, assignment: str, out: Path, gradebook: Path | None = None
) -> Path:
    """Write OUT/similarity.html; returns its path."""
    pairs, notes = compare_class(class_dir, assignment, gradebook)
    shown = [
        {
            "pair": p,
            "left": _marked(p.code_a),
            "right": _marked(p.code_b),
        }
        for p in pairs[:MAX_PAIRS_SHOWN]
    ]
    html = render(
        "similarity.html.j2",
        assignment=assignment,
        pairs=shown,
        total=len(pairs),
        notes=notes,
        noise=NOISE,
        with_grades=gradebook is not None,
    )
    page = out / "similarity.html"
    write_atomic(page, html)
    return page
