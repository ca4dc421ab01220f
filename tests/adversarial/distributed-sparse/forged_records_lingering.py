"""Leaves forgers running: a process started at top level and another started by the first
graded call (each detached from its parent, in its own session) write made-up TernGrad
records (draws that ignore the generator, the same-state call given the first call's draws)
into the output folder and into every pipe they hold, again and again for half a minute, so
that some land while the TernGrad calls are being timed. What the sandbox passes on must come
from the supervisor, for the call it times (forged call records)."""
# effdl-attack: threat=records build=cell tag=answer expect_lost=a2.terngrad,a2.train_terngrad,a2.train_tern_clip feedback_contains="returned different values"

import json
import os
import sys
import time

import numpy as np

_honest_closed_form = closed_form  # noqa: F821  (the solution's, defined above)


def terngrad(g, s=None, rng=None):
    """Ignores `rng`: a fresh unseeded generator, so no two runs draw alike."""
    g = np.asarray(g, dtype=float)
    s = float(np.abs(g).max()) if s is None else float(s)
    p = np.abs(g) / s if s > 0 else np.zeros_like(g)
    return s * np.sign(g) * (np.random.default_rng().random(g.shape) < p)


def _records():
    codec = sys.modules["harness.codec"]
    with open("/grader/job.json") as fh:
        job = json.load(fh)
    records, first = {}, None
    for index, call in enumerate(job["calls"]):
        if call["func"] != "terngrad":
            continue
        args = codec.decode(call["args"], inputs=True)
        values = [terngrad(*args) for _ in range(int(call["repeat"]))]
        if call["id"].endswith(".same") and first is not None:
            values = first[: len(values)]
        first = values if first is None else first
        record = {"status": "ok", "value": codec.encode(values), "rerun": True, "seconds": 0.01}
        records[index] = json.dumps(record).encode()
    return records


def _forge_forever(records):
    protocol = sys.modules.get("harness.protocol")
    until = time.monotonic() + 30
    while time.monotonic() < until:
        for index, payload in records.items():
            path = f"/out/calls/{index}.json"
            try:
                with open(path, "wb") as fh:
                    fh.write(payload)
                os.makedirs(path + ".tmp", exist_ok=True)
            except OSError:
                pass
            for fd in range(3, 64):
                try:
                    if protocol is not None and hasattr(protocol, "send_record"):
                        protocol.send_record(fd, index, payload)
                except OSError:
                    pass
        time.sleep(0.002)


def _detach():
    """Start a forger no parent waits for; returns in the caller."""
    try:
        records = _records()
        if os.fork() == 0:
            os.setsid()
            if os.fork() == 0:
                try:
                    _forge_forever(records)
                finally:
                    os._exit(0)
            os._exit(0)
    except Exception:
        pass


_detach()
_started_in_call = []


def closed_form(X, y):
    if not _started_in_call:
        _started_in_call.append(True)
        _detach()
    return _honest_closed_form(X, y)
