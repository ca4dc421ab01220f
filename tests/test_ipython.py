"""IPython syntax in notebooks: read by IPython's own transformer on the grader's side, run by
the harness's stand-in for get_ipython() in the sandbox, and never a reason to lose points."""

from __future__ import annotations

import contextlib
import io
import json
import shutil
import time
from pathlib import Path

import pytest

from autograder import plugin, sandbox
from autograder.checking.spec import Call
from autograder.course.settings import Course
from autograder.grading.grade import grade_submission
from autograder.grading.job import write_job
from autograder.grading.outputs import read_output
from autograder.grading.statements import IPythonBudget, split_statements
from autograder.sandbox.harness import ipython

ASSIGNMENT = "distributed-sparse"
# The course's starter prints progress with a % format whose operator begins the next line.
WRAPPED_PRINT = """def progress(step, total, loss):
    print('[%d, %5d] loss: %.3f'
          % (step, total, loss))
    return step
"""


def _cells(*sources: tuple[str | None, str]) -> list[dict]:
    return [{"index": i, "role": role, "source": text} for i, (role, text) in enumerate(sources)]


def _codes(cells: list[dict]) -> list[str]:
    return [s["code"] for s in split_statements(cells)[0]]


def test_a_percent_format_continued_on_the_next_line_is_python() -> None:
    codes = _codes(
        _cells(("answer", WRAPPED_PRINT), ("answer", "%matplotlib inline\n" + WRAPPED_PRINT))
    )
    assert codes.count(WRAPPED_PRINT.rstrip("\n")) == 2
    assert "get_ipython().run_line_magic('matplotlib', 'inline')" in codes


def test_ipython_lines_become_what_ipython_makes_of_them() -> None:
    source = (
        "!pip install tqdm\n"
        "files = !ls\n"
        "np.zeros?\n"
        "%load_ext autoreload\n"
        "%autoreload 2\n"
        "for name in ['a']:\n"
        "    !echo {name}\n"
        "x = 1\n"
    )
    statements, notes = split_statements(_cells(("answer", source)))
    assert [s["code"] for s in statements] == [
        "get_ipython().system('pip install tqdm')",
        "files = get_ipython().getoutput('ls')",
        "get_ipython().run_line_magic('pinfo', 'np.zeros')",
        "get_ipython().run_line_magic('load_ext', 'autoreload')",
        "get_ipython().run_line_magic('autoreload', '2')",
        "for name in ['a']:\n    get_ipython().system('echo {name}')",
        "x = 1",
    ]
    assert [s["line"] for s in statements] == [1, 2, 3, 4, 5, 6, 8]
    assert sum("was not run" in n for n in notes) == 3  # the three shell commands, no others
    assert any("!pip install tqdm was not run" in n for n in notes)


def test_timed_and_captured_cells_run_their_body_statement_by_statement() -> None:
    timed = "\n%%time\nimport math\nfor i in range(3):\n    pass\ndef f():\n    return 1\n"
    captured = "%%capture out\nprint('quiet')\ny = 2\n"
    statements, notes = split_statements(
        _cells((None, timed), ("answer", captured), ("answer", "%time z = f()\n"))
    )
    assert [(s["cell"], s["line"], s["code"]) for s in statements] == [
        (0, 3, "import math"),
        (0, 6, "def f():\n    return 1"),  # untagged: the loop is left out, as before
        (1, 1, "get_ipython().run_cell_magic('capture', 'out', '')"),
        (1, 2, "print('quiet')"),
        (1, 3, "y = 2"),
        (2, 1, "z = f()"),
    ]
    assert not notes


def test_a_writefile_cell_runs_without_a_tag() -> None:
    """A student's own new cell has no tag: its %%writefile still defines the module that a
    later cell imports (and its other magics still do not run)."""
    statements, _ = split_statements(
        _cells((None, "%%writefile helper.py\nVALUE = 1\n"), (None, "%%bash\nls\n"))
    )
    assert [s["code"] for s in statements] == [
        "get_ipython().run_cell_magic('writefile', 'helper.py', 'VALUE = 1\\n')"
    ]


def test_other_cell_magics_do_not_run_and_are_named() -> None:
    statements, notes = split_statements(_cells(("answer", "%%bash\nrm -rf ~\n")))
    assert [s["code"] for s in statements] == [
        "get_ipython().run_cell_magic('bash', '', 'rm -rf ~\\n')"
    ]
    assert notes == ["cell 0, line 1: the cell magic %%bash was not run by the grader"]


def test_plain_python_is_left_exactly_as_written() -> None:
    """Cells that parse as Python never go through IPython (which drops leading blank lines
    and would move line numbers)."""
    source = "\n\nx = 5 \\\n    % 3\ny = '%d' % x\n"
    statements, _ = split_statements(_cells(("answer", source)))
    assert [(s["line"], s["code"]) for s in statements] == [
        (3, "x = 5 \\\n    % 3"),
        (5, "y = '%d' % x"),
    ]


def test_syntax_errors_are_still_reported() -> None:
    _, notes = split_statements(_cells(("answer", "%matplotlib inline\ndef broken(:\n")))
    assert notes and "syntax error" in notes[0]


