"""``tblog.Image``, ``Histogram``, ``Video``, ``Audio``, ``Text`` and ``Table``: the
values ``run.log`` turns into TensorBoard kinds other than scalars.

Each wrapper checks its input when it is made and writes itself with the public
``SummaryWriter`` methods (``_write``), so a bad value raises at the call that
made it.
"""

from __future__ import annotations

import io
import os
import re
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from tblog.tracking._run import Run

_CHANNELS = (1, 3, 4)
#: Rows of a Table shown in TensorBoard's text; the CSV always holds all of them.
TABLE_MARKDOWN_ROWS = 1000


def _module_of(value: Any) -> str:
    return type(value).__module__.partition(".")[0]


def is_figure(value: Any) -> bool:
    """A matplotlib Figure (without importing matplotlib)."""
    return _module_of(value) == "matplotlib" and hasattr(value, "canvas")


class Media:
    """Base of the logged wrappers."""

    def _write(self, run: Run, tag: str, step: int) -> None:
        raise NotImplementedError


def _as_0_255(data: Any) -> Any:
    """Float pixels above 1 are taken as 0-255 (uint8 after clipping); others unchanged."""
    if str(data.dtype) in ("uint8", "torch.uint8", "bool", "torch.bool"):
        return data
    if _module_of(data) == "torch":
        if data.is_floating_point() and float(data.max()) > 1:
            import torch  # the data is a tensor: torch is imported already

            return data.clamp(0, 255).round().to(dtype=torch.uint8)
        return data
    if np.issubdtype(data.dtype, np.floating) and data.size and float(np.nanmax(data)) > 1:
        return np.clip(np.nan_to_num(data), 0, 255).round().astype(np.uint8)
    if np.issubdtype(data.dtype, np.integer) and data.size and int(data.max()) > 1:
        return np.clip(data, 0, 255).astype(np.uint8)
    return data


class Image(Media):
    """An image for ``run.log`` (TensorBoard's Images dashboard).

    Args:
        data_or_path: a numpy array (``HW``, ``HWC`` or ``CHW`` with 1, 3 or 4
            channels), a torch tensor (``CHW`` or ``HW``), a PIL image, a
            matplotlib figure, or the path of an image file (needs Pillow).
            uint8 values are 0-255; floats and ints are 0-1 when no value
            exceeds 1, else 0-255 (clipped).
        mode: PIL mode to convert PIL images and files to (e.g. ``"RGB"``).
        caption: kept on the object and shown in a Table's text; TensorBoard's
            image cards have no caption.
        dataformats: axis order, overriding the guess above.

    Raises:
        TypeError: an unsupported ``data_or_path``.
        ValueError: an array whose shape is not an image.
    """

    def __init__(
        self,
        data_or_path: Any,
        mode: str | None = None,
        caption: str | None = None,
        dataformats: str | None = None,
    ) -> None:
        self.caption = caption
        self._figure = None
        if is_figure(data_or_path):
            self._figure = data_or_path
            self._data, self._format = None, ""
            return
        if isinstance(data_or_path, (str, os.PathLike)):
            try:
                from PIL import Image as PILImage
            except ImportError as exc:
                raise ImportError("tblog.Image(path) needs Pillow: pip install pillow") from exc
            with PILImage.open(data_or_path) as opened:
                if mode is None:
                    mode = "RGBA" if opened.mode in ("P", "LA", "PA") else None
                data_or_path = opened.convert(mode) if mode else opened.copy()
        if _module_of(data_or_path) == "PIL":
            if mode is not None:
                data_or_path = data_or_path.convert(mode)
            elif data_or_path.mode not in ("L", "RGB", "RGBA"):
                data_or_path = data_or_path.convert("RGB")
            data_or_path = np.asarray(data_or_path)
        if _module_of(data_or_path) == "torch":
            data = data_or_path.detach()
            shape = tuple(data.shape)
            guess = {2: "HW", 3: "CHW"}.get(len(shape))
        else:
            try:
                data = np.asarray(data_or_path)
            except Exception as exc:  # noqa: BLE001
                raise TypeError(f"tblog.Image: cannot use data_or_path: {exc}") from None
            if data.dtype == object or not (
                data.dtype == np.bool_ or np.issubdtype(data.dtype, np.number)
            ):
                raise TypeError(
                    f"tblog.Image: data_or_path must be an array of numbers, a PIL image, a "
                    f"figure or a path, got {type(data_or_path).__name__}"
                )
            shape = data.shape
            guess = None
            if data.ndim == 2:
                guess = "HW"
            elif data.ndim == 3:
                if shape[-1] in _CHANNELS:
                    guess = "HWC"
                elif shape[0] in _CHANNELS:
                    guess = "CHW"
        fmt = dataformats.upper() if dataformats else guess
        if fmt is None or len(fmt) != len(shape) or 0 in shape:
            raise ValueError(
                f"tblog.Image: data_or_path of shape {shape} is not an image "
                "(HW, HWC or CHW with 1, 3 or 4 channels; pass dataformats=)"
            )
        channels = shape[fmt.index("C")] if "C" in fmt else 1
        if channels not in _CHANNELS:
            raise ValueError(f"tblog.Image: {channels} channels in shape {shape}; need 1, 3 or 4")
        self._data, self._format = _as_0_255(data), fmt

    def _write(self, run: Run, tag: str, step: int) -> None:
        if self._figure is not None:
            run.writer.add_figure(tag, self._figure, step, close=False)
        else:
            run.writer.add_image(tag, self._data, step, dataformats=self._format)


