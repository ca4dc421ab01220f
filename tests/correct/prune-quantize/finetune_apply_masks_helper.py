"""Finetuning that keeps masks by layer name and re-applies them with torch.where (B3(c))."""
# effdl-sample: replaces=finetune_after_prune


def finetune_after_prune(net, trainloader, criterion, optimizer, prune=True):
    keep = {
        name: module.weight.detach() != 0
        for name, module in net.named_modules()
        if prune and isinstance(module, (nn.Conv2d, nn.Linear)) and "id_mapping" not in name
    }
    modules = dict(net.named_modules())
    net.train()
    losses = []
    for batch, labels in trainloader:
        optimizer.zero_grad(set_to_none=True)
        loss = criterion(net(batch), labels)
        loss.backward()
        optimizer.step()
        with torch.no_grad():
            for name, mask in keep.items():
                w = modules[name].weight
                w.copy_(torch.where(mask, w, torch.zeros_like(w)))
        losses.append(loss.item())
    return sum(losses) / max(len(losses), 1)
