"""A small stand-in for IPython's shell: what a notebook's IPython syntax calls in the sandbox.

The grader reads IPython syntax with IPython's own input transformer before the job
(grading/statements.py), so `%matplotlib inline` arrives here as
`get_ipython().run_line_magic('matplotlib', 'inline')` and `!pip install tqdm` as
`get_ipython().system('pip install tqdm')`. The loader puts `get_ipython` (and IPython's
`display`) into the notebook's namespace. What the stand-in does:

- `%time`, `%%time`: run their code in the namespace and print the wall time;
  `%%capture [name]`: run the cell with its output captured (kept in `name`);
  `%%writefile [-a] FILE`: write the cell to FILE in the working folder, as IPython would;
- shell commands (`!cmd`, `x = !cmd`, `%sx`, `%%bash` ...) never run: `!cmd` gives None and
  `x = !cmd` an empty list of lines;
- every other magic does nothing (the grader's notes say which were met).

It touches nothing of the harness's world: output it captures is put back before it returns.
"""

from __future__ import annotations

import io
import os
import shlex
import sys
from typing import Any

from .determinism import student_perf_counter


class SList(list):
    """The empty result of `x = !cmd` (IPython's list of output lines)."""

    @property
    def s(self) -> str:
        return " ".join(self)

    @property
    def n(self) -> str:
        return "\n".join(self)

    @property
    def l(self) -> list:  # noqa: E743 (IPython's name)
        return list(self)

    def grep(self, *args: Any, **kwargs: Any) -> SList:
        return SList()

    def fields(self, *args: Any) -> SList:
        return SList()


class CapturedIO:
    """What `%%capture name` keeps: the cell's printed output."""

    def __init__(self, stdout: str, stderr: str) -> None:
        self.stdout, self.stderr, self.outputs = stdout, stderr, []

    def show(self) -> None:
        sys.stdout.write(self.stdout)
        sys.stderr.write(self.stderr)

    __call__ = show


class GraderShell:
    """get_ipython() inside the sandbox: magics by name, shell commands never run."""

    def __init__(self, namespace: dict[str, Any]) -> None:
        self.user_ns = namespace

    def __repr__(self) -> str:
        return "<the grader's stand-in for IPython: shell commands do not run>"

    # -- running code in the notebook's namespace
    def _run(self, code: str, name: str) -> Any:
        try:
            compiled = compile(code, f"<%{name}>", "eval", dont_inherit=True)
        except SyntaxError:
            exec(compile(code, f"<%{name}>", "exec", dont_inherit=True), self.user_ns)
            return None
        return eval(compiled, self.user_ns)

    def _timed(self, code: str, name: str) -> Any:
        started = student_perf_counter()  # the clock the notebook sees: the same each time
        try:
            return self._run(code, name)
        finally:
            print(f"Wall time: {1000 * (student_perf_counter() - started):.3g} ms")

    def _captured(self, line: str, cell: str) -> None:
        words = _words(line)
        name = next((w for w in words if not w.startswith("-")), None)
        out, err = io.StringIO(), io.StringIO()
        saved = sys.stdout, sys.stderr
        try:
            if "--no-stdout" not in words:
                sys.stdout = out
            if "--no-stderr" not in words:
                sys.stderr = err
            self._run(cell, "%capture")
        finally:
            sys.stdout, sys.stderr = saved
            if name and name.isidentifier():
                self.user_ns[name] = CapturedIO(out.getvalue(), err.getvalue())

    # -- IPython's API, as the transformed code calls it
    def run_line_magic(self, magic_name: str, line: str, _stack_depth: int = 1) -> Any:
        if magic_name == "time":
            return self._timed(line, magic_name)
        if magic_name == "sx":
            return SList()
        return None

    def run_cell_magic(self, magic_name: str, line: str, cell: str) -> Any:
        if magic_name == "time":
            return self._timed(cell, magic_name)
        if magic_name == "capture":
            return self._captured(line, cell)
        if magic_name in ("writefile", "file"):
            return _write_file(line, cell)
        return None

    def magic(self, arg_s: str) -> Any:
        name, _, line = arg_s.lstrip("%").partition(" ")
        return self.run_line_magic(name, line)

    def system(self, cmd: str) -> None:
        return None

    def getoutput(self, cmd: str, split: bool = True, depth: int = 0) -> Any:
        return SList() if split else ""

    def run_cell(self, raw_cell: str, *args: Any, **kwargs: Any) -> None:
        return None

    def ev(self, expr: str) -> Any:
        return eval(expr, self.user_ns)

    def ex(self, cmd: str) -> None:
        exec(cmd, self.user_ns)

    def push(self, variables: dict[str, Any], interactive: bool = True) -> None:
        if isinstance(variables, dict):
            self.user_ns.update(variables)


def _words(line: str) -> list[str]:
    try:
        return shlex.split(line)
    except ValueError:
        return line.split()


def _write_file(line: str, cell: str) -> None:
    """%%writefile [-a|--append] FILE: the cell's text into FILE (the working folder)."""
    words = _words(line)
    append = any(w in ("-a", "--append") for w in words)
    names = [w for w in words if not w.startswith("-")]
    if not names:
        raise ValueError("%%writefile needs a file name")
    path = os.path.expanduser(names[0])
    with open(path, "a" if append else "w", encoding="utf-8") as fh:
        fh.write(cell)
    print(f"{'Appending to' if append else 'Writing'} {names[0]}")


def display(*objs: Any, **kwargs: Any) -> None:
    """IPython's display() outside a notebook: the representation of each object."""
    for obj in objs:
        print(repr(obj))


def install(namespace: dict[str, Any]) -> None:
    """Give a notebook's namespace get_ipython() and display(), as an IPython kernel does."""
    shell = GraderShell(namespace)
    namespace["get_ipython"] = lambda: shell
    namespace["display"] = display
