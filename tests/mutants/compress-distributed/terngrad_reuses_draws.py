"""TernGrad that draws afresh only at every eighth call with the same g and the same
generator and returns copies of that draw in between: every keep frequency is exact and the
entries of one draw independent, but seven draws in eight repeat an earlier one (found by
the second independent attacker) (C2.4)."""
# effdl-sample: replaces=terngrad expect_lost=c2.terngrad message_contains="are identical"

import numpy as np


def terngrad(g, s=None, rng=None, _state={}):  # noqa: B006 - the kept state is the point
    g = np.asarray(g, dtype=np.float64).reshape(-1)
    s = float(np.max(np.abs(g))) if s is None else float(s)
    key = (g.tobytes(), s)
    if _state.get("rng") is not rng or _state.get("key") != key:
        _state.update(rng=rng, key=key, calls=0)
    _state["calls"] += 1
    if (_state["calls"] - 1) % 8:
        return _state["saved"].copy()
    keep = rng.random(g.shape) < (np.minimum(np.abs(g) / s, 1.0) if s > 0 else 0.0)
    _state["saved"] = s * np.sign(g) * keep
    return _state["saved"].copy()
