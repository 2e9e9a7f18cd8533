"""A day of training, compressed: throughput and memory stay flat over a long run.

Not part of the unit tests. One writer logs ``--scalars`` scalars round-robin
over ``--tags`` tags (steps counting up, as a training run's do) and, every
``--scalars-per-histogram`` scalars, one histogram of ``--histogram-size``
values. The full size is issue 14's "24-hour-like run": 50M scalars over 1,000
tags and 1M histograms of 1,000 values (``--scale 1``, about 3 GB of events);
the default ``--scale 0.05`` is a twentieth of it.

The run is cut in ten equal parts; for each it reports the scalars per second
and the resident memory at its end, so a slowdown or a leak shows as a trend.
Then it checks every record (both CRCs, Event parse: ``tblog verify``'s
checker) and reads the whole run back with TensorBoard's own Python loader
(``EventFileLoader``), counting the scalars and histograms of every tag.

    python benchmarks/long_run.py                 # 2.5M scalars, 50k histograms
    python benchmarks/long_run.py --scale 1       # the full day (about an hour)

Exit status 1 if anything read back differs from what was logged.
"""

from __future__ import annotations

import argparse
import collections
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from stress import print_report, rss_bytes  # noqa: E402

from tblog import SummaryWriter  # noqa: E402
from tblog._verify import verify_logdir  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scale", type=float, default=0.05, help="of the full day (default 0.05)")
    parser.add_argument("--tags", type=int, default=1000)
    parser.add_argument("--scalars-per-histogram", type=int, default=50)
    parser.add_argument("--histogram-size", type=int, default=1000)
    parser.add_argument("--logdir", help="where to write (default: a temporary dir, removed)")
    parser.add_argument("--json", action="store_true", help="print the report as one JSON line")
    args = parser.parse_args(argv)

    total = int(50_000_000 * args.scale) // 10 * 10
    part = total // 10
    tags = [f"metrics/tag{k:04d}" for k in range(args.tags)]
    weights = np.random.default_rng(0).standard_normal(args.histogram_size).astype(np.float32)
    logdir = args.logdir or tempfile.mkdtemp(prefix="tblog-long-")
    writer = SummaryWriter(logdir)
    parts = []
    histograms = 0
    start = time.perf_counter()
    for begin in range(0, total, part):
        part_start = time.perf_counter()
        for i in range(begin, begin + part):
            writer.add_scalar(tags[i % args.tags], i * 1e-6, i // args.tags)
            if i % args.scalars_per_histogram == 0:
                weights += 1e-3  # a training step changes the weights
                writer.add_histogram("weights", weights, histograms)
                histograms += 1
        seconds = time.perf_counter() - part_start
        rss_mib = round(rss_bytes() / 2**20, 1)
        parts.append({"scalars_per_s": round(part / seconds), "rss_mib": rss_mib})
    writer.close()
    elapsed = time.perf_counter() - start

    reports = verify_logdir(logdir)
    records = sum(r.records for r in reports)
    valid = all(r.status == "ok" for r in reports) and records == total + histograms + 1
    read_start = time.perf_counter()
    scalars_read, histograms_read = count_with_tensorboard(logdir)
    read_seconds = time.perf_counter() - read_start
    expected_per_tag = {tag: total // args.tags for tag in tags}
    read_ok = scalars_read == expected_per_tag and histograms_read == histograms
    rates = [p["scalars_per_s"] for p in parts]
    report = {
        "scalars": total,
        "histograms": histograms,
        "seconds": round(elapsed, 1),
        "scalars_per_s_by_tenth": rates,
        "slowest_tenth_vs_median": round(min(rates) / sorted(rates)[len(rates) // 2], 3),
        "rss_mib_by_tenth": [p["rss_mib"] for p in parts],
        "event_files": len(reports),
        "file_mib": round(sum(os.path.getsize(r.path) for r in reports) / 2**20, 1),
        "records_verified": records,
        "valid": valid,
        "tensorboard_read_s": round(read_seconds, 1),
        "tensorboard_read_ok": read_ok,
    }
    print_report(report, args.json)
    if not args.logdir:
        shutil.rmtree(logdir, ignore_errors=True)
    return 0 if valid and read_ok else 1


def count_with_tensorboard(logdir: str) -> tuple[dict[str, int], int]:
    """Scalars per tag and histograms, as TensorBoard's Python loader reads them."""
    from tensorboard.backend.event_processing.event_file_loader import EventFileLoader

    scalars: collections.Counter[str] = collections.Counter()
    histograms = 0
    for path in sorted(Path(logdir).glob("*tfevents*")):
        for event in EventFileLoader(str(path)).Load():
            for value in event.summary.value:  # migrated: every kind is a tensor
                plugin = value.metadata.plugin_data.plugin_name
                if plugin == "histograms":
                    histograms += 1
                elif plugin == "scalars":
                    scalars[value.tag] += 1
    return dict(scalars), histograms


if __name__ == "__main__":
    sys.exit(main())
