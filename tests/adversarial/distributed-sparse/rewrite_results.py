"""Rewrites the grader's results: forges its own call results with answers hard-coded from
the notebook, tries the grader's results.json and gradebook on the host, and writes fake
events (rewriting results or gradebook files)."""
# effdl-attack: build=cell tag=answer expect_lost=a2.closed_form feedback_contains="ended its process without returning" quick=1

import json
import os

HOST_TARGETS = [
    "@VICTIM@",
    "@SENTINEL@/gradebook.sqlite",
    "@SENTINEL@/results.json",
    "@REPO@/solutions/distributed-sparse/answer_key.json",
    "@REPO@/autograder/plugins/distributed_sparse/checks/test_a2_distributed.py",
]
for target in HOST_TARGETS:
    try:
        with open(target, "w") as fh:
            fh.write('{"score": 100}')
    except OSError:
        pass
try:
    with open("/out/events.jsonl", "a") as fh:
        fh.write(json.dumps({"ev": "harness_done", "restarts": 0}) + "\n")
        fh.write(json.dumps({"ev": "call_end", "n": 1, "status": "exited"}) + "\n")
except OSError:
    pass


def closed_form(X, y):
    """Claims the notebook's W* = [1, -3, 2] for every input, written as the harness would."""
    job = json.load(open("/grader/job.json"))
    for index, call in enumerate(job["calls"]):
        if call["func"] == "closed_form":
            record = {"status": "ok", "value": [1.0, -3.0, 2.0], "seconds": 0.0}
            try:
                with open(f"/out/calls/{index}.json", "w") as fh:
                    json.dump(record, fh)
            except OSError:
                pass
    os._exit(0)
