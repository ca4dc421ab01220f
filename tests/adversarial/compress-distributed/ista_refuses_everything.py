"""An ISTA that refuses every input with a ValueError: the one case that must be refused
(a step above 1/L) earned its share although nothing was implemented (round 13: 1 of 6)."""
# effdl-attack: build=cell replaces=ista expect_lost=c3.ista zero=c3.ista feedback_contains="refusing earns only beside" threat=vacuous


def ista(y, Phi, lam, steps=100, x0=None, L=None, step=None):
    raise ValueError("not this input")
