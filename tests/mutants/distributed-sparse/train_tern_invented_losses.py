"""TernGrad training that rounds |g_j|/s instead of sampling (a deterministic run) and
returns its true trajectory, but from the sixth call on invents the losses: those of a
correctly sampled run that was never returned. Only the first runs' losses were tied to the
trajectory, and the invented final losses are distributed right (A2.3, A2.5)."""
# effdl-sample: replaces=train_distributed expect_lost=a2.train_terngrad,a2.train_tern_clip message_contains="of your own W_hist"

import numpy as np


def train_distributed(
    X,
    y,
    lr=0.1,
    steps=50,
    clip=None,
    ternary=False,
    scaler=None,
    rng=None,
    _calls=[0],  # noqa: B006
):
    X = np.asarray(X, dtype=float)
    y = np.asarray(y, dtype=float).reshape(-1)
    rng = np.random.default_rng(rng)

    def run(draw):
        W = np.zeros(X.shape[1])
        W_hist = [W.copy()]
        for _ in range(steps):
            grads = []
            for i in range(len(y)):
                g = 2.0 * X[i] * (X[i] @ W - y[i])
                if clip is not None:
                    g = np.clip(g, -clip, clip)
                if ternary:
                    s = scaler if scaler is not None else float(np.abs(g).max())
                    p = np.minimum(np.abs(g) / s, 1.0) if s else np.zeros_like(g)
                    g = s * np.sign(g) * draw(p)
                grads.append(g)
            W = W - lr * np.mean(grads, axis=0)
            W_hist.append(W.copy())
        W_hist = np.array(W_hist)
        return W_hist, (W_hist[1:] @ X.T - y) ** 2

    W_hist, losses = run(lambda p: p >= 0.5)
    if ternary:
        _calls[0] += 1
        if _calls[0] > 5:
            _, losses = run(lambda p: rng.random(p.shape) < p)
    return W_hist, losses
