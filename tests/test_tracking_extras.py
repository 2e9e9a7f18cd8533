"""tblog.init's watch, system metrics, alerts (callable and a webhook on a local
HTTP server), save, output capture, rank and memory:// logdirs, read back with
stock TensorBoard's Python loader."""

from __future__ import annotations

import contextlib
import gc
import http.server
import json
import sys
import threading
import types
import weakref
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import tbutil

import tblog
from tblog.tracking import _alerts

torch = pytest.importorskip("torch")


@pytest.fixture(autouse=True)
def _no_run_left() -> Iterator[None]:
    yield
    tblog.finish()


def start(logdir: Path | str, **kwargs: Any) -> tblog.Run:
    kwargs.setdefault("project", "proj")
    kwargs.setdefault("name", "run")
    kwargs.setdefault("system_interval", None)
    kwargs.setdefault("capture_output", False)
    return tblog.init(dir=str(logdir), **kwargs)


def steps(acc: Any, tag: str) -> list[int]:
    return [event.step for event in acc.Tensors(tag)]


def train(model: torch.nn.Module, run: tblog.Run, count: int) -> None:
    for _ in range(count):
        loss = model(torch.randn(4, 3)).pow(2).mean()
        loss.backward()
        run.log({"loss": loss})


def test_watch_gradients_and_parameters_every_log_freq(logdir: Path) -> None:
    model = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.ReLU(), torch.nn.Linear(4, 1))
    run = start(logdir)
    run.watch(model, log="all", log_freq=3)
    train(model, run, 2)  # records at the forwards of steps 0, 3, 6
    # Between records no gradient hook is left (autograd never calls into Python).
    assert all(p._backward_hooks is None for p in model.parameters())
    train(model, run, 5)
    with torch.no_grad():
        model(torch.randn(2, 3))  # no grad: not counted
    model.eval()
    model(torch.randn(2, 3))  # eval: not counted
    model.train()
    run.unwatch()
    assert not model._forward_hooks and not model[0].weight._backward_hooks
    train(model, run, 3)  # steps 7..9, nothing recorded
    run.finish()
    acc = tbutil.accumulate(logdir / "proj" / "run")
    for kind in ("gradients", "parameters"):
        for name in ("0.weight", "0.bias", "2.weight", "2.bias"):
            assert steps(acc, f"{kind}/{name}") == [0, 3, 6]
            assert steps(acc, f"{kind}/{name}/norm") == [0, 3, 6]
    assert set(acc.PluginTagToContent("histograms")) >= {"gradients/0.weight"}


def test_watch_defaults_to_gradients_and_checks_arguments(logdir: Path) -> None:
    model = torch.nn.Linear(3, 1)
    run = start(logdir)
    with pytest.raises(TypeError, match="torch.nn.Module"):
        run.watch(object())
    with pytest.raises(ValueError, match="log_freq"):
        run.watch(model, log_freq=0)
    with pytest.raises(ValueError, match="log must be"):
        run.watch(model, log="weights")
    tblog.watch(model, log_freq=1)
    tblog.watch(model, log_freq=1)  # again: replaces, does not double
    train(model, run, 2)
    run.finish()
    assert not model._forward_hooks  # finish removed the hooks
    acc = tbutil.accumulate(logdir / "proj" / "run")
    assert steps(acc, "gradients/weight") == [0, 1]
    assert not [t for t in acc.Tags()["tensors"] if t.startswith("parameters/")]


def test_watch_keeps_no_model_alive(logdir: Path) -> None:
    model = torch.nn.Linear(3, 1)
    ref = weakref.ref(model)
    run = start(logdir)
    gc.disable()
    try:
        run.watch(model, log="all", log_freq=1)
        train(model, run, 1)
        del model
        assert ref() is None  # freed by reference counting alone: no cycle
    finally:
        gc.enable()
    run.finish()


def test_system_metrics_sampled_in_a_sub_run_and_stopped_at_finish(logdir: Path) -> None:
    run = start(logdir, system_interval=0.02)
    sampler = run._sampler
    tbutil.wait_for(lambda: sampler.step >= 3, 30, what="three system samples")
    run.finish()
    assert not sampler._thread.is_alive()
    count = sampler.step
    acc = tbutil.accumulate(logdir / "proj" / "run" / "system")
    tags = set(acc.Tags()["tensors"])
    assert {"system/cpu_percent", "system/process_rss_mb", "system/memory_percent"} <= tags
    rss = acc.Tensors("system/process_rss_mb")
    assert [e.step for e in rss] == list(range(count))
    assert all(tbutil.tensor_util.make_ndarray(e.tensor_proto).item() > 1 for e in rss)
    main = tbutil.accumulate(logdir / "proj" / "run").Tags()["tensors"]
    assert not [t for t in main if t.startswith("system/")]


