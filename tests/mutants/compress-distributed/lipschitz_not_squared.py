"""L as the largest singular value of Phi instead of its square (C3.2; ISTA's default step uses it)."""
# effdl-sample: replaces=lipschitz_constant expect_lost=c3.lipschitz_constant,c3.ista message_contains="largest singular value"

import numpy as np


def lipschitz_constant(Phi):
    return float(np.linalg.norm(np.asarray(Phi, dtype=np.float64), 2))
