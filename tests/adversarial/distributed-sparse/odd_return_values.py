"""Returns values of the wrong kind that once crashed the trusted side: numpy scalars as
dict keys, a vector where a number belongs, ragged lists, a dict or a matrix where an array
belongs, a tuple one item short, complex numbers, a dict holding ragged values."""
# effdl-attack: build=cell tag=answer expect_lost=a1.true_false,a2.closed_form,a3.loss_and_grad,a3.project_top_k,a3.soft_threshold,a3.train_prune,a3.train_prox,a3.extra_two_points,a4.csc_encode,a4.csc_storage_bits,a4.size_formula,a4.max_k zero=a1.true_false,a2.closed_form,a3.loss_and_grad,a3.project_top_k,a3.soft_threshold,a3.train_prune,a3.train_prox,a4.csc_encode,a4.csc_storage_bits,a4.size_formula,a4.max_k feedback_contains="expected numbers" feedback_contains="got a float64 array of shape (2,)" quick=1 threat=odd-values

import numpy as np

TF_ANSWERS = {np.float64(1.1): np.bool_(False), np.str_("1.2"): True}


def closed_form(X, y):
    return [[1.0, -3.0], [2.0]]


def loss_and_grad(W, X, y):
    return np.float64(1.0), {"grad": [1.0, 2.0]}


def project_top_k(W, k):
    return np.ones((5, 5))


def soft_threshold(v, t):
    return np.asarray(v) * (1 + 1j)


def csc_encode(M, index_bits, n_pe=1, pe=0):
    return np.zeros(3), np.zeros(3)


def csc_storage_bits(M, index_bits, value_bits=8):
    return {
        "values": [1, [2]],
        "index": None,
        "pointer": "many",
        "total": {},
        "dense": 1,
        "ratio": 2,
    }


def csc_size_formula(M, N, K, final_pointer=True):
    return np.array([1.0, 2.0])


def csc_max_K(M, N, final_pointer=True):
    return [[1], [2, 3]]
