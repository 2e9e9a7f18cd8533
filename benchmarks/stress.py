"""Stress: sustained logging from several threads, with periodic flushes.

Not part of the unit tests. Logs scalars into ONE SummaryWriter from
``--threads`` threads for ``--seconds`` (or until ``--scalars`` in total),
while another thread calls ``flush()`` every ``--flush-every`` seconds and a
sampler records the process's resident memory. Then it closes the writer,
checks every record with ``tblog verify``'s checker (count, both CRCs, Event
parse, finite wall_time) and reports throughput and memory.

    python benchmarks/stress.py                      # 4 threads, 60 s
    python benchmarks/stress.py --seconds 10 --threads 8
    python benchmarks/stress.py --threads 1 --scalars 10000000   # RSS stays flat

Exit status 1 if the file does not hold exactly the logged records.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from tblog import SummaryWriter  # noqa: E402
from tblog._verify import verify_logdir  # noqa: E402


def rss_bytes() -> int:
    """Current resident set size (Linux /proc; elsewhere the peak so far)."""
    try:
        with open("/proc/self/statm") as statm:
            return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except OSError:
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        return peak if sys.platform == "darwin" else peak * 1024


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=60.0, help="how long to log (default 60)")
    parser.add_argument("--threads", type=int, default=4, help="logging threads (default 4)")
    parser.add_argument(
        "--scalars", type=int, default=0, help="stop after this many scalars in total instead"
    )
    parser.add_argument("--flush-every", type=float, default=0.5, help="seconds between flushes")
    parser.add_argument("--max-queue", type=int, default=10, help="the writer's max_queue")
    parser.add_argument("--logdir", help="where to write (default: a temporary dir, removed)")
    parser.add_argument("--json", action="store_true", help="print the report as one JSON line")
    args = parser.parse_args(argv)

    logdir = args.logdir or tempfile.mkdtemp(prefix="tblog-stress-")
    writer = SummaryWriter(logdir, max_queue=args.max_queue)
    stop = threading.Event()
    counts = [0] * args.threads
    per_thread = -(-args.scalars // args.threads) if args.scalars else 0
    deadline = time.monotonic() + (args.seconds if not args.scalars else 10**9)
    samples: list[int] = []

    def log(k: int) -> None:
        tag = f"thread{k}/loss"
        step = 0
        while not stop.is_set():
            for _ in range(1000):  # check the clock every 1000 scalars
                writer.add_scalar(tag, step * 1e-3, step)
                step += 1
            counts[k] = step
            if (per_thread and step >= per_thread) or time.monotonic() >= deadline:
                return

    def flush() -> None:
        while not stop.wait(args.flush_every):
            writer.flush()

    def sample() -> None:
        while not stop.wait(0.25):
            samples.append(rss_bytes())

    helpers = [threading.Thread(target=flush), threading.Thread(target=sample)]
    loggers = [threading.Thread(target=log, args=(k,)) for k in range(args.threads)]
    rss_start = rss_bytes()
    start = time.perf_counter()
    for thread in helpers + loggers:
        thread.start()
    for thread in loggers:
        thread.join()
    elapsed = time.perf_counter() - start
    stop.set()
    for thread in helpers:
        thread.join()
    writer.close()
    total = sum(counts)

    reports = verify_logdir(logdir)
    records = sum(r.records for r in reports)
    ok = all(r.status == "ok" for r in reports) and records == total + 1  # + file header
    settled = samples[len(samples) // 4 :] or [rss_bytes()]  # after warm-up
    report = {
        "threads": args.threads,
        "seconds": round(elapsed, 2),
        "scalars": total,
        "scalars_per_s": round(total / elapsed),
        "rss_start_mib": round(rss_start / 2**20, 1),
        "rss_max_mib": round(max(samples or [rss_bytes()]) / 2**20, 1),
        "rss_growth_after_warmup_mib": round((settled[-1] - settled[0]) / 2**20, 1),
        "file_mib": round(sum(os.path.getsize(r.path) for r in reports) / 2**20, 1),
        "records_verified": records,
        "valid": ok,
    }
    print_report(report, args.json)
    if not args.logdir:
        shutil.rmtree(logdir, ignore_errors=True)
    return 0 if ok else 1


def print_report(report: dict[str, object], as_json: bool) -> None:
    """One JSON line, or one aligned ``key: value`` line per entry."""
    if as_json:
        print(json.dumps(report))
        return
    width = max(map(len, report))
    for key, value in report.items():
        print(f"{key:>{width}}: {value}")


if __name__ == "__main__":
    sys.exit(main())
