"""Render an assignment's templates into a student bundle and a solution bundle.

autograder/plugins/<package>/templates/
  notebook.ipynb.j2   the notebook, cells separated by `# %% <role>` lines (see notebook.py)
  *.py.j2             support files (rendered the same way as the notebook, per mode)
  rubric.md.j2        the rubric of the hand-graded parts (solution bundle only)
  files/              data and checkpoints copied as they are into both bundles

Each bundle also gets a requirements.txt made from its own code's imports (requirements.py).

Inside templates, `answer("module:function")` gives effdl's source in the solution and a
skeleton in the student bundle; `given("module:name")` gives source to both; `expect(...)`
evaluates effdl at build time (for the public checks' expected values); `lit(x)` writes a
value as a Python literal; `num(x)` a number for text and formulas, `tex_set(xs)` a set of
numbers as a TeX formula's `\\{a, b\\}`; `v` holds the variant's numbers.
"""

from __future__ import annotations

import hashlib
import importlib
import inspect
import json
import textwrap
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jinja2
import numpy as np

from autograder import plugin
from autograder.authoring.notebook import make_notebook, notebook_bytes, split_cells
from autograder.authoring.requirements import RequirementsError, requirements_txt
from autograder.authoring.source import module_parts, resolve, skeleton_source, solution_source
from effdl import __version__

MANIFEST = ".effdl-build.json"


class BuildError(Exception):
    """The build cannot proceed without losing or overwriting something the user made."""


def lit(value: Any) -> str:
    """A Python literal for numbers, lists, arrays and dicts (floats as shortest repr)."""
    if isinstance(value, np.ndarray):
        value = value.tolist()
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float):
        return repr(float(value)) if value != int(value) or abs(value) > 1e15 else f"{value:.1f}"
    if isinstance(value, bool | int | str) or value is None:
        return repr(value)
    if isinstance(value, tuple):
        inner = ", ".join(lit(v) for v in value)
        return f"({inner},)" if len(value) == 1 else f"({inner})"
    if isinstance(value, list):
        return "[" + ", ".join(lit(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{lit(k)}: {lit(v)}" for k, v in value.items()) + "}"
    raise TypeError(f"lit() cannot write a {type(value).__name__}")


def num(value: Any) -> str:
    """A number as prose and formulas write it: whole numbers without ".0", others with up to
    10 significant digits (so 0.1 / 0.02 is 5, not 5.000000000000001)."""
    if isinstance(value, bool) or not isinstance(value, int | float | np.number):
        raise TypeError(f"num() writes numbers, not a {type(value).__name__}")
    if isinstance(value, int | np.integer):
        return str(int(value))
    return f"{float(value):.10g}"


def tex_set(values: Any) -> str:
    """A set of numbers as TeX: `\\{1, 2, 5\\}` (both braces escaped, as a formula needs)."""
    return r"\{" + ", ".join(num(x) for x in np.asarray(values).ravel().tolist()) + r"\}"


def _helpers(module_name: str) -> str:
    """The private helper functions of an effdl module, in source order, as given code."""
    module = importlib.import_module(module_name)
    fns = [
        fn
        for name, fn in vars(module).items()
        if inspect.isfunction(fn) and name.startswith("_") and fn.__module__ == module_name
    ]
    fns.sort(key=lambda fn: fn.__code__.co_firstlineno)
    return "\n\n\n".join(textwrap.dedent(inspect.getsource(fn)).rstrip() for fn in fns) + "\n"


@dataclass(frozen=True)
class Rendered:
    """A bundle in memory: relative path -> bytes."""

    files: dict[str, bytes]


def _environment(name: str) -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(plugin.get(name).templates_dir),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
        autoescape=False,
    )


def _context(name: str, variant: dict[str, Any], solution: bool) -> dict[str, Any]:
    def answer(qualname: str, methods: tuple[str, ...] = ()) -> str:
        if solution:
            return solution_source(qualname).rstrip()
        return skeleton_source(qualname, tuple(methods)).rstrip()

    def expect(qualname: str, *args: Any, **kwargs: Any) -> str:
        return lit(resolve(qualname)(*args, **kwargs))

    def call(qualname: str, *args: Any, **kwargs: Any) -> Any:
        return resolve(qualname)(*args, **kwargs)

    globals_of = plugin.get(name).template_globals
    extra = globals_of() if globals_of is not None else {}
    return {
        **extra,
        "v": variant,
        "solution": solution,
        "assignment": name,
        "version": __version__,
        "answer": answer,
        "given": lambda q: solution_source(q).rstrip(),
        "helpers": lambda m: _helpers(m).rstrip(),
        "standalone": lambda m: module_parts(m, importlib.import_module(m).STANDALONE).rstrip(),
        "parts": lambda m, names: module_parts(m, names).rstrip(),
        "expect": expect,
        "call": call,
        "lit": lit,
        "num": num,
        "tex_set": tex_set,
        "np": np,
    }


