"""Masks the gradients but never re-applies the mask: once the optimizer has momentum, pruned weights move (B3(c))."""
# effdl-sample: replaces=finetune_after_prune expect_lost=b3.finetune_keeps_zeros message_contains="masking only the gradients"


def finetune_after_prune(net, trainloader, criterion, optimizer, prune=True):
    masks = []
    for name, module in net.named_modules():
        if prune and isinstance(module, (nn.Conv2d, nn.Linear)) and "id_mapping" not in name:
            masks.append((module.weight, (module.weight.detach() != 0).float()))
    total, seen = 0.0, 0
    for inputs, targets in trainloader:
        optimizer.zero_grad()
        loss = criterion(net(inputs), targets)
        loss.backward()
        for weight, mask in masks:
            weight.grad.mul_(mask)
        optimizer.step()
        total += loss.item() * targets.size(0)
        seen += targets.size(0)
    return total / max(seen, 1)
