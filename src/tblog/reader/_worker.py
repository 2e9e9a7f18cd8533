"""A process that scans event files for a parallel read.

Started by ``_discover`` as ``python -m tblog.reader._worker`` (never through
``multiprocessing``, which would re-import the caller's ``__main__``). It reads
``(jobs, check_crc)`` pickled on stdin, each job a path and the file's bytes (None:
read the local file), and writes the pickled list of scans to stdout.
"""

from __future__ import annotations

import pickle
import sys


def main() -> None:
    """Scan the files given on stdin; pickle the results to stdout."""
    from tblog.reader._discover import _scan_local
    from tblog.reader._scan import scan

    jobs, check_crc = pickle.load(sys.stdin.buffer)
    results = [_scan_local(path, check_crc) if data is None else scan(data, path, check_crc)
               for path, data in jobs]
    pickle.dump(results, sys.stdout.buffer, protocol=pickle.HIGHEST_PROTOCOL)
    sys.stdout.buffer.flush()


if __name__ == "__main__":
    main()
