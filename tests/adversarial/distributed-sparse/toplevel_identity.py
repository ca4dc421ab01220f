"""Takes object addresses (id(), the default hash(), a thread's ident), the pid and the
uptime once, at top level, and keeps them in a global that closed_form uses: both runs of
every call see the same values, so calling each function twice cannot see them, yet with
address randomization every grading of the same bytes sees other addresses and gets another
grade, unless the sandbox's Python runs with fixed addresses and a fixed /proc/uptime
(addresses and pids read at top level)."""
# effdl-attack: threat=nondeterminism build=cell tag=answer expect_lost=a2.closed_form feedback_contains="closed_form" regrade=6

import os
import threading

import numpy as np

with open("/proc/uptime") as _fh:
    _UPTIME = int(float(_fh.read().split()[0]) * 100)
_VALUES = (
    id(object()) >> 4,
    hash(object()) >> 2,
    threading.get_ident() >> 12,
    id(np.zeros(3)) >> 4,
    os.getpid(),
    _UPTIME,
)
_FACTOR = 2 + sum(v % 8 for v in _VALUES)
_honest_closed_form = closed_form  # noqa: F821  (the solution's, defined above)


def closed_form(X, y):
    return np.asarray(_honest_closed_form(X, y), dtype=float) * _FACTOR
