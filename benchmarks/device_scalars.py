"""Per-step cost of logging a GPU loss with torch's writer and with tblog's.

Usage: python benchmarks/device_scalars.py [--steps 2000] [--reps 5]

A small MLP trains on random data on the GPU; every step logs the loss tensor
with ``add_scalar(tag, loss, step)``. torch's writer calls ``.item()`` (one
device synchronisation per step, stalling the queue of kernels); tblog keeps
the tensor and copies a batch at a time (``tblog._device_scalars``). Reported:
median ms per step for the bare loop, torch and tblog, interleaved, and each
writer's overhead over the bare loop. Needs CUDA (or MPS); exits 0 with a note
without one.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=2000)
    parser.add_argument("--reps", type=int, default=5)
    args = parser.parse_args()
    import torch

    if torch.cuda.is_available():
        device = torch.device("cuda")
        sync = torch.cuda.synchronize
    elif getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
        device, sync = torch.device("mps"), torch.mps.synchronize
    else:
        print("no CUDA or MPS device: nothing to measure")
        return 0
    from torch.utils.tensorboard import SummaryWriter as TorchWriter

    from tblog import SummaryWriter as TblogWriter

    model = torch.nn.Sequential(torch.nn.Linear(784, 256), torch.nn.ReLU(),
                                torch.nn.Linear(256, 10)).to(device)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01)
    inputs = torch.randn(64, 784, device=device)
    targets = torch.randint(0, 10, (64,), device=device)

    def loop(writer: object | None) -> float:
        sync()
        start = time.perf_counter()
        for step in range(args.steps):
            optimizer.zero_grad(set_to_none=True)
            loss = torch.nn.functional.cross_entropy(model(inputs), targets)
            loss.backward()
            optimizer.step()
            if writer is not None:
                writer.add_scalar("loss", loss.detach(), step)
        if writer is not None:
            writer.flush()
        sync()
        return (time.perf_counter() - start) / args.steps * 1e3

    results: dict[str, list[float]] = {"bare": [], "torch": [], "tblog": []}
    for rep in range(args.reps + 1):  # the first round warms up
        for name in results:
            with tempfile.TemporaryDirectory() as logdir:
                writer = {"bare": lambda: None, "torch": lambda: TorchWriter(logdir),
                          "tblog": lambda: TblogWriter(logdir)}[name]()
                ms = loop(writer)
                if writer is not None:
                    writer.close()
            if rep:
                results[name].append(ms)
    bare = statistics.median(results["bare"])
    print(f"device {device}, {args.steps} steps, {args.reps} reps (medians)")
    for name, times in results.items():
        ms = statistics.median(times)
        print(f"{name:6} {ms:8.4f} ms/step  overhead {ms - bare:+8.4f} ms ({ms / bare - 1:+.1%})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
