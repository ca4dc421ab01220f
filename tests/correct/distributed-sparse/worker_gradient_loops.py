"""worker_gradient with plain Python loops, returning a list of floats (A2.2)."""
# effdl-sample: replaces=worker_gradient


def worker_gradient(W, x, y):
    W = [float(w) for w in list(W)]
    x = [float(v) for v in list(x)]
    r = sum(xi * wi for xi, wi in zip(x, W)) - float(y)
    return [2.0 * xi * r for xi in x]
