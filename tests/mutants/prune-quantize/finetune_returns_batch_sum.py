"""Finetuning that trains right but returns the sum of the batches' losses, not their mean (B3(c))."""
# effdl-sample: replaces=finetune_after_prune expect_lost=b3.finetune_trains message_contains="summed, not averaged"


def finetune_after_prune(net, trainloader, criterion, optimizer, prune=True):
    masks = []
    if prune:
        for name, module in net.named_modules():
            if isinstance(module, (nn.Conv2d, nn.Linear)) and "id_mapping" not in name:
                masks.append((module, module.weight.data == 0))
    net.train()
    total = 0.0
    for inputs, targets in trainloader:
        optimizer.zero_grad()
        loss = criterion(net(inputs), targets)
        loss.backward()
        optimizer.step()
        with torch.no_grad():
            for module, zero in masks:
                module.weight[zero] = 0.0
        total += loss.item()
    return total
