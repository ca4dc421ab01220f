"""A seccomp filter for the sandbox: the kernel's key store is closed to student code.

Namespaces give each run its own processes, files, network and IPC, but not its own kernel
keyrings: keys belong to a uid, and a worker's uid grades one submission after another, so a
key one submission adds (add_key) another could read (keyctl) — a channel between
submissions that outlives every process and file of the run. The filter makes add_key,
request_key and keyctl fail with EPERM for every process of the sandbox, in each ABI the
machine can run (x86-64 with its 32-bit i386 calls, and x32 calls refused whole; arm64 with
32-bit arm). Nothing the harness or numpy and torch do needs the key store.

The program is classic BPF, as bwrap --seccomp FD reads it: struct sock_filter entries
(u16 code, u8 jt, u8 jf, u32 k) in the machine's byte order.
"""

from __future__ import annotations

import os
import platform
import struct
import tempfile

SECCOMP_RET_ALLOW = 0x7FFF0000
SECCOMP_RET_ERRNO = 0x00050000
EPERM = 1
LD_ABS_W, JEQ_K, JGE_K, RET_K = 0x20, 0x15, 0x35, 0x06
NR_OFFSET, ARCH_OFFSET = 0, 4
X32_BIT = 0x40000000

# audit arch -> the numbers of (add_key, request_key, keyctl) in that ABI
KEY_CALLS = {
    "x86_64": {0xC000003E: (248, 249, 250), 0x40000003: (286, 287, 288)},
    "aarch64": {0xC00000B7: (217, 218, 219), 0x40000028: (309, 310, 311)},
}


def _insn(code: int, k: int, jt: int = 0, jf: int = 0) -> bytes:
    return struct.pack("=HBBI", code, jt, jf, k)


def key_store_filter(machine: str | None = None) -> bytes | None:
    """The filter's program for this machine (platform.machine()), or None where the
    numbers of the key calls are not known here (the sandbox then runs without it)."""
    arches = KEY_CALLS.get(machine or platform.machine())
    if arches is None:
        return None
    body: list[tuple] = [("ld", ARCH_OFFSET)]
    for arch, numbers in arches.items():
        # if arch: load nr; (x86-64 only: refuse x32); refuse the key calls; else allow
        block: list[tuple] = [("ld", NR_OFFSET)]
        if arch == 0xC000003E:
            block.append(("jge", X32_BIT))
        block += [("jeq", nr) for nr in numbers]
        block.append(("allow",))
        body.append(("arch", arch, len(block)))
        body += block
    body.append(("allow",))
    allow_at = len(body)  # the shared ALLOW, then DENY, after the body
    deny_at = allow_at + 1
    program = []
    for i, op in enumerate(body):
        if op[0] == "ld":
            program.append(_insn(LD_ABS_W, op[1]))
        elif op[0] == "arch":  # into the block when the arch matches, else past it
            program.append(_insn(JEQ_K, op[1], 0, op[2]))
        elif op[0] in ("jeq", "jge"):
            code = JEQ_K if op[0] == "jeq" else JGE_K
            program.append(_insn(code, op[1], deny_at - (i + 1), 0))
        else:
            program.append(_insn(JEQ_K, 0, allow_at - (i + 1), allow_at - (i + 1)))
    program.append(_insn(RET_K, SECCOMP_RET_ALLOW))
    program.append(_insn(RET_K, SECCOMP_RET_ERRNO | EPERM))
    return b"".join(program)


def filter_fd(machine: str | None = None) -> int | None:
    """A readable file descriptor holding the filter, for bwrap --seccomp (the caller closes
    it once bwrap has started), or None where there is no filter for this machine."""
    program = key_store_filter(machine)
    if program is None:
        return None
    with tempfile.TemporaryFile(prefix="effdl-seccomp-") as fh:
        fh.write(program)
        fh.flush()
        fd = os.dup(fh.fileno())
    os.lseek(fd, 0, os.SEEK_SET)
    return fd
