"""The similarity report: planted copies (renamed variables, reordered functions) rank above
honest pairs, the starter's code counts for nobody, and identical wrong outputs are marked."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

from classkit import ASSIGNMENT, BLANK

from autograder.authoring.samples import swap_in_notebook
from autograder.cli import main
from autograder.commands.batch import grade_class
from autograder.commands.similarity import compare_class

# Three students' own ways of writing the same five functions.
ANN = {
    "closed_form": '''
def closed_form(X, y):
    """W* with X W* = y."""
    return np.linalg.solve(np.asarray(X, float), np.asarray(y, float).reshape(-1))
''',
    "worker_gradient": '''
def worker_gradient(W, x, y):
    """2 x (x.W - y)."""
    residual = float(np.dot(x, W) - y)
    return 2.0 * residual * np.asarray(x, dtype=float)
''',
    "server_step": '''
def server_step(W, grads, lr):
    """Average the workers' gradients, step."""
    stacked = np.vstack([np.asarray(g, dtype=float).reshape(1, -1) for g in grads])
    return np.asarray(W, dtype=float) - lr * stacked.mean(axis=0)
''',
    "clip_gradient": '''
def clip_gradient(g, T):
    """Elementwise into [-T, T]."""
    g = np.asarray(g, dtype=float)
    return np.where(g > T, T, np.where(g < -T, -T, g))
''',
    "soft_threshold": '''
def soft_threshold(v, t):
    """sign(v) max(|v| - t, 0)."""
    v = np.asarray(v, dtype=float)
    magnitude = np.abs(v) - t
    magnitude[magnitude < 0] = 0.0
    return np.sign(v) * magnitude