def test_the_stand_in_runs_timed_code_and_never_a_shell(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    namespace: dict = {"__builtins__": __builtins__}
    ipython.install(namespace)
    shell = namespace["get_ipython"]()
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        assert shell.run_line_magic("time", "a = 2 + 3") is None
        assert shell.run_line_magic("time", "a * 10") == 50
        shell.run_cell_magic("time", "", "def twice(v):\n    return 2 * v\n")
        assert shell.system(f"touch {tmp_path / 'ran'}") is None
        listing = shell.getoutput("ls")
        shell.run_cell_magic("bash", "", f"touch {tmp_path / 'ran'}\n")
        shell.run_cell_magic("writefile", "helper.py", "VALUE = 7\n")
        shell.run_cell_magic("writefile", "-a helper.py", "OTHER = 8\n")
        shell.run_line_magic("matplotlib", "inline")
    assert namespace["a"] == 5 and namespace["twice"](4) == 8
    assert printed.getvalue().count("Wall time") == 3
    assert listing == [] and listing.n == "" and not (tmp_path / "ran").exists()
    assert (tmp_path / "helper.py").read_text() == "VALUE = 7\nOTHER = 8\n"
    stdout, stderr = __import__("sys").stdout, __import__("sys").stderr
    shell.run_cell_magic("capture", "cap", "print('inside')\nb = 1\n")
    assert __import__("sys").stdout is stdout and __import__("sys").stderr is stderr
    assert namespace["cap"].stdout == "inside\n" and namespace["b"] == 1
    with pytest.raises(ZeroDivisionError):
        shell.run_cell_magic("capture", "", "1 / 0\n")
    assert __import__("sys").stdout is stdout  # put back after an error too


needs_sandbox = pytest.mark.skipif(
    sandbox.backend()[0] != "bwrap", reason="bubblewrap is not usable here"
)


@needs_sandbox
def test_ipython_syntax_runs_in_the_sandbox(tmp_path: Path) -> None:
    sentinel = tmp_path / "host" / "shell-ran"
    sentinel.parent.mkdir()
    cells = _cells(
        ("answer", f"%matplotlib inline\n!touch {sentinel}\nimport numpy as np\n" + WRAPPED_PRINT),
        (None, "%%time\nlisting = !ls\ndef count():\n    return len(listing), listing.s\n"),
        ("answer", "%%writefile helper_mod.py\nVALUE = 41\n"),
        ("answer", "import helper_mod\nanswer = %time helper_mod.VALUE + 1\ndisplay(answer)\n"),
    )
    statements, _ = split_statements(cells)
    job, work, out = tmp_path / "job", tmp_path / "work", tmp_path / "out"
    for d in (job, work, out):
        d.mkdir()
    calls = [
        Call("p", "progress", args=(1, 2, 0.5)),
        Call("c", "count"),
        Call("v", "answer", mode="value"),
    ]
    write_job(job, plugin.get(ASSIGNMENT), statements, calls)
    run = sandbox.run_harness(job, work, out, sandbox.Limits())
    output = read_output(run.channel, len(calls))
    assert [c.status for c in output.calls] == ["ok", "ok", "ok"], output.calls
    assert [c.value for c in output.calls] == [1, (0, ""), 42]
    assert not output.failed_statements and not sentinel.exists()
    assert "[1,     2] loss: 0.500" in output.stdout and "42" in output.stdout


def test_wrapped_progress_print_in_a_graded_function_keeps_its_points(tmp_path: Path) -> None:
    """train_sparse printing its progress the starter's way, in a cell that also holds
    `%matplotlib inline` and `!pip` lines: full marks (the regular expression that took any
    line starting with % for a magic broke the cell, and every A3 training check lost)."""
    folder = tmp_path / "student"
    shutil.copytree(plugin.get(ASSIGNMENT).solution_dir, folder)
    notebook = folder / f"{ASSIGNMENT}.ipynb"
    nb = json.loads(notebook.read_text(encoding="utf-8"))
    for cell in nb["cells"]:
        text = "".join(cell["source"])
        if cell["cell_type"] == "code" and text.startswith("def train_sparse("):
            body, _, last = text.rstrip().rpartition("\n")
            assert last.strip().startswith("return")
            cell["source"] = (
                "%matplotlib inline\n!pip install -q tqdm\n"
                + body
                + "\n    for k in range(0, len(L_hist), 100):\n"
                "        print('step %4d: loss %.3e'\n"
                "              % (k, L_hist[k]))\n" + last + "\n"
            )
            break
    else:
        raise AssertionError("no train_sparse cell")
    notebook.write_text(json.dumps(nb), encoding="utf-8")
    result = grade_submission(folder, ASSIGNMENT, Course(), student_id="wrapped")
    assert result.graded and result.lost == set(), [
        (c.id, c.message) for c in result.checks if c.lost
    ]
    assert "step  100: loss" in result.stdout


def test_a_cell_made_to_be_slow_for_ipython_costs_the_grader_a_bounded_read() -> None:
    """IPython tokenizes a cell again for each IPython line it rewrites: 600 shell lines in a
    62 KB cell took 83 s of the trusted side's time (round 11). The notebook's budget stops
    it; the cells after it, and small magic cells, are read as before."""
    costly = "!a\n" * 600 + "x = 1\n" * 10_000
    cells = _cells(
        ("answer", "%matplotlib inline\ndef before():\n    return 1\n"),
        (None, costly),
        ("answer", "def after():\n    return 2\n"),
    )
    started = time.monotonic()
    statements, notes = split_statements(cells)
    took = time.monotonic() - started
    codes = [s["code"] for s in statements]
    assert any("def before" in c for c in codes) and any("def after" in c for c in codes)
    assert not any("x = 1" in c for c in codes)
    assert any(n.startswith("cell 1: its IPython syntax was not converted") for n in notes)
    assert took < 20, f"reading the notebook took {took:.1f} s"  # the budget is about 2 s here
    budget = IPythonBudget(chars=10)  # a budget is per notebook: spent, it stays spent
    split_statements(_cells(("answer", "!ls\nx = 1\n")), budget)
    _, later = split_statements(_cells(("answer", "!ls\ny = 2\n")), budget)
    assert any("not converted" in n for n in later)
