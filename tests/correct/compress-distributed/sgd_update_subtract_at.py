"""Hogwild's update with np.subtract.at on the sample's coordinates (C5.1)."""
# effdl-sample: replaces=sgd_update

import numpy as np


def sgd_update(w, idx, val, y, lr):
    margin = y * np.dot(val, w[idx])
    np.subtract.at(w, idx, lr * (-y * (1.0 / (1.0 + np.exp(margin)))) * val)
