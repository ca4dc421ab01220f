"""What a graded call must return, declared on its Call and read once by the framework.

Every value from the sandbox is untrusted data. Before any check sees it, the framework
reads it against the call's `returns` spec (kind, shape, dtype, size): what passes becomes
plain trusted values (float64 arrays of the declared shape, floats, strings, bools, and
tuples, lists and dicts of those); what does not becomes that call's failure, with a plain
message naming what was expected and what came. A check therefore never meets a ragged
list, an object, a vector where a number belongs or an array of the wrong size.

    Call("a2.closed_form.own", "closed_form", (X, y), returns=Array((3,)))
    Call("a3.lg.w", "loss_and_grad", (W, X, y), returns=Tuple(Number(), Array((5,)),
                                                               names=("L", "grad")))

A spec's `read(value, where)` returns the trusted value or raises CheckFailure; `expects()`
says in words what it accepts. With `repeat=N` the spec describes one call's value and the
framework expects a list of N of them.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from autograder.checking.verdict import CheckFailure
from autograder.sandbox.harness.codec import Unsupported

NUMERIC_KINDS = "biuf"  # bool, signed and unsigned integers, floats (never complex)
MAX_ARRAY_SIZE = 2_000_000  # entries of one returned array a spec with free dimensions takes
MAX_TEXT = 4000  # characters of a returned string kept for messages


class Spec:
    """A declared return value: read() turns untrusted data into trusted values or fails."""

    def read(self, value: Any, where: str) -> Any:  # pragma: no cover - interface
        raise NotImplementedError

    def expects(self) -> str:  # pragma: no cover - interface
        raise NotImplementedError


def kind_of(value: Any) -> str:
    """A short description of an untrusted value's kind and size (never its full content)."""
    if value is None:
        return "None"
    if isinstance(value, bool):
        return f"the bool {value}"
    if isinstance(value, int | float):
        return f"the single number {value:.6g}" if math.isfinite(value) else f"the number {value}"
    if isinstance(value, str):
        return f"a string of {len(value)} characters"
    if isinstance(value, Unsupported):
        return f"an object of type {value.type_name} (not numbers or an array)"
    if isinstance(value, np.ndarray):
        if value.ndim == 0:
            return f"a {value.dtype} array holding one number"
        return f"a {value.dtype} array of shape {value.shape}"
    if isinstance(value, list | tuple):
        name = type(value).__name__
        if not value:
            return f"an empty {name}"
        kinds = {_item_kind(v) for v in value[:1000]}
        if len(kinds) == 1:
            return f"a {name} of {len(value)} {kinds.pop()}"
        return f"a {name} of {len(value)} items of different kinds or sizes"
    if isinstance(value, dict):
        keys = ", ".join(repr(k)[:30] for k in list(value)[:6])
        more = ", ..." if len(value) > 6 else ""
        return f"a dict with keys [{keys}{more}]"
    return type(value).__name__


def _item_kind(value: Any) -> str:
    if isinstance(value, bool | int | float):
        return "numbers"
    if isinstance(value, np.ndarray):
        return f"arrays of shape {value.shape}"
    if isinstance(value, list | tuple):
        return f"{type(value).__name__}s of length {len(value)}"
    return f"{kind_of(value)} items"


def _fail(where: str, expected: str, value: Any, note: str = "") -> CheckFailure:
    return CheckFailure(f"{where}: expected {expected}, got {kind_of(value)}.{note}")


def _not_numbers(where: str, expected: str, value: Any, kind: str) -> CheckFailure:
    detail = kind_of(value)
    shown = kind if detail.startswith(("an object", kind)) else f"{kind} ({detail})"
    return CheckFailure(f"{where}: expected numbers, got {shown}; it should be {expected}.")


def as_numbers(value: Any, where: str, expected: str) -> np.ndarray:
    """`value` as a float64 array, or a failure naming what came instead."""
    if isinstance(value, Unsupported):
        raise _not_numbers(where, expected, value, kind_of(value))
    if value is None:
        raise _not_numbers(where, expected, value, "None")
    if isinstance(value, str | dict):
        raise _not_numbers(where, expected, value, type(value).__name__)
    if isinstance(value, np.ndarray):
        array = value
    else:
        try:
            array = np.asarray(value)
        except (ValueError, TypeError, OverflowError, RecursionError):
            note = " Its items differ in length (a ragged list)."
            raise _fail(where, expected, value, note) from None
    if array.dtype.kind == "c":
        raise _fail(where, expected, value, " Complex numbers are not accepted.")
    if array.dtype.kind not in NUMERIC_KINDS:
        raise _not_numbers(where, expected, value, f"values of kind {array.dtype}")
    with np.errstate(all="ignore"):
        return array.astype(np.float64)


