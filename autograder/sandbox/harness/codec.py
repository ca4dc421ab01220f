"""The one codec for values that cross the sandbox boundary, in both directions.

The grader encodes each call's inputs into job.json; the harness decodes them, calls the
student's function and encodes what came back; the grader decodes that as untrusted data.
Both sides use these two functions. JSON with tags, never pickles or objects:

    array or tensor   {"__ndarray__": base64 bytes, "dtype": "<f8", "shape": [2, 3]}
    list of arrays    {"__stacked__": one array}   (one shape and dtype: 2,000 draws, one blob)
    tuple             {"__tuple__": [...]}
    dict              {"__dict__": [[key, value], ...]}   (keys need not be strings)
    nan, inf, huge int {"__float__": "nan"}
    generator seed    {"__rng__": 11}   (inputs only: becomes np.random.default_rng(11))
    anything else     {"__unsupported__": "module.Type"}   (outputs only; no method is called)

One returned value is capped as a whole, before the work of encoding it: at most
VALUE_BYTES_CAP bytes of JSON and VALUE_ITEMS_CAP items, however it is nested; over that,
`encode` raises TooLarge and the call reports that instead of a value. The grader's side
caps what it reads again (grading/outputs.py), since student code can write the files itself.

Standard library and numpy only (numpy is imported where it is used: the harness module is
loaded before the sandbox's Python can see numpy).
"""

from __future__ import annotations

import base64
import functools
import math
import sys
from dataclasses import dataclass
from typing import Any

STRING_CAP = 20_000  # characters of one returned string that are kept
ITEMS_CAP = 100_000  # items of one returned list or tuple that are kept
VALUE_BYTES_CAP = 8 * 1024 * 1024  # JSON bytes of one call's whole encoded value
VALUE_ITEMS_CAP = 200_000  # values (numbers, strings, containers, arrays) in one call's value
ENCODE_DEPTH = 12
DECODE_DEPTH = 40
ARRAY_KINDS = "biufc"


class BadValue(ValueError):
    """Data that is not a well-formed encoded value."""


class TooLarge(ValueError):
    """A value larger than one call may return (VALUE_BYTES_CAP, VALUE_ITEMS_CAP)."""


class _Budget:
    """What is left of one value's caps while it is encoded: charged before each piece is
    built, so that an oversized value is refused before its bytes are made."""

    def __init__(self) -> None:
        self.bytes = VALUE_BYTES_CAP
        self.items = VALUE_ITEMS_CAP

    def check(self, size: int) -> None:
        """Refuse now what would not fit."""
        if size > self.bytes:
            raise TooLarge(f"more than {VALUE_BYTES_CAP // 2**20} MiB once encoded")

    def charge(self, size: int, items: int = 1) -> None:
        self.bytes -= size
        self.items -= items
        if self.bytes < 0:
            raise TooLarge(f"more than {VALUE_BYTES_CAP // 2**20} MiB once encoded")
        if self.items < 0:
            raise TooLarge(f"more than {VALUE_ITEMS_CAP} numbers, strings and containers")


def _text_size(text: str) -> int:
    """An upper bound of a string's length in JSON (non-ASCII characters become \\uXXXX)."""
    return len(text) + 2 if text.isascii() else 6 * len(text) + 2


@dataclass(frozen=True)
class Rng:
    """An input the harness turns into np.random.default_rng(seed)."""

    seed: int


@dataclass(frozen=True)
class Unsupported:
    """A returned object that is not data (a custom class, a generator, ...): its type name."""

    type_name: str


def encode(value: Any, strict: bool = False, depth: int = 0, budget: _Budget | None = None) -> Any:
    """`value` as JSON-ready data. An object that is not data becomes Unsupported, or with
    `strict` (the grader encoding inputs, where that is a bug) a TypeError. Only exact types
    are trusted: a subclass of int or list could run code when its methods are called.
    Without `strict` the whole value is capped (TooLarge, see the module docstring)."""
    if budget is None and not strict:
        budget = _Budget()
    np = sys.modules.get("numpy")
    torch = sys.modules.get("torch")
    if depth > ENCODE_DEPTH:
        return _unsupported(f"nesting deeper than {ENCODE_DEPTH}", strict)
    kind = type(value)
    charge = budget.charge if budget is not None else _free
    if value is None or kind is bool:
        charge(6)
        return value
    if kind is int:
        charge(24)
        if abs(value) <= 2**63:
            return value
        big = float("inf") if abs(value).bit_length() > 1023 else abs(float(value))
        return {"__float__": repr(big if value > 0 else -big)}
    if kind is str:
        value = value[:STRING_CAP]
        charge(_text_size(value))
        return value
    if kind is float:
        charge(28)
        return value if math.isfinite(value) else {"__float__": repr(value)}
    if kind is Rng:
        charge(24)
        return {"__rng__": int(value.seed)}
    if kind is list:
        charge(2)
        if _same_arrays(value, np):
            items = value[:ITEMS_CAP]
            if budget is not None:  # checked before np.stack copies them (charged below)
                budget.check(items[0].nbytes * len(items))
            return {"__stacked__": encode(np.stack(items), strict, depth + 1, budget)}
        return [encode(v, strict, depth + 1, budget) for v in value[:ITEMS_CAP]]
    if kind is tuple:
        charge(16)
        return {"__tuple__": [encode(v, strict, depth + 1, budget) for v in value[:ITEMS_CAP]]}
    if kind is dict:
        charge(16)
        pairs = list(value.items())[:ITEMS_CAP]
        out = []
        for k, v in pairs:
            charge(6, 0)
            out.append([encode(k, strict, depth + 1, budget), encode(v, strict, depth + 1, budget)])
        return {"__dict__": out}
    if torch is not None and isinstance(value, torch.Tensor):
        value = torch.Tensor.numpy(torch.Tensor.cpu(torch.Tensor.detach(value)).resolve_conj())
    if np is not None and isinstance(value, np.generic):
        value = np.asarray(value)
    if np is not None and isinstance(value, np.ndarray):
        array = np.ndarray.view(value, np.ndarray)
        if array.dtype.kind not in ARRAY_KINDS:
            return _unsupported(f"numpy array of dtype {array.dtype}", strict)
        charge(_array_size(array))
        array = np.ascontiguousarray(array).reshape(array.shape)  # keeps 0-d arrays 0-d
        return {
            "__ndarray__": base64.b64encode(array.tobytes()).decode("ascii"),
            "dtype": array.dtype.str,
            "shape": list(array.shape),
        }
    return _unsupported(kind.__module__ + "." + kind.__qualname__, strict)