class Hook(http.server.BaseHTTPRequestHandler):
    """Records JSON bodies; answers ``statuses`` in turn (then 200)."""

    def do_POST(self) -> None:  # noqa: N802 - http.server's name
        if self.path == "/slow":
            self.server.release.wait(10)  # type: ignore[attr-defined]
        length = int(self.headers["Content-Length"])
        self.server.bodies.append(json.loads(self.rfile.read(length)))  # type: ignore[attr-defined]
        statuses = self.server.statuses  # type: ignore[attr-defined]
        self.send_response(statuses.pop(0) if statuses else 200)
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


@contextlib.contextmanager
def webhook_server(statuses: list[int]) -> Iterator[http.server.HTTPServer]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Hook)
    server.daemon_threads = True
    server.bodies, server.statuses = [], list(statuses)  # type: ignore[attr-defined]
    server.release = threading.Event()  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        yield server
    finally:
        server.release.set()  # type: ignore[attr-defined]
        server.shutdown()
        server.server_close()
        thread.join(10)


def test_alerts_to_text_stderr_callback_and_webhook(
    logdir: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(_alerts, "WEBHOOK_BACKOFF", 0.01)
    received: list[tuple[str, str, str]] = []
    with webhook_server([500]) as server:  # first attempt fails: retried
        url = f"http://127.0.0.1:{server.server_port}/hook"
        run = start(logdir, alert_callback=lambda *a: received.append(a), alert_webhook=url)
        run.log({"loss": 1.0})
        assert tblog.alert("loss up", "from 1 to 2", level="warn", wait_duration=60) is True
        assert run.alert("loss up", "again", wait_duration=60) is False  # rate-limited
        assert run.alert("other", "x", level="ERROR") is True
        with pytest.raises(ValueError, match="level"):
            run.alert("t", "x", level="LOUD")
        run.finish()  # waits for the webhook threads
        bodies = server.bodies
    assert received == [("loss up", "from 1 to 2", "WARN"), ("other", "x", "ERROR")]
    by_title: dict[str, list[dict[str, Any]]] = {}
    for body in bodies:
        by_title.setdefault(body["title"], []).append(body)
    assert len(by_title["loss up"]) + len(by_title["other"]) == 3  # one retry after the 500
    assert by_title["loss up"][-1]["level"] == "WARN" and by_title["loss up"][-1]["step"] == 1
    assert "[WARN] loss up: from 1 to 2" in by_title["loss up"][-1]["text"]
    assert "tblog alert [WARN] loss up: from 1 to 2" in capsys.readouterr().err
    acc = tbutil.accumulate(logdir / "proj" / "run")
    texts = [tbutil.tensor_util.make_ndarray(e.tensor_proto).item().decode()
             for e in acc.Tensors("alerts/text_summary")]
    assert texts == ["**WARN** loss up\n\nfrom 1 to 2", "**ERROR** other\n\nx"]


def test_webhook_failure_warns_and_never_raises(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_alerts, "WEBHOOK_BACKOFF", 0.01)
    with webhook_server([]) as server:
        port = server.server_port
    # The server is gone: connection refused on every attempt.
    with pytest.warns(UserWarning, match="webhook failed"):
        ok = _alerts.post_json(f"http://127.0.0.1:{port}/", {"text": "x"}, 2.0, 2, 0.01)
    assert ok is False
    with webhook_server([404]) as server:  # a client error is not retried
        with pytest.warns(UserWarning, match="HTTP 404"):
            assert not _alerts.post_json(
                f"http://127.0.0.1:{server.server_port}/", {}, 2.0, 3, 0.01
            )
        assert len(server.bodies) == 1
    with webhook_server([]) as server:  # no answer within the timeout
        with pytest.warns(UserWarning, match="timed out"):
            assert not _alerts.post_json(
                f"http://127.0.0.1:{server.server_port}/slow", {}, 0.2, 1, 0.01
            )


def test_alert_callback_errors_are_warnings(logdir: Path) -> None:
    def broken(*args: Any) -> None:
        raise RuntimeError("sink down")

    run = start(logdir, alert_callback=broken)
    with pytest.warns(UserWarning, match="sink down"):
        assert run.alert("t", "x") is True
    run.finish()


def test_save_now_and_end_into_files(logdir: Path, tmp_path: Path) -> None:
    source = tmp_path / "ckpt"
    (source / "sub").mkdir(parents=True)
    (source / "a.pt").write_bytes(b"A")
    (source / "sub" / "b.onnx").write_bytes(b"B")
    run = start(logdir)
    assert tblog.save(str(source / "*.pt"), policy="now") == ["files/a.pt"]
    assert run.save(str(source / "**" / "*.onnx"), policy="end") == []
    (source / "sub" / "b.onnx").write_bytes(b"B2")  # copied at finish: the final content
    with pytest.raises(ValueError, match="not under base_path"):
        run.save(str(source / "a.pt"), base_path=str(source / "sub"))
    with pytest.raises(ValueError, match="policy"):
        run.save(str(source / "a.pt"), policy="later")
    run.finish()
    files = logdir / "proj" / "run" / "files"
    assert (files / "a.pt").read_bytes() == b"A"
    assert (files / "sub" / "b.onnx").read_bytes() == b"B2"


def test_output_is_teed_to_output_log_and_streams_restored(
    logdir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    before = sys.stdout, sys.stderr
    run = start(logdir, capture_output=True)
    print("to stdout")
    print("to stderr", file=sys.stderr)
    run.finish()
    assert (sys.stdout, sys.stderr) == before
    print("after finish")
    seen = capsys.readouterr()
    assert seen.out == "to stdout\nafter finish\n" and seen.err == "to stderr\n"
    log = (logdir / "proj" / "run" / "output.log").read_text()
    assert log == "to stdout\nto stderr\n"


def test_only_rank_zero_records(logdir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RANK", "1")
    other = start(logdir, rank="auto", config={"lr": 1}, system_interval=0.01,
                  capture_output=True)
    assert other.disabled and other.rank == 1 and other.config.lr == 1
    other.log({"x": 1.0})
    other.finish()
    assert list(logdir.iterdir()) == []
    main = start(logdir, rank=0)
    main.log({"x": 1.0})
    main.finish()
    acc = tbutil.accumulate(logdir / "proj" / "run")
    assert steps(acc, "x") == [0]


def test_memory_logdir(tmp_path: Path) -> None:
    fsspec = pytest.importorskip("fsspec")
    url = "memory://tblog-tests/tracking"
    source = tmp_path / "model.onnx"
    source.write_bytes(b"onnx")
    try:
        run = start(url, config={"lr": 0.1}, system_interval=0.02)
        tbutil.wait_for(lambda: run._sampler.step >= 1, 30, what="a system sample")
        for step in range(3):
            run.log({"loss": float(step), "table": tblog.Table(["a"], [[step]])})
        run.save(str(source))
        run.finish()
        fs = fsspec.filesystem("memory")
        base = "/tblog-tests/tracking/proj/run"
        assert json.loads(fs.cat_file(f"{base}/summary.json"))["loss"] == 2.0
        assert fs.cat_file(f"{base}/files/model.onnx") == b"onnx"
        assert fs.cat_file(f"{base}/tables/table/2.csv") == b"a\n2\n"
        assert b"lr: 0.1" in fs.cat_file(f"{base}/config.yaml")
        acc = tbutil.accumulate(f"{url}/proj/run")
        assert tbutil.scalars_from_accumulator(acc, "loss") == [(0, 0.0), (1, 1.0), (2, 2.0)]
        assert tbutil.accumulate(f"{url}/proj/run/system").Tensors("system/cpu_percent")
    finally:
        fs = fsspec.filesystem("memory")
        if fs.exists("/tblog-tests/tracking"):
            fs.rm("/tblog-tests/tracking", recursive=True)


def test_histogram_of_nan_gradients_is_skipped_with_a_warning(logdir: Path) -> None:
    model = torch.nn.Linear(2, 1)
    run = start(logdir)
    run.watch(model, log_freq=1)
    out = model(torch.tensor([[np.nan, 1.0]]))
    with pytest.warns(UserWarning, match="gradients/weight"):
        out.sum().backward()
    run.finish()
    acc = tbutil.accumulate(logdir / "proj" / "run")
    assert steps(acc, "gradients/weight/norm") == [0] and "gradients/weight" not in acc.Tags()[
        "tensors"]


def fake_nvml(init_error: Exception | None = None) -> types.ModuleType:
    """A stand-in for NVIDIA's ``pynvml`` with two GPUs."""
    fake = types.ModuleType("pynvml")
    fake.NVML_TEMPERATURE_GPU = 0  # type: ignore[attr-defined]

    def init() -> None:
        if init_error is not None:
            raise init_error

    fake.nvmlInit = init  # type: ignore[attr-defined]
    fake.nvmlShutdown = lambda: None  # type: ignore[attr-defined]
    fake.nvmlDeviceGetCount = lambda: 2  # type: ignore[attr-defined]
    fake.nvmlDeviceGetHandleByIndex = lambda index: index  # type: ignore[attr-defined]
    fake.nvmlDeviceGetUtilizationRates = (  # type: ignore[attr-defined]
        lambda handle: types.SimpleNamespace(gpu=50 + handle)
    )
    fake.nvmlDeviceGetMemoryInfo = (  # type: ignore[attr-defined]
        lambda handle: types.SimpleNamespace(used=2**30, total=2**32)
    )
    fake.nvmlDeviceGetTemperature = lambda handle, kind: 61  # type: ignore[attr-defined]
    return fake


@pytest.mark.parametrize("broken", [False, True], ids=["nvml", "nvml-init-fails"])
def test_gpu_metrics_where_nvml_answers(
    logdir: Path, monkeypatch: pytest.MonkeyPatch, broken: bool
) -> None:
    error = RuntimeError("NVML Shared Library Not Found") if broken else None
    monkeypatch.setitem(sys.modules, "pynvml", fake_nvml(error))
    run = start(logdir, system_interval=0.02)
    tbutil.wait_for(lambda: run._sampler.step >= 2, 30, what="two system samples")
    run.finish()
    acc = tbutil.accumulate(logdir / "proj" / "run" / "system")
    tags = set(acc.Tags()["tensors"])
    assert "system/cpu_percent" in tags
    gpu_tags = {t for t in tags if t.startswith("system/gpu")}
    if broken:
        assert gpu_tags == set()
        return
    assert gpu_tags == {
        f"system/gpu{i}/{name}" for i in (0, 1)
        for name in ("utilization_percent", "memory_used_mb", "memory_percent", "temperature_c")
    }

    def last(tag: str) -> float:
        return tbutil.scalars_from_accumulator(acc, tag)[-1][1]

    assert last("system/gpu1/utilization_percent") == 51.0
    assert last("system/gpu0/memory_used_mb") == 1024.0
    assert last("system/gpu0/memory_percent") == 25.0
    assert last("system/gpu1/temperature_c") == 61.0


def test_example_quickstart_runs(logdir: Path) -> None:
    import importlib.util

    path = Path(__file__).parent.parent / "examples" / "tracking.py"
    spec = importlib.util.spec_from_file_location("tracking_example", path)
    assert spec is not None and spec.loader is not None
    example = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(example)
    example.main(str(logdir))
    [run_dir] = (logdir / "quickstart").iterdir()
    acc = tbutil.accumulate(run_dir)
    assert steps(acc, "train/loss") == [s for s in range(51) if s % 17 != 16]  # 16 batches/epoch
    assert "predictions/text_summary" in acc.Tags()["tensors"]
    assert (run_dir / "files" / "model.pt").stat().st_size > 0
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["best_val_loss"] > 0 and "val/accuracy" in summary


def test_watch_records_gradients_when_two_forwards_share_a_backward(logdir: Path) -> None:
    model = torch.nn.Linear(3, 1)
    run = start(logdir)
    run.watch(model, log_freq=2)
    loss = model(torch.randn(2, 3)).sum() + model(torch.randn(2, 3)).sum()  # forwards 0, 1
    loss.backward()
    run.log({"loss": loss})
    loss = model(torch.randn(2, 3)).sum()  # forward 2: records at step 1
    loss.backward()
    run.finish()
    acc = tbutil.accumulate(logdir / "proj" / "run")
    assert steps(acc, "gradients/weight") == [0, 1] and steps(acc, "gradients/bias") == [0, 1]
