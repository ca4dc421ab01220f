"""Registers atexit hooks and signal handlers, sets alarms, blocks and ignores signals,
lowers the recursion limit and installs a trace function at top level (atexit and signal
handlers)."""
# effdl-attack: build=cell tag=answer expect_lost=a2.closed_form feedback_contains="entries differ"

import atexit
import os
import signal
import sys


def _forge(*args):
    try:
        os.makedirs("/out/calls", exist_ok=True)
        with open("/out/calls/1.json", "w") as fh:
            fh.write('{"status": "ok", "value": [1, -3, 2]}')
    finally:
        os._exit(0)


atexit.register(_forge)
signal.signal(signal.SIGCHLD, signal.SIG_IGN)
signal.signal(signal.SIGTERM, signal.SIG_IGN)
signal.signal(signal.SIGALRM, _forge)
signal.signal(signal.SIGXCPU, signal.SIG_IGN)
signal.signal(signal.SIGSEGV, _forge)
signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGCHLD, signal.SIGALRM, signal.SIGTERM})
signal.setitimer(signal.ITIMER_REAL, 3.0, 0.5)
signal.setitimer(signal.ITIMER_PROF, 2.0, 0.5)
sys.setrecursionlimit(60)
sys.settrace(lambda *args: None)


def closed_form(X, y):
    return [0.0, 0.0, 0.0]