def _free(size: int, items: int = 1) -> None:
    """The charge of the grader's own inputs (strict): nothing."""


def _array_size(array: Any) -> int:
    """An array's encoded size: base64 of its bytes, plus its dtype and shape."""
    return 4 * (array.nbytes + 2) // 3 + 60 + 12 * array.ndim


def _unsupported(name: str, strict: bool) -> dict[str, str]:
    if strict:
        raise TypeError(f"cannot send a {name} across the sandbox boundary")
    return {"__unsupported__": name}


def _same_arrays(items: list[Any], np: Any) -> bool:
    """Whether a list holds 2+ plain numpy arrays of one shape and numeric dtype."""
    if np is None or len(items) < 2 or type(items[0]) is not np.ndarray:
        return False
    shape, dtype = items[0].shape, items[0].dtype
    if dtype.kind not in ARRAY_KINDS:
        return False
    return all(type(a) is np.ndarray and a.shape == shape and a.dtype == dtype for a in items)


def clean_text(text: str) -> str:
    """`text` without lone surrogates (valid JSON, but not writable as UTF-8)."""
    return text.encode("utf-8", "replace").decode("utf-8")


def decode(data: Any, inputs: bool = False, depth: int = 0) -> Any:
    """Encoded data back into values, validating every tag: BadValue when it is not
    well-formed. `inputs` (the harness reading job.json) allows generator seeds; outputs
    may hold Unsupported markers instead."""
    if depth > DECODE_DEPTH:
        raise BadValue("value nested too deeply")
    if isinstance(data, str):
        return clean_text(data)
    if data is None or isinstance(data, bool | int | float):
        return data
    if isinstance(data, list):
        return [decode(v, inputs, depth + 1) for v in data]
    if not isinstance(data, dict):
        raise BadValue(f"unexpected JSON type {type(data).__name__}")
    if "__ndarray__" in data:
        return _decode_array(data)
    if "__stacked__" in data:
        stacked = data["__stacked__"]
        array = _decode_array(stacked) if isinstance(stacked, dict) else None
        if array is None or array.ndim == 0:
            raise BadValue("a stacked list must be an array with at least one dimension")
        return list(array)
    if "__tuple__" in data:
        return tuple(decode(v, inputs, depth + 1) for v in _list(data["__tuple__"]))
    if "__float__" in data:
        text = str(data["__float__"])[:40]
        try:
            return float(text)
        except ValueError:
            raise BadValue(f"bad float tag {text!r}") from None
    if "__dict__" in data:
        out = {}
        for pair in _list(data["__dict__"]):
            if not isinstance(pair, list) or len(pair) != 2:
                raise BadValue("bad dict entry")
            key = decode(pair[0], inputs, depth + 1)
            if not isinstance(key, str | int | float | bool | tuple) and key is not None:
                raise BadValue("unhashable dict key")
            try:
                out[key] = decode(pair[1], inputs, depth + 1)
            except TypeError:  # a tuple key holding an array
                raise BadValue("unhashable dict key") from None
        return out
    if "__rng__" in data and inputs:
        import numpy as np

        return np.random.default_rng(int(data["__rng__"]))
    if "__unsupported__" in data and not inputs:
        return Unsupported(str(data["__unsupported__"])[:200])
    raise BadValue(f"unknown tagged value with keys {sorted(map(str, data))[:5]}")


def _list(value: Any) -> list[Any]:
    if not isinstance(value, list):
        raise BadValue("expected a list")
    return value


def _decode_array(data: dict[str, Any]) -> Any:
    import numpy as np

    if "__ndarray__" not in data or "dtype" not in data:
        raise BadValue("an array needs its data and its dtype")
    try:
        dtype = _dtype(str(data["dtype"])[:40])
    except TypeError as exc:
        raise BadValue(f"bad dtype {str(data.get('dtype'))[:40]!r}") from exc
    if dtype.kind not in ARRAY_KINDS or dtype.hasobject:
        raise BadValue(f"dtype {dtype} is not numeric")
    shape = data.get("shape")
    if not isinstance(shape, list) or len(shape) > 32:
        raise BadValue("bad shape")
    if not all(isinstance(n, int) and not isinstance(n, bool) and n >= 0 for n in shape):
        raise BadValue("bad shape")
    try:
        raw = base64.b64decode(str(data["__ndarray__"]), validate=True)
    except ValueError as exc:
        raise BadValue(f"bad array bytes: {exc}") from None
    if math.prod(shape) * dtype.itemsize != len(raw):
        raise BadValue(f"{len(raw)} bytes do not fill shape {shape} of {dtype}")
    return np.frombuffer(raw, dtype=dtype).reshape(shape).copy()


@functools.lru_cache(maxsize=64)
def _dtype(name: str) -> Any:
    import numpy as np

    return np.dtype(name)
