"""All-gather wire bytes as K payloads instead of K - 1 (C4.2)."""
# effdl-sample: replaces=ring_wire_bytes in=comm_hooks.py expect_lost=c4.ring_wire_bytes message_contains="not K"


def ring_wire_bytes(payload, world_size, collective):
    K = int(world_size)
    if collective == "allreduce":
        return 2.0 * (K - 1) / K * payload
    return float(K * payload)
