"""Each bundle's requirements.txt: read off the imports of its rendered code (never a hand
list), optional imports as comments, and the prune-quantize data module that runs on its
digits without torchvision (which it needs only for CIFAR-10)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from autograder import plugin
from autograder.authoring.render import num, tex_set
from autograder.authoring.requirements import (
    RequirementsError,
    bundle_sources,
    distribution_of,
    imports_of,
    requirements_txt,
    third_party,
)

ROOT = Path(__file__).resolve().parents[1]
NAMES = plugin.names()


def _required(text: str) -> set[str]:
    """The distributions a requirements.txt installs (its lines that are not comments)."""
    lines = [line.partition("#")[0].strip() for line in text.splitlines()]
    return {line.partition(">=")[0] for line in lines if line}


def _optional(text: str) -> set[str]:
    lines = [line[2:].partition(" ")[0] for line in text.splitlines() if line.startswith("# ")]
    return {line.partition(">=")[0] for line in lines if ">=" in line}


def _bundle(folder: Path) -> dict[str, bytes]:
    """A committed bundle as the build makes it (test_build checks that they are fresh)."""
    return {p.name: p.read_bytes() for p in folder.iterdir() if p.is_file()}


def _notebook(cells: list[str]) -> bytes:
    return json.dumps(
        {"cells": [{"cell_type": "code", "source": c, "metadata": {}} for c in cells]}
    ).encode()


def test_required_optional_stdlib_and_local_imports_are_told_apart() -> None:
    files = {
        "nb.ipynb": _notebook(
            [
                "import os, json\nimport numpy as np\nfrom helper import thing\n",
                "%matplotlib inline\nimport matplotlib.pyplot as plt\n",
                "from . import sibling\nfrom __future__ import annotations\n",
            ]
        ),
        "helper.py": (
            b"import torch.nn as nn\n"
            b"try:\n    import tqdm\nexcept ImportError:\n    tqdm = None\n"
            b"def f():\n    from torchvision import datasets  # optional: only for CIFAR-10\n"
        ),
    }
    text = requirements_txt(files, "nb.ipynb")
    assert _required(text) == {"numpy", "matplotlib", "torch"}
    assert _optional(text) == {"tqdm", "torchvision"}
    assert "# torchvision>=" in text and "helper.py: only for CIFAR-10" in text
    for line in text.splitlines():  # every requirement has the installed version as its bound
        if line and not line.startswith("#"):
            name, _, version = line.partition(">=")
            import importlib.metadata

            assert version == importlib.metadata.version(name).partition("+")[0], line


def test_an_import_that_is_required_anywhere_is_required() -> None:
    files = {
        "nb.ipynb": _notebook(["def plot():\n    import matplotlib\n", "import matplotlib\n"]),
        "x.py": b"try:\n    import matplotlib\nexcept Exception:\n    pass\n",
    }
    text = requirements_txt(files, "nb.ipynb")
    assert _required(text) == {"matplotlib"} and _optional(text) == set()


def test_imports_inside_a_function_without_a_guard_are_required() -> None:
    found = imports_of("def f():\n    import numpy\n", "cell")
    assert [(i.module, i.optional) for i in found] == [("numpy", False)]
    guarded = imports_of("try:\n    import numpy\nexcept (OSError, ImportError):\n    pass\n", "c")
    assert [(i.module, i.optional) for i in guarded] == [("numpy", True)]
    not_guarded = imports_of("try:\n    import numpy\nexcept OSError:\n    pass\n", "c")
    assert [(i.module, i.optional) for i in not_guarded] == [("numpy", False)]


def test_a_module_no_distribution_provides_is_a_clear_error() -> None:
    files = {"nb.ipynb": _notebook(["import numpy\n", "import no_such_module_anywhere\n"])}
    with pytest.raises(
        RequirementsError,
        match=r"nb.ipynb cell 1, line 1 imports "
        r"'no_such_module_anywhere'",
    ):
        requirements_txt(files, "nb.ipynb")
    with pytest.raises(RequirementsError, match="no installed distribution"):
        distribution_of("no_such_module_anywhere", "here")


def test_code_that_is_not_python_is_named() -> None:
    with pytest.raises(RequirementsError, match="cell 3: not Python"):
        imports_of("def f(:\n", "cell 3")


@pytest.mark.parametrize("name", NAMES)
def test_the_student_bundle_requires_all_its_solution_imports(name: str) -> None:
    """Correct code runs where the student bundle's file was installed: the solution bundle's
    code needs nothing more (the grader runs the students' code as the solution's)."""
    student, solution = _bundle(ROOT / "assignments" / name), _bundle(ROOT / "solutions" / name)
    notebook = plugin.get(name).notebook
    assert _required(requirements_txt(solution, notebook)) <= _required(
        student["requirements.txt"].decode()
    )
    # and nothing a bundle imports at top level is missing from its file
    local = {rel[:-3] for rel in student if rel.endswith(".py")}
    imports = third_party(
        [i for w, c in bundle_sources(student, notebook) for i in imports_of(c, w)], local
    )
    required = _required(student["requirements.txt"].decode())
    for item in imports:
        if not item.optional:
            assert distribution_of(item.module, item.where).lower() in required, item


@pytest.mark.parametrize("kind", ["assignments", "solutions"])
@pytest.mark.parametrize("name", NAMES)
def test_every_bundle_ships_its_requirements(kind: str, name: str) -> None:
    text = (ROOT / kind / name / "requirements.txt").read_text()
    assert _required(text), text
    assert "effdl" not in text.lower().replace("effdl_", "")


def test_prune_quantize_needs_torchvision_only_for_cifar10() -> None:
    text = (ROOT / "assignments" / "prune-quantize" / "requirements.txt").read_text()
    assert "torchvision" not in _required(text) and "torchvision" in _optional(text)


BLOCKED = r"""
import importlib.abc, os, sys
class Block(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.partition(".")[0] == "torchvision":
            raise ModuleNotFoundError("No module named 'torchvision'", name="torchvision")
sys.meta_path.insert(0, Block())
sys.path.insert(0, os.getcwd())
import data_utils
train, test = data_utils.load_digits_npz("digits.npz")
print("digits", len(train), len(test))
try:
    data_utils.cifar10_datasets("no-such-folder")
except data_utils.CIFARNotFoundError:
    print("missing folder: CIFARNotFoundError")
root = sys.argv[1]
os.makedirs(os.path.join(root, data_utils.CIFAR_FOLDER))
for name in data_utils.CIFAR_FILES:
    open(os.path.join(root, data_utils.CIFAR_FOLDER, name), "w").close()
try:
    data_utils.cifar10_datasets(root)
except ImportError as exc:
    print("present folder:", exc)
print("torchvision" in sys.modules)
"""


def test_the_data_module_runs_on_the_digits_without_torchvision(tmp_path: Path) -> None:
    folder = tmp_path / "bundle"  # a copy: importing writes __pycache__ beside the module
    shutil.copytree(ROOT / "assignments" / "prune-quantize", folder)
    proc = subprocess.run(
        [sys.executable, "-c", BLOCKED, str(tmp_path / "cifar")],
        cwd=folder,
        capture_output=True,
        text=True,
        timeout=120,
        env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)},
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    lines = proc.stdout.splitlines()
    assert lines[0] == "digits 1437 360"
    assert lines[1] == "missing folder: CIFARNotFoundError"
    assert lines[2].startswith("present folder:") and "pip install torchvision" in lines[2]
    assert lines[3] == "False"


def test_num_and_tex_set_write_numbers_as_text() -> None:
    assert [num(x) for x in (1, 2.0, 0.1 / 0.02, 0.004, 1e-7)] == ["1", "2", "5", "0.004", "1e-07"]
    assert tex_set([1, 2, 5, 10]) == r"\{1, 2, 5, 10\}"
    with pytest.raises(TypeError):
        num("1")
