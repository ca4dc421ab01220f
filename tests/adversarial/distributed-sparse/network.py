"""Opens network connections (to the internet, to the host, by name) from a graded
function and reports what it reached (opening a network connection)."""
# effdl-attack: build=cell tag=answer expect_lost=a2.closed_form feedback_contains="expected numbers, got str"

import socket


def closed_form(X, y):
    reached = []
    for host, port in [("1.1.1.1", 80), ("8.8.8.8", 53), ("127.0.0.1", 22), ("10.0.0.1", 80)]:
        try:
            socket.create_connection((host, port), timeout=1).close()
            reached.append(f"{host}:{port}")
        except OSError as exc:
            reached.append(f"{host}:{port} {type(exc).__name__}")
    try:
        socket.getaddrinfo("example.com", 80)
        reached.append("dns")
    except OSError:
        pass
    return "; ".join(reached)
