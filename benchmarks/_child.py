"""Run one workload once against one library and print one JSON line.

Usage: python benchmarks/_child.py LIB WORKLOAD LOGDIR SCALE

Started by run.py in a fresh interpreter per measurement.  Only the standard library
(and workloads.py, which is stdlib-only) is imported before the clock starts, so the
``import_first_writer`` workload sees a cold ``import <lib>``.
"""

import importlib
import json
import resource
import sys
import time

from workloads import LIBRARIES, WORKLOADS, WriterClass


def load_writer_class(lib: str) -> WriterClass:
    return importlib.import_module(LIBRARIES[lib].module).SummaryWriter


def peak_rss_bytes() -> int:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak if sys.platform == "darwin" else peak * 1024  # Linux reports KiB


def main(argv: list[str]) -> None:
    if len(argv) != 5:
        sys.exit(f"usage: {argv[0]} LIB WORKLOAD LOGDIR SCALE")
    lib, name, logdir, scale = argv[1], argv[2], argv[3], float(argv[4])
    workload = WORKLOADS[name]

    if workload.includes_import:
        start = time.perf_counter()
        run = workload.fn(load_writer_class(lib), logdir, scale)
        logged = run()
        seconds = time.perf_counter() - start
    else:
        run = workload.fn(load_writer_class(lib), logdir, scale)
        start = time.perf_counter()
        logged = run()
        seconds = time.perf_counter() - start

    rss = peak_rss_bytes()
    package = sys.modules[LIBRARIES[lib].module.partition(".")[0]]
    result = {
        "lib": lib,
        "workload": name,
        "scale": scale,
        "seconds": seconds,
        "peak_rss_bytes": rss,
        "values_logged": logged,
        "version": getattr(package, "__version__", None),
        "module_file": getattr(package, "__file__", None),
    }
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main(sys.argv)
