"""Finetuning that masks the gradients before the step and re-applies the mask after it (B3(c))."""
# effdl-sample: replaces=finetune_after_prune quick=1


def finetune_after_prune(net, trainloader, criterion, optimizer, prune=True):
    masks = {}
    if prune:
        for name, module in net.named_modules():
            if isinstance(module, (nn.Conv2d, nn.Linear)) and "id_mapping" not in name:
                masks[module] = (module.weight.data != 0).float()
    running, count = 0.0, 0
    for inputs, targets in trainloader:
        optimizer.zero_grad()
        outputs = net(inputs)
        loss = criterion(outputs, targets)
        loss.backward()
        for module, mask in masks.items():
            module.weight.grad.mul_(mask)
        optimizer.step()
        for module, mask in masks.items():
            module.weight.data.mul_(mask)
        running += loss.item() * len(targets)
        count += len(targets)
    return running / count
