"""Graded functions that call sys.exit, os._exit, raise SystemExit, kill the harness's
processes, or exit at top level (sys.exit, os._exit and SystemExit)."""
# effdl-attack: build=cell tag=answer expect_lost=a2.closed_form,a2.clip_gradient,a2.train_clip,a2.train_tern_clip,a3.soft_threshold,a3.train_prox,a3.extra_two_points,a4.max_k zero=a2.closed_form,a2.clip_gradient,a3.soft_threshold,a4.max_k feedback_contains="SystemExit" feedback_contains="ended its process" feedback_contains="skipped a statement" quick=1

import os
import sys

top_level_exit = os._exit(3)


def closed_form(X, y):
    sys.exit(0)


def clip_gradient(g, T):
    os._exit(0)


def soft_threshold(v, t):
    raise SystemExit("bye")


def csc_max_K(M, N, final_pointer=True):
    os.kill(os.getppid(), 9)
    os.kill(1, 9)
    return 0
