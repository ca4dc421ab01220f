"""Finetuning never re-applies the pruning mask, so momentum and weight decay revive pruned weights (B3(c))."""
# effdl-sample: replaces=finetune_after_prune expect_lost=b3.finetune_keeps_zeros


def finetune_after_prune(net, trainloader, criterion, optimizer, prune=True):
    device = next(net.parameters()).device
    net.train()
    total, seen = 0.0, 0
    for inputs, targets in trainloader:
        inputs, targets = inputs.to(device), targets.to(device)
        optimizer.zero_grad()
        loss = criterion(net(inputs), targets)
        loss.backward()
        optimizer.step()
        total += loss.item() * targets.size(0)
        seen += targets.size(0)
    return total / max(seen, 1)
