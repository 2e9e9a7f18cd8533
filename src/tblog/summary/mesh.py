"""Meshes and point clouds: up to three DT_FLOAT ``[B, N, 3]`` tensors with
``mesh`` plugin metadata, laid out as torch writes them.

The values are tagged ``{tag}_VERTEX``, ``{tag}_FACE`` and ``{tag}_COLOR``;
each carries ``MeshPluginData`` naming the mesh (``tag``), its part, the
bitmask of the parts present, the tensor's shape and the three.js scene
configuration as JSON. Faces (vertex indices) and colors (0-255) are stored
as floats too; the mesh dashboard converts them back.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np

from tblog.proto import mesh_plugin_data_pb2
from tblog.summary.tensor import DT_FLOAT, metadata_bytes, summary_bytes, tensor_bytes, value_bytes

PLUGIN_NAME = "mesh"
_MeshPluginData = mesh_plugin_data_pb2.MeshPluginData
#: Parts in torch's order: (argument name, content type name, enum value).
PARTS = (
    ("vertices", "VERTEX", _MeshPluginData.VERTEX),
    ("faces", "FACE", _MeshPluginData.FACE),
    ("colors", "COLOR", _MeshPluginData.COLOR),
)


def json_config(config_dict: Any) -> str:
    """``config_dict`` as sorted JSON, ``"{}"`` for None (torch's encoding)."""
    if config_dict is None:
        return "{}"
    if not isinstance(config_dict, dict):
        raise TypeError(f"config_dict must be a dict or None, got {type(config_dict).__name__}")
    try:
        return json.dumps(config_dict, sort_keys=True)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"config_dict must be JSON-serializable: {exc}") from None


def check_parts(
    vertices: np.ndarray, faces: np.ndarray | None, colors: np.ndarray | None
) -> None:
    """Check shapes: all ``[B, N, 3]``, one ``B``, colors' ``N`` = vertices' ``N``.

    Raises:
        TypeError: non-numeric data.
        ValueError: a wrong shape, or a NaN/infinite vertex.
    """
    for name, array in (("vertices", vertices), ("faces", faces), ("colors", colors)):
        if array is None:
            continue
        if array.dtype.kind not in "biuf":
            raise TypeError(f"{name} must be numbers, got dtype {array.dtype}")
        if array.ndim != 3 or array.shape[2] != 3:
            raise ValueError(
                f"{name} must have shape (B, N, 3) (batch, points, xyz), got {array.shape}"
            )
        if array.shape[0] != vertices.shape[0]:
            raise ValueError(
                f"{name} has batch size {array.shape[0]} but vertices has {vertices.shape[0]}"
            )
    if colors is not None and colors.shape[1] != vertices.shape[1]:
        raise ValueError(
            f"colors must have one color per vertex: shape {vertices.shape}, got {colors.shape}"
        )
    if vertices.size and not np.isfinite(vertices).all():
        raise ValueError("vertices must be finite; found NaN or infinity")


def plugin_content(
    name: str, part: int, components: int, shape: tuple[int, ...], config: str
) -> bytes:
    """Serialized ``MeshPluginData`` of one part."""
    return _MeshPluginData(
        version=0, name=name, content_type=part, json_config=config, shape=list(shape),
        components=components,
    ).SerializeToString()


def summary(
    tag: str,
    vertices: np.ndarray,
    colors: np.ndarray | None = None,
    faces: np.ndarray | None = None,
    config_dict: dict[str, Any] | None = None,
) -> bytes:
    """Serialized ``Summary`` of a mesh; see the module docstring."""
    check_parts(vertices, faces, colors)
    config = json_config(config_dict)
    given = {"vertices": vertices, "faces": faces, "colors": colors}
    parts = [(name, label, part) for name, label, part in PARTS if given[name] is not None]
    components = 0
    for _, _, part in parts:
        components |= 1 << part
    values = []
    for name, label, part in parts:
        array = np.ascontiguousarray(given[name], dtype="<f4")
        tensor = tensor_bytes(DT_FLOAT, array.shape, array.tobytes())
        content = plugin_content(tag, part, components, array.shape, config)
        values.append(value_bytes(f"{tag}_{label}", tensor, metadata_bytes(PLUGIN_NAME, content)))
    return summary_bytes(*values)
