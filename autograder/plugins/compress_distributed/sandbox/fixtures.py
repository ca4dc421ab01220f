"""Assignment C's numpy fixtures: calls that need more than inputs as data.

- "ef_step", "ef_run": error feedback takes a compressor as an argument, and a function is
  not data. The spec names one of the `ROUNDTRIPS` built here (never the student's own
  compressors); the fixture records every vector the student's code hands it, so the check
  can see that it compressed g + e, once per step.
- "dgc_run": DGC's step called on a fixed sequence of gradients, each call getting the
  state (u, v) the student's previous call returned.
- "sgd_update": one Hogwild update on weights whose coordinates outside the sample's pages
  are read-only (mprotect), in a child process: an update that writes every coordinate
  faults there, and the fixture reports that as data. With spec["poison"] the coordinates
  outside idx hold signalling NaNs, one bit pattern each: a read of them comes out NaN, and
  an arithmetic write of them, even of the same value, quiets the NaN (its bits change), so
  writes outside idx inside a writable page are seen too.

The checks import this module to build the same compressors on the trusted side. Standard
library, numpy and torch only (a test reads the imports).
"""

from __future__ import annotations

import contextlib
import ctypes
import faulthandler
import mmap
import os
import select
import signal
import time
from collections.abc import Callable
from typing import Any

import numpy as np

ROUNDTRIP_NAMES = ("keep", "grid", "scale", "sign")
UPDATE_SECONDS = 5.0  # one sgd_update call in its child process
SIGNALLING_NAN = 0x7FF0_0000_0000_0000  # + a payload 1..2^51-1: a float64 signalling NaN


def roundtrip(name: str) -> Callable[[np.ndarray], np.ndarray]:
    """A compress-then-decompress function by name: "keep:K" (the K entries of largest |p|,
    lower index first on ties), "grid:H" (round to multiples of H), "scale:C" (C * p), "sign"
    (sign(p) times mean |p|). Deterministic, and different from every graded function."""
    kind, _, arg = name.partition(":")
    if kind == "keep":
        k = int(arg)

        def keep(p: np.ndarray) -> np.ndarray:
            p = np.asarray(p, dtype=np.float64).reshape(-1)
            out = np.zeros(p.shape)
            top = np.argsort(-np.abs(p), kind="stable")[:k]
            out[top] = p[top]
            return out

        return keep
    if kind == "grid":
        h = float(arg)
        return lambda p: h * np.round(np.asarray(p, dtype=np.float64).reshape(-1) / h)
    if kind == "scale":
        c = float(arg)
        return lambda p: c * np.asarray(p, dtype=np.float64).reshape(-1)
    if kind == "sign":

        def sign(p: np.ndarray) -> np.ndarray:
            p = np.asarray(p, dtype=np.float64).reshape(-1)
            return np.sign(p) * float(np.mean(np.abs(p)))

        return sign
    raise ValueError(f"unknown roundtrip {name!r}")


def _recording(name: str, seen: list[np.ndarray]) -> Callable[[Any], np.ndarray]:
    inner = roundtrip(name)

    def call(p: Any) -> np.ndarray:
        arr = np.array(p, dtype=np.float64).reshape(-1)  # a copy: later changes do not count
        seen.append(arr)
        return inner(arr)

    return call


class EffdlChangedInputs(Exception):
    """A function changed an input the problem says it leaves alone (named as the harness's
    own error for pure calls, so that the grader reports both the same way)."""


def _unchanged(passed: dict[str, np.ndarray], kept: dict[str, np.ndarray]) -> None:
    """Raise EffdlChangedInputs naming every input that no longer equals its copy."""
    changed = [
        f"`{name}`"
        for name, array in passed.items()
        if array.shape != kept[name].shape or not np.array_equal(array, kept[name], equal_nan=True)
    ]
    if changed:
        raise EffdlChangedInputs(f"it changed its input ({', '.join(changed)}) in place")


def run_ef_step(fn: Any, spec: dict[str, Any]) -> dict[str, Any]:
    """fn(g, e, roundtrip): what it returned and the vectors it handed the compressor (an
    error if it changed g or e: C2's functions never change their inputs)."""
    seen: list[np.ndarray] = []
    g = np.array(spec["g"], dtype=np.float64)
    e = np.array(spec["e"], dtype=np.float64)
    returned = fn(g, e, _recording(spec["roundtrip"], seen))
    _unchanged({"g": g, "e": e}, {"g": np.array(spec["g"]), "e": np.array(spec["e"])})
    return {"returned": returned, "seen": seen}


def run_ef_run(fn: Any, spec: dict[str, Any]) -> dict[str, Any]:
    """fn(grads, roundtrip[, e0]): what it returned and the vectors it handed the compressor."""
    seen: list[np.ndarray] = []
    grads = np.array(spec["grads"], dtype=np.float64)
    rt = _recording(spec["roundtrip"], seen)
    if spec.get("e0") is None:
        returned = fn(grads, rt)
        _unchanged({"grads": grads}, {"grads": np.array(spec["grads"])})
    else:
        e0 = np.array(spec["e0"], dtype=np.float64)
        returned = fn(grads, rt, e0)
        _unchanged(
            {"grads": grads, "e0": e0},
            {"grads": np.array(spec["grads"]), "e0": np.array(spec["e0"])},
        )
    return {"returned": returned, "seen": seen}