def render_bundle(name: str, variant: dict[str, Any], solution: bool) -> Rendered:
    """Every file of the student (or solution) bundle of an assignment variant."""
    folder = plugin.get(name).templates_dir
    if not folder.is_dir():
        raise BuildError(f"no templates for {name!r} in {folder}")
    env = _environment(name)
    ctx = _context(name, variant, solution)
    files: dict[str, bytes] = {}
    text = env.get_template("notebook.ipynb.j2").render(**ctx)
    metadata = {
        "effdl": {"assignment": name, "variant": variant["variant"], "version": __version__}
    }
    where = f"{folder.relative_to(plugin.REPO)}/notebook.ipynb.j2"
    nb = make_notebook(split_cells(text, where), name, metadata)
    files[f"{name}.ipynb"] = notebook_bytes(nb)
    for template in sorted(folder.glob("*.py.j2")):
        files[template.name[: -len(".j2")]] = env.get_template(template.name).render(**ctx).encode()
    for path in sorted((folder / "files").glob("*")) if (folder / "files").is_dir() else []:
        if path.is_file():
            files[path.name] = path.read_bytes()
    try:
        files["requirements.txt"] = requirements_txt(files, f"{name}.ipynb").encode()
    except RequirementsError as exc:
        raise BuildError(f"{name}: {exc}") from None
    if solution:
        key = _stable(answer_key(name, variant))
        files["answer_key.json"] = (json.dumps(key, indent=2) + "\n").encode()
        if (folder / "rubric.md.j2").is_file():
            files["rubric.md"] = env.get_template("rubric.md.j2").render(**ctx).encode()
    return Rendered(files)


def _stable(value: Any) -> Any:
    """The answer key with its floats rounded to what every platform computes alike: 10
    significant digits, and values below 1e-6 (residual losses of a converged run) to 9
    decimals. The last bits of a float depend on the numpy version and the BLAS, and the
    committed key must equal a fresh build anywhere."""
    if isinstance(value, float):
        return round(value, 9) if abs(value) < 1e-6 else float(f"{value:.10g}")
    if isinstance(value, dict):
        return {k: _stable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_stable(v) for v in value]
    return value


def answer_key(name: str, variant: dict[str, Any]) -> dict[str, Any]:
    """answer_key.json of the solution bundle (the plug-in's answer-key function)."""
    return plugin.get(name).answer_key(variant)


def _digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def write_bundle(bundle: Rendered, folder: Path, force: bool = False) -> list[str]:
    """Write a bundle into `folder`, never losing a file a person changed or added.

    A manifest in the folder records what the last build wrote. A file the build wrote and
    someone changed since is not overwritten (BuildError) unless `force`; files the build did
    not write are left alone and reported. Returns notes for the user.
    """
    notes: list[str] = []
    folder.mkdir(parents=True, exist_ok=True)
    manifest_path = folder / MANIFEST
    previous: dict[str, str] = {}
    if manifest_path.is_file():
        previous = json.loads(manifest_path.read_text()).get("files", {})
    changed_by_hand = []
    for rel in bundle.files:
        target = folder / rel
        if target.is_file() and rel in previous and _digest(target.read_bytes()) != previous[rel]:
            if target.read_bytes() != bundle.files[rel]:
                changed_by_hand.append(rel)
        elif target.exists() and rel not in previous and target.read_bytes() != bundle.files[rel]:
            changed_by_hand.append(rel)
    if changed_by_hand and not force:
        raise BuildError(
            f"{folder}: {', '.join(sorted(changed_by_hand))} changed since the last build (or "
            "were not made by it); move them away or rebuild with --force to overwrite them"
        )
    for rel, data in bundle.files.items():
        target = folder / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        if not target.is_file() or target.read_bytes() != data:
            tmp = target.with_name(f".{target.name}.tmp")
            tmp.write_bytes(data)
            tmp.replace(target)
    for rel in sorted(set(previous) - set(bundle.files)):
        stale = folder / rel
        if stale.is_file() and _digest(stale.read_bytes()) == previous[rel]:
            stale.unlink()
            notes.append(f"removed {stale} (no longer part of the bundle)")
    extra = sorted(
        p.relative_to(folder).as_posix()
        for p in folder.rglob("*")
        if p.is_file()
        and p.name != MANIFEST
        and p.relative_to(folder).as_posix() not in bundle.files
    )
    if extra:
        notes.append(f"{folder}: left alone files the build does not make: {', '.join(extra[:5])}")
    manifest = {"files": {rel: _digest(data) for rel, data in sorted(bundle.files.items())}}
    manifest_path.write_text(json.dumps(manifest, indent=1, sort_keys=True) + "\n")
    return notes
