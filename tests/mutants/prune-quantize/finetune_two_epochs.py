"""Runs two passes over the data instead of one epoch (B3(c))."""
# effdl-sample: replaces=finetune_after_prune expect_lost=b3.finetune_trains message_contains="one epoch"

import torch


def finetune_after_prune(net, trainloader, criterion, optimizer, prune=True):
    masks = []
    if prune:
        for name, module in net.named_modules():
            if isinstance(module, (torch.nn.Conv2d, torch.nn.Linear)) and "id_mapping" not in name:
                masks.append((module.weight, module.weight.detach() == 0))
    net.train()
    total, seen = 0.0, 0
    for inputs, targets in list(trainloader) * 2:
        optimizer.zero_grad()
        loss = criterion(net(inputs), targets)
        loss.backward()
        optimizer.step()
        with torch.no_grad():
            for weight, pruned in masks:
                weight[pruned] = 0.0
        total += loss.item() * targets.size(0)
        seen += targets.size(0)
    return total / max(seen, 1)
