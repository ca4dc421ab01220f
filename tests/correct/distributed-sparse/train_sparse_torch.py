"""A3's training written with torch tensors, returning tensors (A3)."""
# effdl-sample: replaces=train_sparse


def train_sparse(X, y, method, mu=0.02, steps=200, lam=None, threshold=None):
    import torch

    X = torch.as_tensor(X, dtype=torch.float64)
    y = torch.as_tensor(y, dtype=torch.float64).reshape(-1)
    t = threshold if threshold is not None else (mu * lam if lam is not None else None)
    W = torch.zeros(X.shape[1], dtype=torch.float64)
    history = [W.clone()]
    for _ in range(steps):
        v = W - mu * 2 * X.T @ (X @ W - y)
        if method == "gd":
            new = v
        elif method == "prune":
            new = torch.zeros_like(v)
            keep = torch.topk(v.abs(), 2).indices
            new[keep] = v[keep]
        elif method == "l1":
            new = v - mu * lam * torch.sign(W)
        elif method == "prox":
            new = torch.sign(v) * torch.clamp(v.abs() - t, min=0)
        else:
            small = torch.argsort(v.abs(), stable=True)[:3]
            new = v.clone()
            new[small] = torch.sign(v[small]) * torch.clamp(v[small].abs() - t, min=0)
        W = new
        history.append(W.clone())
    W_hist = torch.stack(history)
    return W_hist, ((W_hist @ X.T - y) ** 2).sum(dim=1)
