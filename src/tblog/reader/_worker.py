"""A process that scans event files for a parallel read.

Started by ``_discover`` as ``python -m tblog.reader._worker`` (never through
``multiprocessing``, which would re-import the caller's ``__main__``). It reads
``(paths, check_crc)`` pickled on stdin and writes the pickled list of scans to stdout.
"""

from __future__ import annotations

import pickle
import sys


def main() -> None:
    """Scan the files named on stdin; pickle the results to stdout."""
    from tblog.reader._discover import _scan_local

    paths, check_crc = pickle.load(sys.stdin.buffer)
    results = [_scan_local(path, check_crc) for path in paths]
    pickle.dump(results, sys.stdout.buffer, protocol=pickle.HIGHEST_PROTOCOL)
    sys.stdout.buffer.flush()


if __name__ == "__main__":
    main()
