"""Scalars: ``simple_value`` (legacy) or a rank-0 DT_FLOAT tensor (new style)."""

from __future__ import annotations

from tblog.proto import summary_pb2, tensor_pb2, types_pb2

PLUGIN_NAME = "scalars"


def metadata() -> summary_pb2.SummaryMetadata:
    """Metadata of a tensor-style scalar: plugin ``scalars``, empty content."""
    return summary_pb2.SummaryMetadata(
        plugin_data=summary_pb2.SummaryMetadata.PluginData(plugin_name=PLUGIN_NAME),
        data_class=summary_pb2.DATA_CLASS_SCALAR,
    )


def summary(tag: str, value: float, new_style: bool = False) -> bytes:
    """Serialized one-value ``Summary`` holding ``value`` as a float32.

    ``SummaryWriter.add_scalar`` encodes the legacy form itself
    (``tblog._scalar_event``, proven equal to this).

    Args:
        tag: the series name.
        value: the number (stored as float32, as TensorBoard plots it).
        new_style: write a rank-0 DT_FLOAT tensor with ``scalars`` metadata
            instead of the legacy ``simple_value``. Both show in both loaders.
    """
    if not new_style:
        value_proto = summary_pb2.Summary.Value(tag=tag, simple_value=value)
        return summary_pb2.Summary(value=[value_proto]).SerializeToString()
    tensor = tensor_pb2.TensorProto(dtype=types_pb2.DT_FLOAT, float_val=[value])
    return summary_pb2.Summary(
        value=[summary_pb2.Summary.Value(tag=tag, tensor=tensor, metadata=metadata())]
    ).SerializeToString()
