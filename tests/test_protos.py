"""Our .proto declarations: TensorBoard's wire format, in a namespace of our own."""

from __future__ import annotations

import importlib
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from google.protobuf.descriptor import Descriptor, EnumDescriptor

ROOT = Path(__file__).resolve().parent.parent

# (tblog module, tensorboard module) pairs whose messages must match field by field.
MODULE_PAIRS = [
    ("event_pb2", "tensorboard.compat.proto.event_pb2"),
    ("summary_pb2", "tensorboard.compat.proto.summary_pb2"),
    ("histogram_pb2", "tensorboard.compat.proto.histogram_pb2"),
    ("tensor_pb2", "tensorboard.compat.proto.tensor_pb2"),
    ("tensor_shape_pb2", "tensorboard.compat.proto.tensor_shape_pb2"),
    ("types_pb2", "tensorboard.compat.proto.types_pb2"),
    ("resource_handle_pb2", "tensorboard.compat.proto.resource_handle_pb2"),
    ("graph_pb2", "tensorboard.compat.proto.graph_pb2"),
    ("node_def_pb2", "tensorboard.compat.proto.node_def_pb2"),
    ("attr_value_pb2", "tensorboard.compat.proto.attr_value_pb2"),
    ("versions_pb2", "tensorboard.compat.proto.versions_pb2"),
    ("step_stats_pb2", "tensorboard.compat.proto.step_stats_pb2"),
    ("config_pb2", "tensorboard.compat.proto.config_pb2"),
    ("plugin_data_pb2", "tensorboard.plugins.scalar.plugin_data_pb2"),
    ("plugin_data_pb2", "tensorboard.plugins.histogram.plugin_data_pb2"),
    ("plugin_data_pb2", "tensorboard.plugins.image.plugin_data_pb2"),
    ("plugin_data_pb2", "tensorboard.plugins.audio.plugin_data_pb2"),
    ("plugin_data_pb2", "tensorboard.plugins.text.plugin_data_pb2"),
    ("plugin_data_pb2", "tensorboard.plugins.pr_curve.plugin_data_pb2"),
    ("layout_pb2", "tensorboard.plugins.custom_scalar.layout_pb2"),
    ("hparams_api_pb2", "tensorboard.plugins.hparams.api_pb2"),
    ("hparams_plugin_data_pb2", "tensorboard.plugins.hparams.plugin_data_pb2"),
    ("mesh_plugin_data_pb2", "tensorboard.plugins.mesh.plugin_data_pb2"),
    ("projector_config_pb2", "tensorboard.plugins.projector.projector_config_pb2"),
]


def _compare_enum(ours: EnumDescriptor, theirs: EnumDescriptor) -> None:
    their_values = {v.name: v.number for v in theirs.values}
    for value in ours.values:
        assert their_values.get(value.name) == value.number, f"{ours.full_name}.{value.name}"


def _compare_message(ours: Descriptor, theirs: Descriptor) -> int:
    """Every field we declare exists in TensorBoard's message with the same wire shape."""
    checked = 0
    for field in ours.fields:
        other = theirs.fields_by_number.get(field.number)
        where = f"{ours.full_name}.{field.name} = {field.number}"
        assert other is not None, f"{where}: no such field number in {theirs.full_name}"
        assert other.name == field.name, where
        assert other.type == field.type, where
        assert other.is_repeated == field.is_repeated, where
        if field.is_repeated and field.type not in (field.TYPE_MESSAGE, field.TYPE_STRING,
                                                    field.TYPE_BYTES):
            assert other.is_packed == field.is_packed, f"{where}: packed"
        assert (other.containing_oneof is None) == (field.containing_oneof is None), where
        if field.message_type is not None:
            assert other.message_type.name == field.message_type.name, where
        if field.enum_type is not None:
            _compare_enum(field.enum_type, other.enum_type)
        checked += 1
    for nested in ours.nested_types:
        checked += _compare_message(nested, theirs.nested_types_by_name[nested.name])
    for enum in ours.enum_types:
        _compare_enum(enum, theirs.enum_types_by_name[enum.name])
    return checked


@pytest.mark.parametrize(("ours_name", "theirs_name"), MODULE_PAIRS)
def test_fields_match_tensorboard(ours_name: str, theirs_name: str) -> None:
    ours = importlib.import_module(f"tblog.proto.{ours_name}").DESCRIPTOR
    theirs = importlib.import_module(theirs_name).DESCRIPTOR
    shared = set(ours.message_types_by_name) & set(theirs.message_types_by_name)
    shared_enums = set(ours.enum_types_by_name) & set(theirs.enum_types_by_name)
    assert shared or shared_enums, f"nothing in common between {ours.name} and {theirs.name}"
    for name in shared:
        ours_message = ours.message_types_by_name[name]
        assert _compare_message(ours_message, theirs.message_types_by_name[name])
    for name in shared_enums:
        _compare_enum(ours.enum_types_by_name[name], theirs.enum_types_by_name[name])


