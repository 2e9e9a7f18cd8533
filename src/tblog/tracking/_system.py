"""System metrics: a daemon thread sampling CPU, memory, disk, network (psutil)
and NVIDIA GPUs (NVML, when importable) into the run's ``system`` sub-run.

The samples go to a writer of their own in ``{log_dir}/system`` with the sample
index as step, so they never touch the training run's steps (nor its purge on
resume). The thread never holds a lock the training thread needs, stops at
finish (bounded join), does not keep the process alive and does not survive fork.
"""

from __future__ import annotations

import os
import threading
import time
import warnings
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tblog.tracking._run import Run

_MB = 1024.0 * 1024.0


class _Gpus:
    """NVML handles, or nothing when the library or a driver is missing."""

    def __init__(self) -> None:
        self.nvml: Any = None
        self.handles: list[Any] = []
        try:
            import pynvml

            pynvml.nvmlInit()
            self.handles = [
                pynvml.nvmlDeviceGetHandleByIndex(i) for i in range(pynvml.nvmlDeviceGetCount())
            ]
            self.nvml = pynvml
        except Exception:  # noqa: BLE001 - no NVML, no driver, no GPU: no GPU tags
            self.handles = []

    def sample(self, out: dict[str, float]) -> None:
        nvml = self.nvml
        for index, handle in enumerate(self.handles):
            prefix = f"gpu{index}/"
            try:
                out[prefix + "utilization_percent"] = float(
                    nvml.nvmlDeviceGetUtilizationRates(handle).gpu
                )
                memory = nvml.nvmlDeviceGetMemoryInfo(handle)
                out[prefix + "memory_used_mb"] = memory.used / _MB
                out[prefix + "memory_percent"] = 100.0 * memory.used / max(memory.total, 1)
                out[prefix + "temperature_c"] = float(
                    nvml.nvmlDeviceGetTemperature(handle, nvml.NVML_TEMPERATURE_GPU)
                )
            except Exception:  # noqa: BLE001 - a GPU that stops answering is left out
                continue

    def close(self) -> None:
        if self.nvml is not None:
            try:
                self.nvml.nvmlShutdown()
            except Exception:  # noqa: BLE001
                pass


class _Host:
    """psutil counters and the rates between two samples."""

    def __init__(self) -> None:
        try:
            import psutil
        except ImportError:
            self.psutil = None
            warnings.warn(
                "tblog: system metrics need psutil (pip install 'tblog[track]'); "
                "only the load average and GPUs are recorded",
                stacklevel=4,
            )
            return
        self.psutil = psutil
        self.process = psutil.Process()
        psutil.cpu_percent(None)
        self.process.cpu_percent(None)
        self.last = time.monotonic()
        self.disk = self._disk()
        self.net = self._net()

    def _disk(self) -> tuple[int, int] | None:
        try:
            counters = self.psutil.disk_io_counters()
        except Exception:  # noqa: BLE001
            return None
        return None if counters is None else (counters.read_bytes, counters.write_bytes)

    def _net(self) -> tuple[int, int] | None:
        try:
            counters = self.psutil.net_io_counters()
        except Exception:  # noqa: BLE001
            return None
        return None if counters is None else (counters.bytes_sent, counters.bytes_recv)

    def sample(self, out: dict[str, float]) -> None:
        if self.psutil is None:
            if hasattr(os, "getloadavg"):
                out["load_average_1m"] = os.getloadavg()[0]
            return
        psutil = self.psutil
        out["cpu_percent"] = psutil.cpu_percent(None)
        out["process_cpu_percent"] = self.process.cpu_percent(None)
        out["process_rss_mb"] = self.process.memory_info().rss / _MB
        out["memory_percent"] = psutil.virtual_memory().percent
        now = time.monotonic()
        elapsed = max(now - self.last, 1e-6)
        self.last = now
        disk, net = self._disk(), self._net()
        if disk is not None and self.disk is not None:
            out["disk_read_mb_s"] = (disk[0] - self.disk[0]) / _MB / elapsed
            out["disk_write_mb_s"] = (disk[1] - self.disk[1]) / _MB / elapsed
        if net is not None and self.net is not None:
            out["network_sent_mb_s"] = (net[0] - self.net[0]) / _MB / elapsed
            out["network_recv_mb_s"] = (net[1] - self.net[1]) / _MB / elapsed
        self.disk, self.net = disk, net


class SystemSampler:
    """Samples every ``interval`` seconds into ``{run.log_dir}/system`` as ``system/*``."""

    def __init__(self, run: Run, interval: float, start_step: int) -> None:
        from tblog.writer import SummaryWriter

        log_dir = run.log_dir.rstrip("/") + "/system" if "://" in run.log_dir else os.path.join(
            run.log_dir, "system"
        )
        self.interval = interval
        self.step = start_step
        self.writer = SummaryWriter(log_dir, purge_step=start_step if run.resumed else None,
                                    flush_secs=10)
        self._stop = threading.Event()
        self._pid = os.getpid()
        self._thread = threading.Thread(target=self._loop, name="tblog-system-metrics",
                                        daemon=True)

    def start(self) -> None:
        self._thread.start()

    def _loop(self) -> None:
        host, gpus = _Host(), _Gpus()
        warned = False
        try:
            while not self._stop.wait(self.interval):
                if os.getpid() != self._pid:
                    return
                values: dict[str, float] = {}
                try:
                    host.sample(values)
                    gpus.sample(values)
                    for tag, value in values.items():
                        self.writer.add_scalar(f"system/{tag}", value, self.step)
                    self.step += 1
                except Exception as exc:  # noqa: BLE001 - never take training down
                    if not warned:
                        warnings.warn(f"tblog system metrics: {exc!r}", stacklevel=1)
                        warned = True
        finally:
            gpus.close()

    def flush(self) -> None:
        self.writer.flush()

    def stop(self, timeout: float = 5.0) -> None:
        """Stop sampling; waits at most ``timeout`` seconds for the thread."""
        self._stop.set()
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join(timeout)

    def close(self) -> None:
        self.writer.close()

    def forget(self) -> None:
        """In a forked child: the thread did not come along; never start it again."""
        self._stop.set()
        self._pid = -1