def fit_shape(array: np.ndarray, shape: tuple[int | None, ...]) -> np.ndarray | None:
    """`array` in `shape` (None: any length), accepting vectors stored as columns or rows:
    (d, 1) or (1, d) for (d,), (n, d, 1) for (n, d), one number as (1,) or (1, 1) for ().
    None when it does not fit."""

    def fits(a: np.ndarray) -> bool:
        return a.ndim == len(shape) and all(s is None or s == n for s, n in zip(shape, a.shape))

    if fits(array):
        return array
    if array.ndim == len(shape) + 1 and array.shape[-1] == 1 and fits(array[..., 0]):
        return array[..., 0]
    if array.ndim == len(shape) + 1 and len(shape) >= 1 and array.shape[-2] == 1:
        squeezed = array.reshape(array.shape[:-2] + array.shape[-1:])
        if fits(squeezed):
            return squeezed
    if array.size == 1 and not shape:
        return array.reshape(())
    if None not in shape and array.size == math.prod(shape) and 1 in array.shape:
        squeezed = np.squeeze(array)
        if fits(squeezed):
            return squeezed
    return None


def shape_words(shape: tuple[int | None, ...]) -> str:
    return (
        "("
        + ", ".join("any" if s is None else str(s) for s in shape)
        + ("," if len(shape) == 1 else "")
        + ")"
    )


@dataclass(frozen=True)
class Array(Spec):
    """Numbers of this shape (None: any length along that axis), as a float64 array.

    Lists, tuples, numpy arrays of any real dtype and tensors (already arrays) pass; a
    column or row where a vector belongs is reshaped. `whole`: every entry must be a whole
    number (indices, counts). NaN and inf pass: the comparison reports them where they are.
    """

    shape: tuple[int | None, ...]
    whole: bool = False
    max_size: int = MAX_ARRAY_SIZE

    def expects(self) -> str:
        if not self.shape:
            return "a single number"
        kind = "whole numbers" if self.whole else "numbers"
        return f"{kind} in an array of shape {shape_words(self.shape)}"

    def read(self, value: Any, where: str) -> np.ndarray:
        array = as_numbers(value, where, self.expects())
        if array.size > self.max_size:
            raise _fail(where, self.expects(), value, f" It has more than {self.max_size} entries.")
        fitted = fit_shape(array, self.shape)
        if fitted is None:
            shown = value if isinstance(value, int | float) else array
            raise _fail(where, self.expects(), shown, _shape_note(array, self.shape))
        if self.whole:
            with np.errstate(invalid="ignore"):
                bad = ~(np.isfinite(fitted) & (fitted == np.round(fitted)))
            if bad.any():
                i = tuple(int(k) for k in np.argwhere(bad)[0])
                raise CheckFailure(
                    f"{where}: expected whole numbers, but entry {list(i)} is {fitted[i]:.6g}."
                )
        return np.array(fitted, dtype=np.float64)


def _shape_note(array: np.ndarray, shape: tuple[int | None, ...]) -> str:
    """What the wrong shape is, in words that name no cause."""
    if not shape:
        return " An array where a single number belongs."
    if array.ndim == len(shape) + 1 and array.shape[-1] == array.shape[-2]:
        return (
            " A square matrix where a vector belongs is the shape that (d,) and (d, 1) arrays"
            " broadcast together give."
        )
    if array.ndim == len(shape) + 1 and fit_shape(array[..., 0], shape) is not None:
        return (
            f" It has an extra dimension of size {array.shape[-1]}: the shape that a (d,) and"
            " an (n, 1) array broadcast together give."
        )
    if array.size == 1:
        return " A single number where an array belongs."
    return ""


@dataclass(frozen=True)
class Number(Spec):
    """One real number (an int, a float, or an array or list holding exactly one), as a float."""

    def expects(self) -> str:
        return "a single number"

    def read(self, value: Any, where: str) -> float:
        if isinstance(value, int | float):  # bool is an int: True counts as 1
            return float(value)
        return float(Array(()).read(value, where))


@dataclass(frozen=True)
class Text(Spec):
    """A string (cut to `max_length` characters)."""

    max_length: int = MAX_TEXT

    def expects(self) -> str:
        return "a string"

    def read(self, value: Any, where: str) -> str:
        if not isinstance(value, str):
            raise _fail(where, self.expects(), value)
        return value[: self.max_length]


@dataclass(frozen=True)
class Flag(Spec):
    """True or False (a Python or numpy bool)."""

    def expects(self) -> str:
        return "True or False"

    def read(self, value: Any, where: str) -> bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, np.ndarray) and value.dtype.kind == "b" and value.size == 1:
            return bool(value.reshape(-1)[0])
        raise _fail(where, self.expects(), value)


@dataclass(frozen=True)
class Nothing(Spec):
    """None."""

    def expects(self) -> str:
        return "None"

    def read(self, value: Any, where: str) -> None:
        if value is not None:
            raise _fail(where, self.expects(), value)