class Histogram(Media):
    """A histogram for ``run.log`` (Histograms and Distributions dashboards).

    Args:
        sequence: the values (any shape; numpy, torch, list).
        np_histogram: ``(counts, edges)`` as ``np.histogram`` returns, instead.
        num_bins: bins for ``sequence`` (64 as wandb; ``"tensorflow"`` gives
            TensorBoard's default buckets).

    Raises:
        ValueError: neither or both of ``sequence`` and ``np_histogram``, or a
            malformed ``np_histogram``.
    """

    def __init__(
        self, sequence: Any = None, np_histogram: Any = None, num_bins: int | str = 64
    ) -> None:
        if (sequence is None) == (np_histogram is None):
            raise ValueError("tblog.Histogram: pass exactly one of sequence and np_histogram")
        self._values = sequence
        self._bins = num_bins
        self._raw = None
        if np_histogram is not None:
            try:
                counts, edges = (np.asarray(part, dtype=np.float64) for part in np_histogram)
            except (TypeError, ValueError) as exc:
                raise ValueError(
                    f"tblog.Histogram: np_histogram must be (counts, edges): {exc}"
                ) from None
            if counts.ndim != 1 or edges.shape != (counts.size + 1,) or counts.size == 0:
                raise ValueError(
                    "tblog.Histogram: np_histogram needs N counts and N + 1 edges, got "
                    f"{counts.shape} and {edges.shape}"
                )
            centers = (edges[:-1] + edges[1:]) / 2
            self._raw = (
                float(edges[0]), float(edges[-1]), float(counts.sum()),
                float((counts * centers).sum()), float((counts * centers**2).sum()),
                edges[1:].tolist(), counts.tolist(),
            )

    def _write(self, run: Run, tag: str, step: int) -> None:
        if self._raw is not None:
            low, high, num, total, squares, limits, counts = self._raw
            run.writer.add_histogram_raw(tag, low, high, num, total, squares, limits, counts, step)
        else:
            run.writer.add_histogram(tag, self._values, step, bins=self._bins)


class Video(Media):
    """A clip for ``run.log``: ``(T, C, H, W)`` or ``(N, T, C, H, W)``, written as
    an animated GIF (needs Pillow).

    Args:
        data: numpy array or torch tensor; uint8 0-255, other dtypes 0-1.
        fps: frames per second.
        caption: kept on the object; TensorBoard shows none.
        format: accepted for wandb compatibility; only GIF is written.

    Raises:
        TypeError: a path or other non-array ``data``.
        ValueError: not 4-D or 5-D.
    """

    def __init__(
        self, data: Any, fps: float = 4, caption: str | None = None, format: str | None = None
    ) -> None:
        if isinstance(data, (str, os.PathLike)):
            raise TypeError("tblog.Video: data must be an array (N, T, C, H, W), not a file")
        ndim = len(getattr(data, "shape", np.shape(data)))
        if ndim not in (4, 5):
            raise ValueError(f"tblog.Video: data must be (T, C, H, W) or (N, T, C, H, W), {ndim}-D")
        if ndim == 4:
            data = data[None]
        self._data, self.fps, self.caption = data, fps, caption

    def _write(self, run: Run, tag: str, step: int) -> None:
        run.writer.add_video(tag, self._data, step, fps=self.fps)


class Audio(Media):
    """A sound clip for ``run.log``: samples in [-1, 1], mono ``(L,)`` or stereo ``(L, 2)``.

    Raises:
        ValueError: ``sample_rate`` missing or not positive.
    """

    def __init__(
        self, data: Any, sample_rate: float | None = None, caption: str | None = None
    ) -> None:
        if sample_rate is None or not sample_rate > 0:
            raise ValueError(f"tblog.Audio: sample_rate must be a number > 0, got {sample_rate!r}")
        self._data, self.sample_rate, self.caption = data, sample_rate, caption

    def _write(self, run: Run, tag: str, step: int) -> None:
        run.writer.add_audio(tag, self._data, step, sample_rate=self.sample_rate)


class Text(Media):
    """Markdown text for ``run.log`` (a plain ``str`` value does the same)."""

    def __init__(self, text: str) -> None:
        if not isinstance(text, str):
            raise TypeError(f"tblog.Text: text must be a str, got {type(text).__name__}")
        self.text = text

    def _write(self, run: Run, tag: str, step: int) -> None:
        run.writer.add_text(tag, self.text, step)


def escape_cell(text: str) -> str:
    """``text`` safe in one markdown table cell: ``\\``, ``|`` escaped, newlines as ``<br>``."""
    text = text.replace("\\", "\\\\").replace("|", "\\|")
    return re.sub(r"\r\n|\r|\n", "<br>", text)


