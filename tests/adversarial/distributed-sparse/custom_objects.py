"""Returns objects that claim to be right: a custom __eq__, __array__, __float__, an ndarray
subclass, float, int and dict subclasses, a generator (returning objects with a custom
__eq__, __array__ or __float__)."""
# effdl-attack: build=cell tag=answer expect_lost=a1.true_false,a2.closed_form,a2.worker_gradient,a2.train_plain,a2.train_terngrad,a2.train_clip,a2.train_tern_clip,a2.clip_gradient,a4.max_k feedback_contains="not numbers" quick=1

import numpy as np


class Sneaky:
    def __eq__(self, other):
        return True

    def __ne__(self, other):
        return False

    def __array__(self, *args, **kwargs):
        return np.array([1.0, -3.0, 2.0])

    def __float__(self):
        return 1.0

    def __len__(self):
        return 3

    def __getitem__(self, i):
        return [1.0, -3.0, 2.0][i]


class AlwaysEqual(np.ndarray):
    def __eq__(self, other):
        return np.ones(np.shape(other), dtype=bool)

    def __array_finalize__(self, obj):
        self.claim = "right"


class Close(float):
    def __eq__(self, other):
        return True

    def __float__(self):
        return 61.0


class Agreeing(dict):
    def __getitem__(self, key):
        return True

    def get(self, key, default=None):
        return True


def closed_form(X, y):
    return Sneaky()


def worker_gradient(W, x, y):
    return np.full(3, 1e9).view(AlwaysEqual)


def clip_gradient(g, T):
    return (Close(v) for v in g)


def csc_max_K(M, N, final_pointer=True):
    return Close(61)


TF_ANSWERS = Agreeing()
