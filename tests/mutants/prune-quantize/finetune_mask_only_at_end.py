"""Re-applies the mask once after the epoch instead of after every step: pruned weights took part in training (B3(c))."""
# effdl-sample: replaces=finetune_after_prune expect_lost=b3.finetune_trains message_contains="only at the end"

import torch


def finetune_after_prune(net, trainloader, criterion, optimizer, prune=True):
    masks = []
    if prune:
        for name, module in net.named_modules():
            if isinstance(module, (torch.nn.Conv2d, torch.nn.Linear)) and "id_mapping" not in name:
                masks.append((module.weight, module.weight.detach() == 0))
    net.train()
    total, seen = 0.0, 0
    for inputs, targets in trainloader:
        optimizer.zero_grad()
        loss = criterion(net(inputs), targets)
        loss.backward()
        optimizer.step()
        total += loss.item() * targets.size(0)
        seen += targets.size(0)
    with torch.no_grad():
        for weight, pruned in masks:
            weight[pruned] = 0.0
    return total / max(seen, 1)
