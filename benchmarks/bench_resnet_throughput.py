"""Training throughput of ResNet-20 (images per second, forward + backward + SGD step).

Times full training steps of `effdl.models.ResNetCIFAR` on random 3x32x32 batches (batch 256
by default) after a few warm-up steps, on the CPU and, when one is available, on a CUDA GPU.
It times several rounds and reports the fastest, the one least disturbed by other work on
the machine (the speed of every round goes to stderr). Prints one Markdown table row per device; ``--append`` adds the rows to a Markdown file
(docs/benchmarks.md), under the table of its ResNet-20 section.

    python benchmarks/bench_resnet_throughput.py                 # CPU (+ CUDA if present)
    python benchmarks/bench_resnet_throughput.py --device cuda --iters 50
    python benchmarks/bench_resnet_throughput.py --append docs/benchmarks.md
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F

try:
    from effdl.models import ResNetCIFAR
except ImportError:  # run from a checkout without installing the package
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "lib"))
    from effdl.models import ResNetCIFAR

HEADER = (
    "| date | device | batch | input | Nbits | images/s | ms/step | torch | threads |\n"
    "| --- | --- | ---: | --- | --- | ---: | ---: | --- | ---: |"
)


def cpu_model() -> str:
    """The CPU's model name from /proc/cpuinfo (Linux), else what platform reports."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def device_name(device: torch.device) -> str:
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    return f"CPU ({cpu_model()}, {os.cpu_count()} cores)"


def measure(
    device: torch.device,
    batch: int = 256,
    size: int = 32,
    warmup: int = 3,
    iters: int = 10,
    nbits: int | None = None,
    repeat: int = 3,
) -> dict:
    """Time ``repeat`` rounds of ``iters`` training steps after ``warmup`` steps.

    Returns throughput figures of the fastest round, and the images/s of every round.
    """
    torch.manual_seed(0)
    net = ResNetCIFAR(Nbits=nbits).to(device).train()
    optimizer = torch.optim.SGD(net.parameters(), lr=0.01, momentum=0.875, weight_decay=1e-4)
    x = torch.randn(batch, 3, size, size, device=device)
    y = torch.randint(0, 10, (batch,), device=device)

    def step() -> None:
        optimizer.zero_grad(set_to_none=True)
        F.cross_entropy(net(x), y).backward()
        optimizer.step()

    def sync() -> None:
        if device.type == "cuda":
            torch.cuda.synchronize(device)

    for _ in range(warmup):
        step()
    sync()
    rounds = []
    for _ in range(repeat):
        start = time.perf_counter()
        for _ in range(iters):
            step()
        sync()
        rounds.append(time.perf_counter() - start)
    # The fastest round is the one least disturbed by other work on the machine.
    seconds = min(rounds)
    return {
        "device": device_name(device),
        "batch": batch,
        "size": size,
        "nbits": nbits,
        "images_per_s": batch * iters / seconds,
        "ms_per_step": 1000 * seconds / iters,
        "threads": torch.get_num_threads() if device.type == "cpu" else "-",
        "rounds_images_per_s": [batch * iters / r for r in rounds],
    }


def markdown_row(result: dict) -> str:
    return (
        f"| {datetime.date.today().isoformat()} | {result['device']} | {result['batch']} | "
        f"3x{result['size']}x{result['size']} | {result['nbits'] or 'fp32'} | "
        f"{result['images_per_s']:.0f} | {result['ms_per_step']:.0f} | {torch.__version__} | "
        f"{result['threads']} |"
    )


def append_rows(path: Path, rows: list[str]) -> None:
    """Add ``rows`` to the table under the "ResNet-20" section of ``path`` (created if new)."""
    text = path.read_text() if path.exists() else "# Benchmarks\n"
    lines = text.rstrip("\n").splitlines()
    start = next((i for i, line in enumerate(lines) if line.startswith("## ResNet-20")), None)
    if start is None:
        lines += ["", "## ResNet-20 training throughput", "", *HEADER.splitlines()]
        insert_at = len(lines)
    else:
        end = next(
            (i for i in range(start + 1, len(lines)) if lines[i].startswith("## ")), len(lines)
        )
        table_rows = [i for i in range(start, end) if lines[i].startswith("|")]
        if table_rows:
            insert_at = table_rows[-1] + 1
        else:
            lines[end:end] = ["", *HEADER.splitlines()]
            insert_at = end + 3
    lines[insert_at:insert_at] = rows
    path.write_text("\n".join(lines) + "\n")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--device",
        choices=["auto", "cpu", "cuda"],
        default="auto",
        help="auto: the CPU, and CUDA as well when available",
    )
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--size", type=int, default=32, help="input height and width")
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--iters", type=int, default=10, help="timed steps per round")
    parser.add_argument("--repeat", type=int, default=3, help="rounds; the fastest is reported")
    parser.add_argument("--nbits", type=int, default=None, help="quantize the body (QAT cost)")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    parser.add_argument("--append", type=Path, help="Markdown file to add the rows to")
    args = parser.parse_args(argv)

    if args.threads:
        torch.set_num_threads(args.threads)
    devices = []
    if args.device in ("auto", "cpu"):
        devices.append(torch.device("cpu"))
    if args.device == "cuda" or (args.device == "auto" and torch.cuda.is_available()):
        if not torch.cuda.is_available():
            parser.error("--device cuda: no CUDA device is available")
        devices.append(torch.device("cuda"))

    rows = []
    print(HEADER)
    for device in devices:
        result = measure(
            device, args.batch, args.size, args.warmup, args.iters, args.nbits, args.repeat
        )
        rows.append(markdown_row(result))
        print(rows[-1], flush=True)
        spread = ", ".join(f"{r:.0f}" for r in result["rounds_images_per_s"])
        print(f"  images/s per round: {spread}", file=sys.stderr)
    if args.append:
        append_rows(args.append, rows)
        print(f"appended {len(rows)} row(s) to {args.append}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
