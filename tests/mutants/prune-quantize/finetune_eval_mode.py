"""Finetunes with the network in evaluation mode: batch norm uses running statistics and the epoch diverges (B3(c))."""
# effdl-sample: replaces=finetune_after_prune expect_lost=b3.finetune_trains message_contains="NaN or infinite"


def finetune_after_prune(net, trainloader, criterion, optimizer, prune=True):
    masks = [
        (module.weight, module.weight.detach() == 0)
        for name, module in net.named_modules()
        if prune and isinstance(module, (nn.Conv2d, nn.Linear)) and "id_mapping" not in name
    ]
    net.eval()
    for inputs, targets in trainloader:
        optimizer.zero_grad()
        criterion(net(inputs), targets).backward()
        optimizer.step()
        with torch.no_grad():
            for weight, pruned in masks:
                weight[pruned] = 0.0