def run_dgc(fn: Any, spec: dict[str, Any]) -> dict[str, Any]:
    """fn(g, u, v, ratio, momentum, clip_norm, n_workers) over spec["grads"], starting from
    u = v = 0 and passing on the u, v each call returned. Stops at the first call whose
    result is not (indices, values, u, v) of the right sizes, and says why."""
    grads = np.array(spec["grads"], dtype=np.float64)
    n = grads.shape[1]
    u, v = np.zeros(n), np.zeros(n)
    steps: list[Any] = []
    for t, g in enumerate(grads):
        passed = {"g": g.copy(), "u": u.copy(), "v": v.copy()}
        out = fn(
            passed["g"],
            passed["u"],
            passed["v"],
            spec["ratio"],
            spec["momentum"],
            spec["clip_norm"],
            spec["n_workers"],
        )
        _unchanged(passed, {"g": g, "u": u, "v": v})
        steps.append(out)
        try:
            if len(out) != 4:
                raise ValueError(f"{len(out)} values")
            u = np.array(out[2], dtype=np.float64).reshape(-1)
            v = np.array(out[3], dtype=np.float64).reshape(-1)
            if u.shape != (n,) or v.shape != (n,):
                raise ValueError(f"u of shape {u.shape}, v of shape {v.shape}")
        except Exception as exc:
            return {"steps": steps, "stopped": f"step {t}: {type(exc).__name__}: {exc}"[:300]}
    return {"steps": steps, "stopped": ""}


def _protect_except(buffer: mmap.mmap, keep: set[int], page: int) -> None:
    """Make every page of buffer read-only except the pages numbered in `keep`."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.mprotect.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]
    base = ctypes.addressof(ctypes.c_char.from_buffer(buffer))
    for number in range(len(buffer) // page):
        if number not in keep and libc.mprotect(base + number * page, page, mmap.PROT_READ):
            raise OSError(ctypes.get_errno(), "mprotect failed")


def run_sgd_update(fn: Any, spec: dict[str, Any]) -> dict[str, Any]:
    """fn(w, idx, val, y, lr) in a child process, on shared weights whose pages that hold no
    coordinate of idx are read-only (and, with spec["poison"], whose coordinates outside idx
    are signalling NaNs during the call, coordinate i with payload i + 1: an update that
    reads them comes out NaN, and one that writes them changes their bits). Returns {"w":
    the weights after (the poison put back where its bits are unchanged or NaN), "faulted":
    whether the child died of a memory fault (it wrote a read-only coordinate), "written":
    the coordinates outside idx whose bits changed (poison only), "error": its exception,
    "returned_none": whether it returned None}."""
    w0 = np.array(spec["w"], dtype=np.float64)
    idx = np.array(spec["idx"], dtype=np.int64)
    val = np.array(spec["val"], dtype=np.float64)
    page = mmap.PAGESIZE
    size = -(-w0.nbytes // page) * page
    buffer = mmap.mmap(-1, size, flags=mmap.MAP_SHARED | mmap.MAP_ANONYMOUS)
    w = np.frombuffer(buffer, dtype=np.float64, count=w0.size)
    w[:] = w0
    outside = np.ones(w0.size, dtype=bool)
    outside[idx] = False
    bits = w.view(np.uint64)
    poison = np.uint64(SIGNALLING_NAN) + np.arange(1, w0.size + 1, dtype=np.uint64)
    if spec.get("poison"):  # a read outside idx (a dense dot product) turns the update to NaN
        bits[outside] = poison[outside]
    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:
        code = 0
        try:
            os.close(read_fd)
            faulthandler.disable()  # the fault below is an expected outcome, not a crash report
            _protect_except(buffer, {int(i) * 8 // page for i in idx}, page)
            returned = fn(w, idx.copy(), val.copy(), float(spec["y"]), float(spec["lr"]))
            os.write(write_fd, b"N" if returned is None else b"R")
        except BaseException as exc:
            with contextlib.suppress(BaseException):
                os.write(write_fd, f"E{type(exc).__name__}: {exc}"[:400].encode())
            code = 3
        os._exit(code)
    os.close(write_fd)
    message, status = b"", None
    deadline = time.monotonic() + float(spec.get("seconds", UPDATE_SECONDS))
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([read_fd], [], [], 0.05)
            if ready:
                chunk = os.read(read_fd, 1024)
                message += chunk[: max(0, 1024 - len(message))]
            done, raw = os.waitpid(pid, os.WNOHANG)
            if done:
                status = raw
                break
    finally:
        if status is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
        with contextlib.suppress(OSError):
            message += os.read(read_fd, 1024)
        os.close(read_fd)
    written: list[int] = []
    if spec.get("poison"):  # the poison, written over or not, goes back to the given weights
        written = np.flatnonzero(outside & (bits != poison)).tolist()
        back = outside & np.isnan(w)
        w[back] = w0[back]
    faulted = status is not None and os.WIFSIGNALED(status)
    faulted = faulted and os.WTERMSIG(status) in (signal.SIGSEGV, signal.SIGBUS)
    text = message.decode("utf-8", "replace")
    return {
        "w": w.copy(),
        "faulted": bool(faulted),
        "written": written,
        "timed_out": status is None,
        "error": text[1:] if text.startswith("E") else "",
        "returned_none": text.startswith("N"),
    }


MODES = {
    "ef_step": run_ef_step,
    "ef_run": run_ef_run,
    "dgc_run": run_dgc,
    "sgd_update": run_sgd_update,
}
