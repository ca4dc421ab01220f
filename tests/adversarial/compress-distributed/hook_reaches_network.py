"""A DDP hook that tries to reach the network from inside its process group: addresses on the
internet, the grader's host (the usual gateway and container addresses) and a name lookup;
it fails with what it reached (reaching the network from a hook)."""
# effdl-attack: replaces=topk_hook in=comm_hooks.py expect_lost=c4.topk_hook feedback_contains="Network is unreachable" quick=1


def topk_hook(state, bucket):
    import socket

    report = []
    for host, port in [
        ("1.1.1.1", 80),
        ("8.8.8.8", 53),
        ("10.0.2.2", 22),
        ("172.17.0.1", 80),
        ("192.0.2.1", 80),
    ]:
        try:
            socket.create_connection((host, port), timeout=1).close()
            report.append(f"{host}:{port} CONNECTED")
        except OSError as exc:
            report.append(f"{host}:{port} {exc.strerror or exc}")
    try:
        socket.getaddrinfo("example.com", 80)
        report.append("dns RESOLVED")
    except OSError as exc:
        report.append(f"dns {exc}")
    raise RuntimeError("network: " + "; ".join(report))
