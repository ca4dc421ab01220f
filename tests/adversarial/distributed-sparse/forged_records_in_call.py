"""Forges the results of the TernGrad calls from inside an earlier graded call: the first
closed_form call returns the right answer, and meanwhile writes made-up TernGrad records
(draws that ignore the generator, the same-state call given the first call's draws) into
the output folder and into every pipe the call's process holds, for calls that have not run
yet. A record is taken only for the call being timed, from the supervisor (forged call
records)."""
# effdl-attack: threat=records build=cell tag=answer expect_lost=a2.terngrad,a2.train_terngrad,a2.train_tern_clip feedback_contains="returned different values"

import json
import os
import sys

import numpy as np

_honest_closed_form = closed_form  # noqa: F821  (the solution's, defined above)


def terngrad(g, s=None, rng=None):
    """Ignores `rng`: a fresh unseeded generator, so no two runs draw alike."""
    g = np.asarray(g, dtype=float)
    s = float(np.abs(g).max()) if s is None else float(s)
    p = np.abs(g) / s if s > 0 else np.zeros_like(g)
    return s * np.sign(g) * (np.random.default_rng().random(g.shape) < p)


def _forge():
    codec = sys.modules["harness.codec"]
    protocol = sys.modules.get("harness.protocol")
    with open("/grader/job.json") as fh:
        job = json.load(fh)
    first = None
    for index, call in enumerate(job["calls"]):
        if call["func"] != "terngrad":
            continue
        args = codec.decode(call["args"], inputs=True)
        values = [terngrad(*args) for _ in range(int(call["repeat"]))]
        if call["id"].endswith(".same") and first is not None:
            values = first[: len(values)]
        first = values if first is None else first
        payload = json.dumps(
            {"status": "ok", "value": codec.encode(values), "rerun": True, "seconds": 0.01}
        ).encode()
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


def closed_form(X, y):
    try:
        _forge()
    except Exception:
        pass
    return _honest_closed_form(X, y)
