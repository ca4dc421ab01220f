"""Fills the grader's output folder from the last graded function until it is stopped."""
# effdl-attack: build=cell tag=answer expect_lost=a4.max_k feedback_contains="stopped: the submission wrote more than"

import os


def csc_max_K(M, N, final_pointer=True):
    n = 0
    while True:
        n += 1
        try:
            with open(f"/out/flood-{os.getpid()}-{n}.bin", "wb") as fh:
                fh.write(b"\1" * 4 * 1024**2)
        except OSError:
            pass
