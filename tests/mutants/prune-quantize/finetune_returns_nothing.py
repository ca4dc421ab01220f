"""Finetuning that trains right but returns nothing, where the epoch's mean loss is asked for (B3(c))."""
# effdl-sample: replaces=finetune_after_prune expect_lost=b3.finetune_trains message_contains="got nothing (None)"


def finetune_after_prune(net, trainloader, criterion, optimizer, prune=True):
    masks = []
    if prune:
        for name, module in net.named_modules():
            if isinstance(module, (nn.Conv2d, nn.Linear)) and "id_mapping" not in name:
                masks.append((module, module.weight.data == 0))
    net.train()
    for inputs, targets in trainloader:
        optimizer.zero_grad()
        criterion(net(inputs), targets).backward()
        optimizer.step()
        with torch.no_grad():
            for module, zero in masks:
                module.weight[zero] = 0.0
