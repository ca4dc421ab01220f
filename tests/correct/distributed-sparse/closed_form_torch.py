"""closed_form with torch instead of numpy, returning a float64 tensor (A2.1)."""
# effdl-sample: replaces=closed_form quick=1


def closed_form(X, y):
    import torch

    A = torch.as_tensor(X, dtype=torch.float64)
    b = torch.as_tensor(y, dtype=torch.float64).reshape(-1)
    return torch.linalg.solve(A, b)
