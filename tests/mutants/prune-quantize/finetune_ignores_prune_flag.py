"""Finetuning that re-applies the mask whatever `prune` says: with prune=False (iterative
pruning before its last step, B3(d)) pruned weights must be free to grow back (B3(c))."""
# effdl-sample: replaces=finetune_after_prune expect_lost=b3.finetune_trains message_contains="prune=False"


def finetune_after_prune(net, trainloader, criterion, optimizer, prune=True):
    masks = [
        (module.weight, module.weight.detach() == 0)
        for name, module in net.named_modules()
        if isinstance(module, (nn.Conv2d, nn.Linear)) and "id_mapping" not in name
    ]
    net.train()
    total, seen = 0.0, 0
    for inputs, targets in trainloader:
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
