"""A finetuning that trains nothing: the net is left as it came, so its pruned weights are
still zero at the end without any mask. Staying zero proves the mask only where the epoch
moved the kept weights (round 13 found it kept the 4 points of b3.finetune_keeps_zeros)."""
# effdl-attack: build=cell replaces=finetune_after_prune expect_lost=b3.finetune_trains,b3.finetune_keeps_zeros zero=b3.finetune_trains,b3.finetune_keeps_zeros feedback_contains="shows nothing about the mask" threat=vacuous


def finetune_after_prune(net, trainloader, criterion, optimizer, prune=True):
    return 2.3
