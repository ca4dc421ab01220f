"""A DDP hook whose rank 1 never joins the collective: it leaves a detached process behind and
sleeps, so rank 0 waits in all_gather for a message that never comes (hanging the process
group)."""
# effdl-attack: replaces=topk_hook in=comm_hooks.py expect_lost=c4.topk_hook feedback_contains="did not finish" max_seconds=180 cost=70


def topk_hook(state, bucket):
    import os
    import time

    grad = bucket.buffer()
    if dist.get_rank() == 1:
        if os.fork() == 0:
            os.setsid()
            time.sleep(10**6)
        time.sleep(10**6)
    gathered = [torch.empty_like(grad) for _ in range(dist.get_world_size())]
    work = dist.all_gather(gathered, grad, async_op=True)
    return work.get_future().then(lambda fut: sum(gathered) / len(gathered))
