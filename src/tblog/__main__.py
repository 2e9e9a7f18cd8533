"""The ``tblog`` command line (also ``python -m tblog``): ``verify``, and the reader's
``export``, ``ls``, ``compare`` and ``plot``."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence


def main(argv: Sequence[str] | None = None) -> int:
    """Run a ``tblog`` subcommand; return its exit status."""
    from tblog import _verify
    from tblog.reader import _cli

    parser = argparse.ArgumentParser(prog="tblog", description="tblog command line tools")
    commands = parser.add_subparsers(
        dest="command", metavar="{verify,export,ls,compare,plot}", required=True
    )
    verify = commands.add_parser(
        "verify",
        help="check every event file under LOGDIR (CRCs, Event parse, finite wall_time)",
        description=_verify.__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _verify.add_arguments(verify)
    _cli.add_commands(commands)
    args = parser.parse_args(argv)
    if args.command == "verify":
        return _verify.run(args.logdir, strict=args.strict, quiet=args.quiet)
    if args.command in ("export", "ls", "compare", "plot"):
        return _cli.run(args)
    parser.error(f"unknown command {args.command!r}")  # pragma: no cover - argparse rejects it
    return 2


if __name__ == "__main__":
    sys.exit(main())
