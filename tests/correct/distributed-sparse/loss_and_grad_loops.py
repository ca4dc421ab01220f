"""loss_and_grad with Python loops, returning (float, list) (A3)."""
# effdl-sample: replaces=loss_and_grad


def loss_and_grad(W, X, y):
    W = [float(w) for w in list(W)]
    rows = [[float(v) for v in row] for row in list(X)]
    targets = [float(t) for t in list(y)]
    residuals = [sum(a * w for a, w in zip(row, W)) - t for row, t in zip(rows, targets)]
    loss = sum(r * r for r in residuals)
    grad = [2.0 * sum(row[j] * r for row, r in zip(rows, residuals)) for j in range(len(W))]
    return loss, grad