''',
}
BEN = {
    "closed_form": """
def closed_form(X, y):
    inverse = np.linalg.inv(X)
    out = []
    for row in inverse:
        out.append(sum(a * b for a, b in zip(row, y)))
    return np.array(out)
""",
    "worker_gradient": """
def worker_gradient(W, x, y):
    x = np.array(x, dtype=np.float64).flatten()
    err = x @ np.array(W).flatten() - y
    return x * (2 * err)
""",
    "server_step": """
def server_step(W, grads, lr):
    total = np.zeros_like(np.array(W, dtype=float))
    for gradient in grads:
        total = total + gradient
    return W - lr * total / len(grads)
""",
    "clip_gradient": """
def clip_gradient(g, T):
    return np.minimum(np.maximum(g, -T), T)
""",
    "soft_threshold": """
def soft_threshold(v, t):
    result = []
    for value in v:
        if value > t:
            result.append(value - t)
        elif value < -t:
            result.append(value + t)
        else:
            result.append(0.0)
    return np.array(result)
""",
}
CAT = {
    "closed_form": """
def closed_form(X, y):
    # least squares gives the exact answer for a square invertible X
    sol, *_ = np.linalg.lstsq(X, y, rcond=None)
    return sol
""",
    "worker_gradient": """
def worker_gradient(W, x, y):
    pred = sum(w_i * x_i for w_i, x_i in zip(np.ravel(W), np.ravel(x)))
    return np.array([2 * (pred - y) * x_i for x_i in np.ravel(x)])
""",
    "server_step": """
def server_step(W, grads, lr):
    g = np.mean(np.array(grads, dtype=float).reshape(len(grads), -1), axis=0)
    return np.array(W, dtype=float).reshape(-1) - lr * g
""",
    "clip_gradient": """
def clip_gradient(g, T):
    return np.clip(np.asarray(g, dtype=float), -T, T)
""",
    "soft_threshold": """
def soft_threshold(v, t):
    v = np.asarray(v, dtype=float)
    return np.where(np.abs(v) <= t, 0.0, v - t * np.sign(v))
""",
}
# Ann's code with every name changed, and the functions in other cells (another order).
RENAMED = {
    "closed_form": ANN["clip_gradient"]
    .replace("g = np", "grad = np")
    .replace("(g", "(grad")
    .replace(" g)", " grad)")
    .replace("g,", "grad,"),
    "clip_gradient": ANN["closed_form"].replace("X", "A").replace("y", "b"),
    "worker_gradient": ANN["soft_threshold"].replace("magnitude", "shrunk").replace("v", "vec"),
    "soft_threshold": ANN["worker_gradient"].replace("residual", "r"),
    "server_step": ANN["server_step"].replace("stacked", "all_grads"),
}
WRONG_CLOSED_FORM = """
def closed_form(X, y):
    return np.asarray(y) @ np.linalg.inv(np.asarray(X))
"""


def _student(folder: Path, code: dict[str, str]) -> Path:
    folder.mkdir(parents=True)
    notebook = folder / f"{ASSIGNMENT}.ipynb"
    shutil.copyfile(BLANK, notebook)
    for name, text in code.items():
        swap_in_notebook(notebook, name, text.strip() + "\n")
    return folder


def _class(tmp: Path) -> Path:
    class_dir = tmp / "class"
    _student(class_dir / "ann", ANN)
    _student(class_dir / "ben", BEN)
    _student(class_dir / "cat", CAT)
    _student(class_dir / "dan", RENAMED)  # a copy of ann
    _student(class_dir / "eve", {**BEN, "closed_form": WRONG_CLOSED_FORM})  # ben's, one wrong
    _student(class_dir / "fay", {**CAT, "closed_form": WRONG_CLOSED_FORM})  # cat's, same wrong
    return class_dir


def test_planted_copies_rank_first_and_the_starter_counts_for_nobody(tmp_path: Path) -> None:
    class_dir = _class(tmp_path)
    pairs, notes = compare_class(class_dir, ASSIGNMENT)
    ranked = [(p.a, p.b) for p in pairs]
    assert len(ranked) == 15 and not notes
    top = set(ranked[:3])
    assert {("ann", "dan"), ("ben", "eve"), ("cat", "fay")} == top, ranked[:5]
    honest = {("ann", "ben"), ("ann", "cat"), ("ben", "cat")}
    best_copy = min(p.score for p in pairs if (p.a, p.b) in top)
    assert all(p.score < best_copy for p in pairs if (p.a, p.b) in honest)
    assert max(p.score for p in pairs if (p.a, p.b) in honest) < 0.5  # the starter not shared


def test_same_wrong_output_is_marked_and_the_page_shows_code_side_by_side(tmp_path) -> None:
    class_dir = _class(tmp_path)
    gradebook, out = tmp_path / "gb.sqlite", tmp_path / "graded"
    grade_class(class_dir, ASSIGNMENT, gradebook, out, progress=False)
    pairs, _ = compare_class(class_dir, ASSIGNMENT, gradebook)
    marked = {(p.a, p.b): p.same_wrong for p in pairs if p.same_wrong}
    assert ("eve", "fay") in marked and "a2.closed_form" in marked[("eve", "fay")]
    assert ("ann", "dan") not in marked  # both right: nothing wrong to share
    report = tmp_path / "report"
    code = main(
        ["similarity", "--class", str(class_dir), "--assignment", ASSIGNMENT, "--out", str(report)]
        + ["--gradebook", str(gradebook)]
    )
    assert code == 0
    page = (report / "similarity.html").read_text()
    first = re.search(r'<a href="#pair-1">(\w+) &amp; (\w+)</a>', page)
    assert first and (first[1], first[2]) in {("ann", "dan"), ("ben", "eve"), ("cat", "fay")}
    assert "<mark>" in page and "all_grads" in page  # highlighted, dan's own names shown


def test_a_student_cannot_write_the_pages_highlight_marks(tmp_path: Path) -> None:
    """The marks around copied code begin with a NUL; a comment holding "\\x00\\x00\\x01\\x01"
    once turned back into a mark after a one-pass strip (round 11), letting a student open
    or close the staff page's highlighting anywhere in their column."""
    from autograder.commands.similarity import END, START

    class_dir = tmp_path / "class"
    forged = ANN["closed_form"].replace('"""W*', '"""\x00\x00\x01\x01 W* \x00\x00\x02\x02')
    _student(class_dir / "ann", {**ANN, "closed_form": forged})
    _student(class_dir / "dan", RENAMED)
    (pair,), _ = compare_class(class_dir, ASSIGNMENT)
    assert pair.a == "ann" and "\x01\x01 W* \x02\x02" in pair.code_a  # the NULs left out
    for code in (pair.code_a, pair.code_b):
        assert code.count(START) == code.count(END) and code.count("\x00") == 2 * code.count(START)


def test_one_students_huge_answer_is_compared_only_in_part(tmp_path: Path) -> None:
    """Round 12: 4.85 M characters of answer code made the report take 22 s and 790 MB and
    a 9.8 MB page; only the first MAX_COMPARED_CHARS of anyone's code are compared now."""
    from autograder.commands.similarity import MAX_COMPARED_CHARS

    class_dir = tmp_path / "class"
    pad = "pad = 0\n" * (MAX_COMPARED_CHARS // (8 * len(ANN)) + 10)  # cells under intake's cap
    _student(class_dir / "ann", {name: code + "\n" + pad for name, code in ANN.items()})
    _student(class_dir / "dan", RENAMED)
    (pair,), notes = compare_class(class_dir, ASSIGNMENT)
    assert any("only the first 200,000 characters" in n and "ann" in n for n in notes)
    assert len(pair.code_a.replace("\x00\x01", "").replace("\x00\x02", "")) <= MAX_COMPARED_CHARS


def test_similarity_out_that_is_a_file_is_refused(tmp_path: Path, capsys) -> None:
    class_dir = tmp_path / "class"
    class_dir.mkdir()
    shutil.copyfile(BLANK, class_dir / "ann.ipynb")
    taken = tmp_path / "taken"
    taken.write_text("mine")
    code = main(
        ["similarity", "--class", str(class_dir), "--assignment", ASSIGNMENT, "--out", str(taken)]
    )
    assert code == 2
    assert f"--out {taken} is a file; expected a folder" in capsys.readouterr().err
