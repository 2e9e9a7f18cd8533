"""Custom scalars: a chart layout stored as a serialized ``Layout`` in a rank-0
DT_STRING tensor under the tag ``custom_scalars__config__``.

A layout is ``{category: {chart title: [kind, tags]}}`` with kind
``"Multiline"`` (any number of tags, or regular expressions) or ``"Margin"``
(exactly three tags: value, lower bound, upper bound), as in torch.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from tblog.proto import layout_pb2, summary_pb2
from tblog.summary.tensor import DT_STRING, metadata_bytes, summary_bytes, tensor_bytes, value_bytes

PLUGIN_NAME = "custom_scalars"
CONFIG_TAG = "custom_scalars__config__"
CHART_KINDS = ("Multiline", "Margin")


def _tags(chart: str, tags: Any) -> list[str]:
    if isinstance(tags, str) or not isinstance(tags, Sequence):
        raise TypeError(
            f"chart {chart!r}: tags must be a list of str, got {type(tags).__name__}"
        )
    for tag in tags:
        if not isinstance(tag, str):
            raise TypeError(f"chart {chart!r}: tags must be str, got {tag!r}")
    return list(tags)


def margin_tags(tags: Any, chart: str = "untitled") -> list[str]:
    """The three tags of a margin chart: value, lower, upper."""
    tags = _tags(chart, tags)
    if len(tags) != 3:
        raise ValueError(
            f"chart {chart!r}: a Margin chart needs exactly 3 tags (value, lower, "
            f"upper), got {len(tags)}: {tags!r}"
        )
    return tags


def layout_proto(layout: Mapping[str, Mapping[str, Sequence[Any]]]) -> layout_pb2.Layout:
    """The ``Layout`` message of a torch-style layout dict.

    Raises:
        TypeError: the layout, a category or a chart has the wrong type.
        ValueError: an unknown chart kind, or a Margin chart without 3 tags.
    """
    if not isinstance(layout, Mapping):
        raise TypeError(
            "layout must be a dict {category: {chart: [kind, tags]}}, "
            f"got {type(layout).__name__}"
        )
    result = layout_pb2.Layout()
    for category, charts in layout.items():
        if not isinstance(category, str) or not isinstance(charts, Mapping):
            raise TypeError(
                f"layout[{category!r}] must map a str category to a dict of charts, "
                f"got {type(charts).__name__}"
            )
        section = result.category.add(title=category)
        for title, spec in charts.items():
            if (
                not isinstance(title, str)
                or isinstance(spec, str)
                or not isinstance(spec, Sequence)
                or len(spec) != 2
            ):
                raise TypeError(
                    f"layout[{category!r}][{title!r}] must be [kind, tags] with a str "
                    f"title, got {spec!r}"
                )
            kind, tags = spec
            chart = section.chart.add(title=title)
            if kind == "Multiline":
                chart.multiline.tag.extend(_tags(title, tags))
            elif kind == "Margin":
                value, lower, upper = margin_tags(tags, title)
                chart.margin.series.add(value=value, lower=lower, upper=upper)
            else:
                raise ValueError(
                    f"layout[{category!r}][{title!r}]: chart kind must be one of "
                    f"{CHART_KINDS}, got {kind!r}"
                )
    return result


def merge(into: layout_pb2.Layout, layout: layout_pb2.Layout) -> None:
    """Add ``layout``'s charts to ``into``: same-titled categories are merged,
    and a chart replaces an earlier one of the same title in its category."""
    categories = {category.title: category for category in into.category}
    for category in layout.category:
        target = categories.get(category.title)
        if target is None:
            target = into.category.add(title=category.title, closed=category.closed)
            categories[category.title] = target
        for chart in category.chart:
            for index, existing in enumerate(target.chart):
                if existing.title == chart.title:
                    del target.chart[index]
                    break
            target.chart.add().CopyFrom(chart)


def metadata() -> summary_pb2.SummaryMetadata:
    """The ``custom_scalars`` plugin's metadata (no content)."""
    return summary_pb2.SummaryMetadata.FromString(metadata_bytes(PLUGIN_NAME))


def summary(layout: layout_pb2.Layout) -> bytes:
    """Serialized ``Summary`` holding ``layout`` as torch writes it."""
    tensor = tensor_bytes(DT_STRING, [], strings=[layout.SerializeToString()])
    return summary_bytes(value_bytes(CONFIG_TAG, tensor, metadata_bytes(PLUGIN_NAME)))
