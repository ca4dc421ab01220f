"""Forges harness events whose fields the grader quotes in its notes: a skipped statement
whose cell is millions of characters, and failed statements with megabytes of error text,
unless every quoted field is cut short (forging events with huge fields)."""
# effdl-attack: threat=amplification build=cell tag=answer expect_lost=a2.closed_form feedback_contains="entries differ" quick=1

import json

EVENTS = [
    {"ev": "stmt_skipped", "k": 0, "cell": "\u00e9" * 2_500_000, "line": 1, "reason": "forged"},
    *({"ev": "stmt_end", "k": k, "ok": False, "error": "\u00e8" * 100_000} for k in range(10)),
]
try:
    with open("/out/events.jsonl", "a", encoding="utf-8") as fh:
        for event in EVENTS:
            fh.write(json.dumps(event, ensure_ascii=False) + "\n")
except OSError:
    pass


def closed_form(X, y):
    return [0.0, 0.0, 0.0]
