"""``tblog export | ls | compare | plot``: the reader's command line.

Tables are drawn with rich when stdout is a terminal (and rich is installed),
as plain aligned text otherwise (pipes, files, CI logs).
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import time
from collections.abc import Sequence
from typing import Any

EXPORT_FORMATS = {".csv": "csv", ".parquet": "parquet", ".pq": "parquet", ".json": "json",
                  ".jsonl": "jsonl"}
KINDS = ("scalars", "histograms", "text", "hparams", "tags")


def _common(parser: argparse.ArgumentParser, tags: bool = True) -> None:
    parser.add_argument("logdir", help="log directory, event file, or s3:// gs:// az:// URL")
    parser.add_argument("--runs", action="append", metavar="PATTERN",
                        help="only runs matching this glob (repeatable)")
    if tags:
        parser.add_argument("--tags", "--tag", dest="tags", action="append", metavar="PATTERN",
                            help="only tags matching this glob (repeatable)")
    parser.add_argument("--purge", default="tensorboard",
                        choices=("tensorboard", "legacy", "rust", "none"),
                        help="restart purge rule (default: TensorBoard's Python loader)")
    parser.add_argument("--no-crc", action="store_true", help="skip CRC checks (faster)")
    parser.add_argument("--strict", action="store_true",
                        help="fail on a corrupt record instead of warning")


def add_commands(commands: Any) -> None:
    """Register ``export``, ``ls``, ``compare`` and ``plot`` on argparse subparsers."""
    export = commands.add_parser("export", help="write a logdir's data to CSV, Parquet or JSON")
    _common(export)
    export.add_argument("-o", "--output", required=True,
                        help="out.csv, out.parquet or out.json (format from the extension)")
    export.add_argument("--kind", choices=KINDS, default="scalars",
                        help="what to export (default: scalars)")
    ls = commands.add_parser("ls", help="list runs and tags: step ranges, last values, sizes")
    _common(ls)
    compare = commands.add_parser("compare", help="final / min / max of a tag, per run")
    _common(compare, tags=False)
    compare.add_argument("--tag", "--tags", dest="tags", action="append", required=True,
                         metavar="PATTERN", help="tag glob (repeatable)")
    plot = commands.add_parser("plot", help="plot scalars to a PNG (one line per run)")
    _common(plot, tags=False)
    plot.add_argument("--tag", "--tags", dest="tags", action="append", required=True,
                      metavar="PATTERN", help="tag glob (repeatable): one chart per tag")
    plot.add_argument("-o", "--output", required=True, help="image file (png, svg, pdf)")
    plot.add_argument("--smoothing", type=float, default=0.0,
                      help="TensorBoard's smoothing weight in [0, 1) (default 0: none)")
    plot.add_argument("--x", choices=("step", "wall_time"), default="step", help="x axis")


def run(args: argparse.Namespace) -> int:
    """Run the parsed command; return the exit status."""
    from tblog.reader import read

    try:
        runs = read(args.logdir, runs=args.runs, tags=args.tags, purge=args.purge,
                    check_crc=not args.no_crc, strict=args.strict)
        return {"export": _export, "ls": _ls, "compare": _compare, "plot": _plot}[
            args.command](runs, args)
    except (FileNotFoundError, ImportError, ValueError) as exc:
        print(f"tblog {args.command}: {exc}", file=sys.stderr)
        return 2


def _export(runs: Any, args: argparse.Namespace) -> int:
    extension = os.path.splitext(args.output)[1].lower()
    fmt = EXPORT_FORMATS.get(extension)
    if fmt is None:
        raise ValueError(f"--output {args.output!r}: use a .csv, .parquet or .json file")
    frame = getattr(runs, args.kind)()
    if args.kind in ("histograms",):
        frame = frame.assign(buckets=[b.tolist() for b in frame["buckets"]])
    if args.kind == "text":
        frame = frame.assign(text=[t if isinstance(t, str) else t.tolist() for t in frame["text"]])
    if fmt == "csv":
        frame.to_csv(args.output, index=False)
    elif fmt == "parquet":
        try:
            import pyarrow  # noqa: F401
        except ImportError as exc:
            raise ImportError("Parquet export needs pyarrow: pip install 'tblog[read]'") from exc
        frame.to_parquet(args.output, index=False)
    else:
        _write_json(frame, args.output, lines=fmt == "jsonl")
    print(f"wrote {len(frame)} row(s) to {args.output}", file=sys.stderr)
    return 0


def _json_value(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")
    if isinstance(value, list):
        return [_json_value(v) for v in value]
    return value


def _write_json(frame: Any, path: str, lines: bool) -> None:
    """Records as JSON with every float exact (shortest repr); NaN as null."""
    import json

    columns = [str(c) for c in frame.columns]
    data = [frame[c].astype(object).tolist() for c in frame.columns]
    records = ({k: _json_value(v) for k, v in zip(columns, row, strict=True)}
               for row in zip(*data, strict=True))
    with open(path, "w", encoding="utf-8") as out:
        if lines:
            for record in records:
                out.write(json.dumps(record, allow_nan=False) + "\n")
        else:
            out.write("[")
            for i, record in enumerate(records):
                out.write(("," if i else "") + json.dumps(record, allow_nan=False))
            out.write("]\n")


def _size(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} GiB"  # pragma: no cover


def _when(wall: float) -> str:
    if not wall or math.isnan(wall):
        return "-"
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(wall))


def _number(value: Any) -> str:
    if isinstance(value, float):
        return "-" if math.isnan(value) else f"{value:.6g}"
    return str(value)


def table(title: str, columns: Sequence[str], rows: Sequence[Sequence[Any]],
          out: Any = None) -> None:
    """Print a table: rich on a terminal, aligned plain text otherwise."""
    out = out or sys.stdout
    cells = [[_number(v) for v in row] for row in rows]
    if out.isatty():
        try:
            from rich.console import Console
            from rich.table import Table
        except ImportError:
            pass
        else:
            rich_table = Table(title=title)
            for column in columns:
                rich_table.add_column(column)
            for row in cells:
                rich_table.add_row(*row)
            Console(file=out).print(rich_table)
            return
    widths = [max([len(c)] + [len(row[i]) for row in cells]) for i, c in enumerate(columns)]
    print(title, file=out)
    print("  ".join(c.ljust(w) for c, w in zip(columns, widths, strict=True)).rstrip(), file=out)
    for row in cells:
        print("  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)).rstrip(), file=out)


def _ls(runs: Any, args: argparse.Namespace) -> int:
    files = runs.files()
    tags = runs.tags()
    rows = []
    for name in runs.runs:
        mine = files[files["run"] == name]
        rows.append((name, int((tags["run"] == name).sum()), mine["series"].nunique(), len(mine),
                     _size(float(mine["size"].sum())), _when(float(mine["last_wall_time"].max()))))
    table(f"{len(runs.runs)} run(s) in {runs.logdir}",
          ("run", "tags", "writers", "files", "size", "last write"), rows)
    rows = [(r.run, r.tag, r.kind, r.count, f"{r.first_step}..{r.last_step}", r.last_value)
            for r in tags.itertuples(index=False)]
    print()
    table("tags", ("run", "tag", "kind", "points", "steps", "last value"), rows)
    for problem in runs.problems:
        print(f"damaged: {problem[0]}: {problem[1]} at offset {problem[2]}", file=sys.stderr)
    return 0


def _compare(runs: Any, args: argparse.Namespace) -> int:
    frame = runs.scalars()
    if frame.empty:
        print(f"tblog compare: no scalars match {args.tags}", file=sys.stderr)
        return 1
    rows = []
    for (run_name, tag), group in frame.groupby(["run", "tag"], observed=True, sort=True):
        values = group["value"]
        rows.append((run_name, tag, int(group["step"].iloc[-1]), float(values.iloc[-1]),
                     float(values.min()), float(values.max()), len(group)))
    table(f"compare {', '.join(args.tags)}", ("run", "tag", "last step", "final", "min", "max",
                                              "points"), rows)
    return 0


def _plot(runs: Any, args: argparse.Namespace) -> int:
    from tblog.reader import _plot

    frame = runs.scalars()
    if frame.empty:
        print(f"tblog plot: no scalars match {args.tags}", file=sys.stderr)
        return 1
    _plot.plot(frame, args.output, smoothing=args.smoothing, x=args.x)
    print(f"wrote {args.output}", file=sys.stderr)
    return 0
