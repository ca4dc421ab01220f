"""Forges the results of the TernGrad calls at top level: reads the calls from the job, makes
up draws that ignore the generator (the second call on the same generator state gets the
first call's draws), writes them as the harness's records into the output folder (blocking
the harness's own writes) and into every pipe it holds, framed as the harness frames them.
Only the supervisor may produce the records the grader reads (forged call records)."""
# effdl-attack: threat=records build=cell tag=answer expect_lost=a2.terngrad,a2.train_terngrad,a2.train_tern_clip feedback_contains="returned different values"

import json
import os
import sys

import numpy as np


def terngrad(g, s=None, rng=None):
    """Ignores `rng`: a fresh unseeded generator, so no two runs draw alike."""
    g = np.asarray(g, dtype=float)
    s = float(np.abs(g).max()) if s is None else float(s)
    p = np.abs(g) / s if s > 0 else np.zeros_like(g)
    return s * np.sign(g) * (np.random.default_rng().random(g.shape) < p)


def forged_records():
    """index -> the record the harness would write for each TernGrad call, made up here."""
    codec = sys.modules["harness.codec"]
    with open("/grader/job.json") as fh:
        job = json.load(fh)
    draws, records = {}, {}
    for index, call in enumerate(job["calls"]):
        if call["func"] != "terngrad":
            continue
        args = codec.decode(call["args"], inputs=True)
        values = [terngrad(*args) for _ in range(int(call["repeat"]))]
        if call["id"].endswith(".same") and draws:
            values = next(iter(draws.values()))[: len(values)]
        draws[call["id"]] = values
        record = {"status": "ok", "value": codec.encode(values), "rerun": True, "seconds": 0.01}
        records[index] = json.dumps(record).encode()
    return records


def plant(records):
    """Write the records everywhere the grader might read them from."""
    protocol = sys.modules.get("harness.protocol")
    for index, payload in records.items():
        path = f"/out/calls/{index}.json"
        try:
            with open(path, "wb") as fh:
                fh.write(payload)
            os.makedirs(path + ".tmp", exist_ok=True)  # the harness's atomic write now fails
        except OSError:
            pass
        for fd in range(64):
            try:
                if protocol is not None and hasattr(protocol, "send_record"):
                    protocol.send_record(fd, index, payload)
                os.write(fd, payload + b"\n")
            except OSError:
                pass


try:
    plant(forged_records())
except Exception as exc:
    print("the forgery failed:", type(exc).__name__)
