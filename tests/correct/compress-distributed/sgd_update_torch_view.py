"""Hogwild's update through a torch view of the shared weights, index_add_ on idx (C5.1)."""
# effdl-sample: replaces=sgd_update

import torch


def sgd_update(w, idx, val, y, lr):
    weights = torch.from_numpy(w)
    index = torch.as_tensor(idx, dtype=torch.long)
    values = torch.as_tensor(val, dtype=torch.float64)
    margin = y * float(values @ weights[index])
    weights.index_add_(0, index, lr * y * torch.sigmoid(torch.tensor(-margin)) * values)