def test_every_declared_message_is_checked_against_tensorboard() -> None:
    missing = []
    for ours_name in {pair[0] for pair in MODULE_PAIRS}:
        ours = importlib.import_module(f"tblog.proto.{ours_name}").DESCRIPTOR
        theirs_names: set[str] = set()
        for name, module in MODULE_PAIRS:
            if name == ours_name:
                descriptor = importlib.import_module(module).DESCRIPTOR
                theirs_names |= set(descriptor.message_types_by_name)
        missing += [n for n in ours.message_types_by_name if n not in theirs_names]
    # Messages TensorBoard declares in files we do not mirror one to one.
    assert sorted(missing) == ["SummaryDescription"] or not missing, missing


def test_proto_packages_are_our_own() -> None:
    from tblog.proto import event_pb2, hparams_api_pb2

    assert event_pb2.DESCRIPTOR.package == "tblog"
    assert event_pb2.DESCRIPTOR.name == "tblog/proto/event.proto"
    assert hparams_api_pb2.DESCRIPTOR.package == "tblog.hparams"


def test_bindings_are_not_stale() -> None:
    pytest.importorskip("grpc_tools", reason="grpcio-tools (test extra) regenerates bindings")
    result = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "gen_protos.py"), "--check"],
        capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 0, f"stale bindings; run scripts/gen_protos.py\n{result.stderr}"


_COEXIST = """
import os, sys
order = sys.argv[1]
logdir = sys.argv[2]
if order == "tensorboard-first":
    from tensorboard.compat.proto import event_pb2 as tb_event_pb2
    from torch.utils.tensorboard import SummaryWriter as TorchWriter
    import tblog
else:
    import tblog
    from tensorboard.compat.proto import event_pb2 as tb_event_pb2
    from torch.utils.tensorboard import SummaryWriter as TorchWriter
from tblog.proto import event_pb2
from tensorboard.backend.event_processing.event_file_loader import EventFileLoader

with tblog.SummaryWriter(os.path.join(logdir, "tblog")) as w:
    w.add_scalar("x", 1.5, 3)
with TorchWriter(os.path.join(logdir, "torch")) as w:
    w.add_scalar("x", 1.5, 3)
for run in ("tblog", "torch"):
    d = os.path.join(logdir, run)
    (name,) = [n for n in os.listdir(d) if "tfevents" in n]
    events = list(EventFileLoader(os.path.join(d, name)).Load())
    assert isinstance(events[0], tb_event_pb2.Event)
    assert events[-1].summary.value[0].tensor.float_val[0] == 1.5, events[-1]
    raw = event_pb2.Event.FromString(events[-1].SerializeToString())
    assert raw.step == 3
print("ok")
"""


@pytest.mark.parametrize("order", ["tensorboard-first", "tblog-first"])
def test_coexists_with_tensorboard_and_torch(order: str, tmp_path: Path) -> None:
    pytest.importorskip("torch")
    result = subprocess.run(
        [sys.executable, "-c", _COEXIST, order, str(tmp_path)],
        capture_output=True, text=True, timeout=180,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"


_RUNTIME_CHECK = textwrap.dedent("""
    import sys
    import google.protobuf
    from tblog.proto import event_pb2, summary_pb2
    import tblog, tempfile, os
    d = tempfile.mkdtemp()
    with tblog.SummaryWriter(d) as w:
        w.add_scalar("x", 2.0, 1, new_style=True)
    (name,) = os.listdir(d)
    from tblog._record import read_records
    with open(os.path.join(d, name), "rb") as f:
        events = [event_pb2.Event.FromString(r) for r in read_records(f)]
    assert events[0].file_version == "brain.Event:2"
    assert events[1].summary.value[0].tensor.float_val[0] == 2.0
    print(google.protobuf.__version__)
""")


@pytest.mark.parametrize("version", ["5.26.1", "5.29.5", "6.33.1"])
def test_supported_protobuf_runtimes(version: str, tmp_path: Path) -> None:
    """The bindings work on the oldest and newest runtimes we support.

    The installed runtime (7.x with tensorboard 2.21) is covered by every other test.
    """
    target = tmp_path / "site"
    install = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--target", str(target),
         f"protobuf=={version}"],
        capture_output=True, text=True, timeout=240,
    )
    if install.returncode != 0:
        pytest.skip(f"could not install protobuf=={version}: {install.stderr.strip()[-300:]}")
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(target), str(ROOT / "src")]))
    result = subprocess.run(
        [sys.executable, "-c", _RUNTIME_CHECK], capture_output=True, text=True, timeout=120, env=env
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == version