@dataclass(frozen=True)
class OneOf(Spec):
    """The first of several specs that reads the value (e.g. a vector, or a number that a
    check explains as a collapsed vector)."""

    options: tuple[Spec, ...]

    def expects(self) -> str:
        return " or ".join(o.expects() for o in self.options)

    def read(self, value: Any, where: str) -> Any:
        first: CheckFailure | None = None
        for option in self.options:
            try:
                return option.read(value, where)
            except CheckFailure as failure:
                first = first or failure
        assert first is not None
        raise first


def Optional(spec: Spec) -> OneOf:  # noqa: N802 - reads as a type
    """`spec`, or None."""
    return OneOf((spec, Nothing()))


@dataclass(frozen=True)
class Tuple(Spec):
    """A tuple (or list) of exactly these items, read one by one; `names` label them."""

    items: tuple[Spec, ...]
    names: tuple[str, ...] = ()

    def __init__(self, *items: Spec, names: Sequence[str] = ()) -> None:
        object.__setattr__(self, "items", tuple(items))
        object.__setattr__(self, "names", tuple(names))

    def expects(self) -> str:
        labels = self.names or tuple(f"item {i}" for i in range(len(self.items)))
        return f"a tuple of {len(self.items)} values ({', '.join(labels)})"

    def read(self, value: Any, where: str) -> tuple[Any, ...]:
        if not isinstance(value, tuple | list) or len(value) != len(self.items):
            raise _fail(where, self.expects(), value)
        labels = self.names or tuple(f"item {i}" for i in range(len(self.items)))
        return tuple(
            spec.read(item, f"{where}, {label}")
            for spec, item, label in zip(self.items, value, labels, strict=True)
        )


@dataclass(frozen=True)
class ListOf(Spec):
    """A list (or tuple) of `length` items (None: up to `max_length`), each read by `item`."""

    item: Spec
    length: int | None = None
    max_length: int = 100_000
    label: str = "item"

    def expects(self) -> str:
        count = f"{self.length} " if self.length is not None else ""
        return f"a list of {count}values, each {self.item.expects()}"

    def read(self, value: Any, where: str) -> list[Any]:
        if not isinstance(value, list | tuple):
            raise _fail(where, self.expects(), value)
        if self.length is not None and len(value) != self.length:
            raise _fail(where, self.expects(), value)
        if len(value) > self.max_length:
            raise _fail(where, self.expects(), value, f" At most {self.max_length} are read.")
        return [self.item.read(v, f"{where}, {self.label} {i}") for i, v in enumerate(value)]


@dataclass(frozen=True)
class Dict(Spec):
    """A dict with these string keys (`optional` ones may be missing), each read by its spec.
    Other keys are dropped: a check only ever sees what it declared."""

    fields: dict[str, Spec]
    optional: frozenset[str] = field(default_factory=frozenset)

    def expects(self) -> str:
        return f"a dict with the keys {sorted(set(self.fields) - self.optional)}"

    def read(self, value: Any, where: str) -> dict[str, Any]:
        if not isinstance(value, dict):
            raise _fail(where, self.expects(), value)
        missing = [k for k in self.fields if k not in value and k not in self.optional]
        if missing:
            raise _fail(where, self.expects(), value, f" Missing: {missing}.")
        return {
            k: spec.read(value[k], f"{where}['{k}']")
            for k, spec in self.fields.items()
            if k in value
        }


@dataclass(frozen=True)
class Unreadable:
    """An answer that is not a bool, a string or a number: kept as its kind, for messages."""

    kind: str


@dataclass(frozen=True)
class Answers(Spec):
    """A dict of short answers ({"1.1": True, ...}): keys become stripped strings; a value
    becomes a bool, a string (cut short), an int or float, or Unreadable(kind)."""

    max_items: int = 1000

    def expects(self) -> str:
        return "a dict from item numbers to answers"

    def read(self, value: Any, where: str) -> dict[str, Any]:
        if not isinstance(value, dict):
            raise _fail(where, self.expects(), value)
        out: dict[str, Any] = {}
        for key, answer in list(value.items())[: self.max_items]:
            if not isinstance(key, str | int | float | bool):
                continue
            out[str(key).strip()[:40]] = _answer(answer)
        return out


def _answer(value: Any) -> Any:
    if isinstance(value, bool | int | float):
        return value
    if isinstance(value, str):
        return value[:100]
    if isinstance(value, np.ndarray) and value.size == 1 and value.dtype.kind in NUMERIC_KINDS:
        item = value.reshape(-1)[0].item()
        return bool(item) if value.dtype.kind == "b" else item
    return Unreadable(kind_of(value))


def read_returned(spec: Spec, value: Any, repeat: int, where: str) -> Any:
    """A call's decoded value read by its spec: one value, or a list of `repeat` of them."""
    if repeat == 1:
        return spec.read(value, where)
    return ListOf(spec, length=repeat, label="call").read(value, where)
