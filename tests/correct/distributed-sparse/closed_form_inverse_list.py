"""closed_form through the explicit inverse, returned as a Python list (A2.1)."""
# effdl-sample: replaces=closed_form

import numpy as np


def closed_form(X, y):
    return (np.linalg.inv(np.asarray(X, dtype=float)) @ np.asarray(y, dtype=float)).tolist()
