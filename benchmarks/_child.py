"""Run one workload once against one library and print one JSON line.

Usage: python benchmarks/_child.py LIB WORKLOAD LOGDIR SCALE

Started by run.py in a fresh interpreter per measurement.  The first thing it does is
time ``from <lib> import SummaryWriter`` with nothing but the interpreter's startup
modules loaded; only then does it import the workload registry and the rest, build the
workload's inputs (untimed) and time ``run()``.  Workloads with ``includes_import``
report import + run; the others report run only.
"""

import sys
import time

from libraries import LIBRARIES


def main(argv: list[str]) -> None:
    if len(argv) != 5:
        sys.exit(f"usage: {argv[0]} LIB WORKLOAD LOGDIR SCALE")
    lib, name, logdir, scale = argv[1], argv[2], argv[3], float(argv[4])
    module = LIBRARIES[lib]

    start = time.perf_counter()
    __import__(module)  # == `from <module> import SummaryWriter`, without importlib
    summary_writer = sys.modules[module].SummaryWriter
    import_seconds = time.perf_counter() - start

    # Deliberately imported late: see the module docstring.
    import json
    import resource

    from workloads import WORKLOADS

    workload = WORKLOADS[name]
    run = workload.fn(summary_writer, logdir, scale)
    start = time.perf_counter()
    logged = run()
    run_seconds = time.perf_counter() - start

    peak_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    if sys.platform != "darwin":
        peak_rss *= 1024  # Linux reports KiB, macOS bytes
    package = sys.modules[module.partition(".")[0]]
    result = {
        "lib": lib,
        "workload": name,
        "scale": scale,
        "seconds": import_seconds + run_seconds if workload.includes_import else run_seconds,
        "import_seconds": import_seconds,
        "run_seconds": run_seconds,
        "peak_rss_bytes": peak_rss,
        "values_logged": logged,
        "version": str(getattr(package, "__version__", None) or "") or None,
        "module_file": getattr(package, "__file__", None),
    }
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main(sys.argv)