def _cell_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.6g}"
    if isinstance(value, np.generic):
        return _cell_text(value.item())
    return str(value)


def _safe_tag_path(tag: str) -> str:
    parts = [re.sub(r"[^\w.\-]", "_", part) for part in tag.split("/")]
    return "/".join(part if part.strip(".") else "_" for part in parts if part) or "table"


class Table(Media):
    """Rows of values for ``run.log``: a markdown table in TensorBoard's Text
    dashboard, the whole table as CSV in ``{logdir}/tables/``, and ``tblog.Image``
    cells as images tagged ``{key}/{column}/{row}``.

    Args:
        columns: column names (default ``["0", "1", ...]`` from the first row).
        data: rows, each a sequence with one value per column.
        dataframe: a pandas DataFrame instead of ``columns``/``data``.
        rows: wandb's older name for ``data``.

    Raises:
        TypeError: ``columns`` not a sequence of str, a row not a sequence.
        ValueError: a row whose length differs from the columns.
    """

    def __init__(
        self,
        columns: Sequence[str] | None = None,
        data: Sequence[Sequence[Any]] | None = None,
        rows: Sequence[Sequence[Any]] | None = None,
        dataframe: Any = None,
    ) -> None:
        if dataframe is not None:
            if not hasattr(dataframe, "columns") or not hasattr(dataframe, "itertuples"):
                raise TypeError(
                    "tblog.Table: dataframe must be a pandas DataFrame, "
                    f"got {type(dataframe).__name__}"
                )
            columns = [str(name) for name in dataframe.columns]
            data = [list(row) for row in dataframe.itertuples(index=False, name=None)]
        data = data if data is not None else rows
        if data is not None and (isinstance(data, (str, bytes)) or not hasattr(data, "__iter__")):
            raise TypeError(f"tblog.Table: data must be a list of rows, got {type(data).__name__}")
        data = [] if data is None else list(data)
        if columns is None:
            columns = [str(index) for index in range(len(data[0]) if data else 0)]
        if isinstance(columns, str) or not all(isinstance(name, str) for name in columns):
            raise TypeError(f"tblog.Table: columns must be a list of str, got {columns!r}")
        self.columns = list(columns)
        self.data: list[list[Any]] = []
        for row in data:
            self.add_data(*self._row(row))

    def _row(self, row: Any) -> list[Any]:
        if isinstance(row, (str, bytes)) or not hasattr(row, "__iter__"):
            raise TypeError(f"tblog.Table: a row must be a sequence of values, got {row!r}")
        return list(row)

    def add_data(self, *values: Any) -> None:
        """Append one row.

        Raises:
            ValueError: ``len(values)`` differs from the number of columns.
        """
        if len(values) != len(self.columns):
            raise ValueError(
                f"tblog.Table.add_data: {len(values)} values for {len(self.columns)} columns "
                f"{self.columns}"
            )
        self.data.append(list(values))

    def _image_tag(self, tag: str, column: int, row: int) -> str:
        return f"{tag}/{self.columns[column]}/{row}"

    def cells(self, tag: str) -> list[list[str]]:
        """The table's cells as text (image cells name their image tag)."""
        rows = []
        for r, row in enumerate(self.data):
            cells = []
            for c, value in enumerate(row):
                if isinstance(value, Image):
                    label = f"image {self._image_tag(tag, c, r)}"
                    cells.append(label + (f" ({value.caption})" if value.caption else ""))
                elif isinstance(value, Media):
                    cells.append(type(value).__name__)
                else:
                    cells.append(_cell_text(value))
            rows.append(cells)
        return rows

    def markdown(self, tag: str) -> str:
        """The table as a markdown table (first ``TABLE_MARKDOWN_ROWS`` rows)."""
        if not self.columns:
            return "(empty table)"
        cells = self.cells(tag)
        lines = [
            "| " + " | ".join(escape_cell(name) for name in self.columns) + " |",
            "|" + "---|" * len(self.columns),
        ]
        for row in cells[:TABLE_MARKDOWN_ROWS]:
            lines.append("| " + " | ".join(escape_cell(cell) for cell in row) + " |")
        if len(cells) > TABLE_MARKDOWN_ROWS:
            lines.append(f"\n({TABLE_MARKDOWN_ROWS} of {len(cells)} rows shown; all in the CSV)")
        return "\n".join(lines)

    def csv_bytes(self, tag: str) -> bytes:
        """The whole table as CSV (header row first)."""
        import csv

        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(self.columns)
        writer.writerows(self.cells(tag))
        return out.getvalue().encode("utf-8", "replace")

    def csv_path(self, tag: str, step: int) -> str:
        """Where the CSV of this table logged at ``step`` goes, inside the run dir."""
        return f"tables/{_safe_tag_path(tag)}/{step}.csv"

    def _write(self, run: Run, tag: str, step: int) -> None:
        for r, row in enumerate(self.data):
            for c, value in enumerate(row):
                if isinstance(value, Image):
                    value._write(run, self._image_tag(tag, c, r), step)
        run.writer.add_text(tag, self.markdown(tag), step)
        run._write_file(self.csv_path(tag, step), self.csv_bytes(tag))
