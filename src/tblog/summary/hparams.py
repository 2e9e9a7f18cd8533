"""Hyperparameters: the ``hparams`` plugin's three metadata-only summaries.

``_hparams_/experiment`` declares the columns (hparams with their types and
optional discrete domains, and the metric tags); ``_hparams_/session_start_info``
holds one run's values; ``_hparams_/session_end_info`` its status. Each is a
``Summary.Value`` with only ``metadata`` (plugin ``hparams``, content a
serialized ``HParamsPluginData``); both TensorBoard loaders fill in a null
tensor. Metric values are ordinary scalars in the same run.

Values here are already converted: ``str``, ``bool`` or ``float``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from google.protobuf import struct_pb2

from tblog.proto import hparams_api_pb2, hparams_plugin_data_pb2, summary_pb2

PLUGIN_NAME = "hparams"
PLUGIN_DATA_VERSION = 0
EXPERIMENT_TAG = "_hparams_/experiment"
SESSION_START_INFO_TAG = "_hparams_/session_start_info"
SESSION_END_INFO_TAG = "_hparams_/session_end_info"

HParamValue = str | bool | float

_STATUS = {
    "unknown": hparams_api_pb2.STATUS_UNKNOWN,
    "success": hparams_api_pb2.STATUS_SUCCESS,
    "failure": hparams_api_pb2.STATUS_FAILURE,
    "running": hparams_api_pb2.STATUS_RUNNING,
}


def data_type(value: HParamValue) -> int:
    """The ``hparams.DataType`` of a converted value (bool before float: bool is an int)."""
    if isinstance(value, bool):
        return hparams_api_pb2.DATA_TYPE_BOOL
    if isinstance(value, str):
        return hparams_api_pb2.DATA_TYPE_STRING
    return hparams_api_pb2.DATA_TYPE_FLOAT64


def to_value(value: HParamValue) -> struct_pb2.Value:
    """A ``google.protobuf.Value``: bool_value, string_value or number_value."""
    if isinstance(value, bool):
        return struct_pb2.Value(bool_value=value)
    if isinstance(value, str):
        return struct_pb2.Value(string_value=value)
    return struct_pb2.Value(number_value=float(value))


def _summary(tag: str, data: hparams_plugin_data_pb2.HParamsPluginData) -> bytes:
    data.version = PLUGIN_DATA_VERSION
    metadata = summary_pb2.SummaryMetadata(
        plugin_data=summary_pb2.SummaryMetadata.PluginData(
            plugin_name=PLUGIN_NAME, content=data.SerializeToString()
        )
    )
    value = summary_pb2.Summary.Value(tag=tag, metadata=metadata)
    return summary_pb2.Summary(value=[value]).SerializeToString()


def experiment(
    hparams: Mapping[str, HParamValue],
    metric_tags: Iterable[str],
    domains: Mapping[str, Sequence[HParamValue]] | None = None,
    time_created_secs: float = 0.0,
) -> bytes:
    """The serialized experiment summary: one ``HParamInfo`` per hparam, one ``MetricInfo`` per tag.

    Args:
        hparams: name -> value; the value gives the column's type.
        metric_tags: scalar tags shown as metric columns.
        domains: name -> allowed values (``domain_discrete``), optional.
        time_created_secs: the experiment's creation time.
    """
    domains = domains or {}
    infos = []
    for name, value in hparams.items():
        info = hparams_api_pb2.HParamInfo(name=name, type=data_type(value))
        if name in domains:
            info.domain_discrete.values.extend([to_value(v) for v in domains[name]])
        infos.append(info)
    metrics = [
        hparams_api_pb2.MetricInfo(name=hparams_api_pb2.MetricName(tag=tag)) for tag in metric_tags
    ]
    content = hparams_api_pb2.Experiment(
        hparam_infos=infos, metric_infos=metrics, time_created_secs=time_created_secs
    )
    return _summary(EXPERIMENT_TAG, hparams_plugin_data_pb2.HParamsPluginData(experiment=content))


def session_start(
    hparams: Mapping[str, HParamValue], start_time_secs: float = 0.0, group_name: str = ""
) -> bytes:
    """The serialized session-start summary: this run's hparam values."""
    info = hparams_plugin_data_pb2.SessionStartInfo(
        start_time_secs=start_time_secs, group_name=group_name
    )
    for name, value in hparams.items():
        info.hparams[name].CopyFrom(to_value(value))
    return _summary(
        SESSION_START_INFO_TAG, hparams_plugin_data_pb2.HParamsPluginData(session_start_info=info)
    )


def session_end(status: str = "success", end_time_secs: float = 0.0) -> bytes:
    """The serialized session-end summary; ``status`` is success, failure, running or unknown."""
    if status not in _STATUS:
        raise ValueError(f"status must be one of {sorted(_STATUS)}, got {status!r}")
    info = hparams_plugin_data_pb2.SessionEndInfo(
        status=_STATUS[status], end_time_secs=end_time_secs
    )
    return _summary(
        SESSION_END_INFO_TAG, hparams_plugin_data_pb2.HParamsPluginData(session_end_info=info)
    )
