"""Screenshots of stock TensorBoard showing each summary kind, for the docs' gallery.

    python scripts/screenshots.py                   # every kind, into docs/images/
    python scripts/screenshots.py --only scalars,mesh --out /tmp/shots --keep

For each kind it runs that function of ``examples/gallery.py`` into a fresh
temporary logdir, starts ``tensorboard`` on 127.0.0.1 on a free port, checks over
TensorBoard's HTTP API that the plugin is active and has data, opens the dashboard
in headless Chromium (Debian's ``chromium`` package, driven over the DevTools
protocol on a pipe: no port), waits until the page shows the logged tags, captures
1280x800 PNGs and checks they are not blank. Any failure exits non-zero: a
dashboard that is empty fails the run instead of producing a useless picture.

Run at release time (not in CI). Needs the test extra (tensorboard, torch, Pillow,
matplotlib) and ``apt-get install chromium``. Every process it starts (TensorBoard,
Chromium) is stopped by its own PID; every wait is bounded.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import dataclasses
import io
import json
import os
import re
import select
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "examples"))

import gallery  # noqa: E402  (examples/gallery.py: the code the gallery pages show)

WIDTH, HEIGHT = 1280, 800
MAX_PNG_BYTES = 300 * 1024

# The network is closed: nothing may try to reach it. A new empty profile each run.
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    # WebGL (Projector, Mesh) on the CPU: SwiftShader, since the GPU is disabled.
    "--use-angle=swiftshader",
    "--enable-unsafe-swiftshader",
    "--hide-scrollbars",
    "--mute-audio",
    f"--window-size={WIDTH},{HEIGHT}",
]

# Messages TensorBoard shows instead of a dashboard when it has nothing to draw.
EMPTY_MESSAGES = re.compile(
    r"No dashboards are active|No \w+ data was found|Data could not be loaded", re.I
)


class ScreenshotError(RuntimeError):
    pass


# -- what to capture ----------------------------------------------------------------


def _runs_with_tags(data: Any) -> bool:
    """``{run: {tag: ...}}`` or ``{run: [tag, ...]}`` with at least one tag."""
    return isinstance(data, dict) and any(bool(tags) for tags in data.values())


@dataclasses.dataclass(frozen=True)
class Shot:
    """One PNG: a dashboard of TensorBoard showing what a gallery function logged."""

    name: str  # docs/images/<name>.png
    kind: str  # the gallery function (examples/gallery.py)
    dashboard: str  # URL fragment: #scalars, #images, ...
    plugin: str  # must be "enabled" in /data/plugins_listing
    api: str  # GET (or POST with post=) route that must return data
    has_data: Callable[[Any], bool] = _runs_with_tags
    post: dict[str, Any] | None = None
    expect: tuple[str, ...] = ()  # texts the rendered page must contain
    settle: float = 3.0  # seconds after the texts appear (charts, WebGL, fonts)
    click: tuple[str, ...] = ()  # labels of buttons/tabs to click before capturing
    double_click: tuple[str, ...] = ()  # labels to double-click (graph nodes expand)
    scroll_to: str = ""  # CSS selector of an element to scroll to the middle of the view


SHOTS = [
    Shot("scalars", "scalars", "scalars", "scalars", "/data/plugin/scalars/tags",
         expect=("loss/train", "loss/valid", "accuracy", "lr=0.1")),
    Shot("time_series", "scalars", "timeseries", "timeseries", "/data/plugin/scalars/tags",
         expect=("accuracy", "loss", "lr=0.1"), settle=4),
    Shot("histograms", "histograms", "histograms", "histograms", "/data/plugin/histograms/tags",
         expect=("layer1/weights", "layer1/activations"), settle=4),
    Shot("distributions", "histograms", "distributions", "distributions",
         "/data/plugin/distributions/tags",
         expect=("layer1/weights", "layer1/activations"), settle=4),
    Shot("images", "images", "images", "images", "/data/plugin/images/tags",
         expect=("samples/pattern", "samples/batch", "detections")),
    Shot("figures", "figures", "images", "images", "/data/plugin/images/tags",
         expect=("fit/curve",)),
    Shot("video", "video", "images", "images", "/data/plugin/images/tags",
         expect=("rollout/ball",)),
    Shot("audio", "audio", "audio", "audio", "/data/plugin/audio/tags",
         expect=("synth/tone", "synth/stereo")),
    Shot("text", "text", "text", "text", "/data/plugin/text/tags",
         expect=("notes", "metrics/table", "accuracy", "93.1%")),
    Shot("graph", "graph", "graphs", "graphs", "/data/plugin/graphs/info",
         expect=("Classifier",), double_click=("Classifier",), settle=5),
    Shot("projector", "projector", "projector", "projector", "/data/plugin/projector/runs",
         has_data=bool, expect=("features", "Points: 300"), settle=6),
    Shot("pr_curves", "pr_curves", "pr_curves", "pr_curves", "/data/plugin/pr_curves/tags",
         expect=("classifier/cat",)),
    Shot("custom_scalars", "custom_scalars", "custom_scalars", "custom_scalars",
         "/data/plugin/custom_scalars/layout", has_data=lambda d: bool(d.get("category")),
         expect=("losses", "accuracy with a band")),
    Shot("mesh", "mesh", "mesh", "mesh", "/data/plugin/mesh/tags",
         expect=("torus",), scroll_to="canvas", settle=6),
    Shot("hparams", "hparams", "hparams", "hparams", "/data/plugin/hparams/experiment",
         has_data=lambda d: bool(d.get("hparamInfos")) and bool(d.get("metricInfos")),
         post={"experimentName": ""}, expect=("optimizer", "batch_size", "hparam/accuracy")),
    Shot("hparams_parallel", "hparams", "hparams", "hparams", "/data/plugin/hparams/experiment",
         has_data=lambda d: bool(d.get("hparamInfos")) and bool(d.get("metricInfos")),
         post={"experimentName": ""}, expect=("optimizer", "hparam/accuracy"),
         click=("PARALLEL COORDINATES VIEW",), settle=4),
    # The tracking API's runs: config as hparams columns, summary as metric columns.
    Shot("tracking", "tracking", "hparams", "hparams", "/data/plugin/hparams/experiment",
         has_data=lambda d: bool(d.get("hparamInfos")) and bool(d.get("metricInfos")),
         post={"experimentName": ""},
         expect=("epochs", "summary/best_acc", "quickstart/lr=0.01")),
]


# -- TensorBoard ----------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def http_json(url: str, post: dict[str, Any] | None = None, timeout: float = 10) -> Any:
    data = None if post is None else json.dumps(post).encode()
    request = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=timeout) as response:
        return json.load(response)


@contextlib.contextmanager
def tensorboard(logdir: Path, log_file: Path) -> Iterator[str]:
    """A stock TensorBoard on 127.0.0.1 serving ``logdir``; yields its base URL."""
    port = free_port()
    executable = Path(sys.executable).with_name("tensorboard")
    # Started in logdir's parent with a relative --logdir, which the page shows.
    command = [str(executable) if executable.exists() else "tensorboard",
               "--logdir", f"runs/{logdir.name}", "--host", "127.0.0.1", "--port", str(port),
               "--reload_interval", "1"]
    with open(log_file, "wb") as log:
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT,
                                   cwd=logdir.parent.parent)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            if process.poll() is not None:
                raise ScreenshotError(f"tensorboard exited ({process.returncode}); see {log_file}")
            with contextlib.suppress(OSError, ValueError):
                http_json(f"{base}/data/plugins_listing", timeout=2)
                break
            if time.monotonic() > deadline:
                raise ScreenshotError(f"tensorboard not ready after 60 s; see {log_file}")
            time.sleep(0.5)
        yield base
    finally:
        process.terminate()  # its own PID; it stops its data server itself
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=15)


def wait_for_data(base: str, shot: Shot, timeout: float = 60) -> None:
    """Fail unless the plugin is active and its API route returns data."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        try:
            listing = http_json(f"{base}/data/plugins_listing")
            if listing.get(shot.plugin, {}).get("enabled"):
                last = http_json(base + shot.api, post=shot.post)
                if shot.has_data(last):
                    return
        except (OSError, ValueError) as exc:
            last = exc
        time.sleep(1)
    raise ScreenshotError(
        f"{shot.name}: TensorBoard's {shot.plugin} plugin has no data after {timeout:.0f} s "
        f"({shot.api} -> {str(last)[:200]})"
    )


# -- Chromium over the DevTools protocol ------------------------------------------------

# Text of the whole page, through shadow roots and same-origin iframes (the
# Projector is one), and how many images are still loading.
PAGE_STATE_JS = r"""
(() => {
  const parts = [];
  let loading = 0;
  const visit = (root) => {
    const doc = root.ownerDocument || root;
    const walker = doc.createTreeWalker(root, NodeFilter.SHOW_ELEMENT | NodeFilter.SHOW_TEXT);
    for (let n = walker.currentNode; n; n = walker.nextNode()) {
      if (n.nodeType === Node.TEXT_NODE) { parts.push(n.data); continue; }
      if (n.shadowRoot) visit(n.shadowRoot);
      if (n.tagName === 'IFRAME') {
        try { if (n.contentDocument) visit(n.contentDocument); } catch (e) {}
      }
      const done = n.complete && n.naturalWidth > 0;
      if (n.tagName === 'IMG' && n.getAttribute('src') && !done) loading++;
    }
  };
  visit(document);
  return {text: parts.join(' ').replace(/\s+/g, ' '), loading: loading};
})()
"""

# The first visible element (deep) whose own text is LABEL: clicked, and the
# centre of its box returned (null if there is none).
CLICK_JS = r"""
((label, click) => {
  const visit = (root) => {
    const doc = root.ownerDocument || root;
    const walker = doc.createTreeWalker(root, NodeFilter.SHOW_ELEMENT);
    for (let n = walker.currentNode; n; n = walker.nextNode()) {
      if (n.shadowRoot) { const hit = visit(n.shadowRoot); if (hit) return hit; }
      const own = Array.from(n.childNodes).filter(c => c.nodeType === Node.TEXT_NODE)
        .map(c => c.data).join('').trim();
      if (own.toUpperCase() === label.toUpperCase() && n.getClientRects().length) return n;
    }
    return null;
  };
  const hit = visit(document);
  if (!hit) return null;
  if (click) hit.click();
  const box = hit.getBoundingClientRect();
  return {x: box.left + box.width / 2, y: box.top + box.height / 2};
})
"""


# Scrolls the first element (deep) matching SELECTOR to the middle; true if found.
SCROLL_JS = r"""
((selector) => {
  const visit = (root) => {
    const hit = root.querySelector(selector);
    if (hit) return hit;
    for (const n of root.querySelectorAll('*')) {
      if (n.shadowRoot) { const deep = visit(n.shadowRoot); if (deep) return deep; }
    }
    return null;
  };
  const hit = visit(document);
  if (hit) hit.scrollIntoView({block: 'center', inline: 'center'});
  return !!hit;
})
"""


class Chromium:
    """Headless Chromium driven over ``--remote-debugging-pipe`` (fds 3 and 4)."""

    def __init__(self, executable: str, log_file: Path) -> None:
        self.profile = tempfile.mkdtemp(prefix="tblog-chromium-profile-")
        args = [executable, *CHROMIUM_FLAGS, f"--user-data-dir={self.profile}",
                "--remote-debugging-pipe", "about:blank"]
        # The shell gives Chromium our pipes as fds 3 (commands) and 4 (replies), then
        # execs it: the PID we hold is Chromium's own.
        shell = 'exec "$0" "$@" 3<&0 4>&1 0</dev/null 1>&2'
        self._log = open(log_file, "wb")  # noqa: SIM115 (closed in close())
        self.process = subprocess.Popen(
            ["sh", "-c", shell, *args], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=self._log,
        )
        self._buffer = b""
        self._next_id = 0
        self.session: str | None = None

    def send(self, method: str, params: dict[str, Any] | None = None, *,
             session: bool = True, timeout: float = 60) -> dict[str, Any]:
        self._next_id += 1
        message: dict[str, Any] = {"id": self._next_id, "method": method, "params": params or {}}
        if session and self.session:
            message["sessionId"] = self.session
        assert self.process.stdin is not None
        self.process.stdin.write(json.dumps(message).encode() + b"\0")
        self.process.stdin.flush()
        deadline = time.monotonic() + timeout
        while True:
            reply = self._read(deadline, method)
            if reply.get("id") == self._next_id:
                if "error" in reply:
                    raise ScreenshotError(f"chromium: {method}: {reply['error']}")
                return reply.get("result", {})

    def _read(self, deadline: float, method: str) -> dict[str, Any]:
        assert self.process.stdout is not None
        fd = self.process.stdout.fileno()
        while b"\0" not in self._buffer:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise ScreenshotError(f"chromium: no reply to {method}")
            ready, _, _ = select.select([fd], [], [], remaining)
            if ready:
                chunk = os.read(fd, 1 << 20)
                if not chunk:
                    raise ScreenshotError(f"chromium exited ({self.process.poll()})")
                self._buffer += chunk
        message, self._buffer = self._buffer.split(b"\0", 1)
        return json.loads(message)

    def open_page(self) -> None:
        target = self.send("Target.createTarget", {"url": "about:blank"}, session=False)
        attached = self.send("Target.attachToTarget",
                             {"targetId": target["targetId"], "flatten": True}, session=False)
        self.session = attached["sessionId"]
        self.send("Page.enable")
        self.send("Emulation.setDeviceMetricsOverride",
                  {"width": WIDTH, "height": HEIGHT, "deviceScaleFactor": 1, "mobile": False})

    def evaluate(self, expression: str) -> Any:
        result = self.send("Runtime.evaluate",
                           {"expression": expression, "returnByValue": True, "awaitPromise": True})
        if "exceptionDetails" in result:
            raise ScreenshotError(f"chromium: script failed: {result['exceptionDetails']}")
        return result["result"].get("value")

    def capture(self, url: str, shot: Shot, timeout: float = 90) -> bytes:
        self.send("Page.navigate", {"url": "about:blank"})
        self.send("Page.navigate", {"url": url})
        deadline = time.monotonic() + timeout
        state: dict[str, Any] = {"text": "", "loading": 0}
        while time.monotonic() < deadline:
            try:
                state = self.evaluate(PAGE_STATE_JS) or state
            except ScreenshotError:  # e.g. the page is still navigating: ask again
                pass
            missing = [t for t in shot.expect if t not in state["text"]]
            if not missing and not state["loading"]:
                break
            time.sleep(0.5)
        else:
            raise ScreenshotError(
                f"{shot.name}: the page never showed {missing} ({state['loading']} images "
                f"loading); it shows: {state['text'][:300]!r}"
            )
        empty = EMPTY_MESSAGES.search(state["text"])
        if empty:
            raise ScreenshotError(f"{shot.name}: TensorBoard says {empty.group(0)!r}")
        for label in shot.click:
            time.sleep(1)
            if not self.evaluate(f"{CLICK_JS}({json.dumps(label)}, true)"):
                raise ScreenshotError(f"{shot.name}: nothing labelled {label!r} to click")
        for label in shot.double_click:
            time.sleep(1)
            where = self.evaluate(f"{CLICK_JS}({json.dumps(label)}, false)")
            if not where:
                raise ScreenshotError(f"{shot.name}: nothing labelled {label!r} to click")
            for count in (1, 2):
                for kind in ("mousePressed", "mouseReleased"):
                    self.send("Input.dispatchMouseEvent", {
                        "type": kind, "x": where["x"], "y": where["y"], "button": "left",
                        "clickCount": count})
        if shot.scroll_to:  # rendered later than the text: wait for it, at most 30 s
            scroll = f"{SCROLL_JS}({json.dumps(shot.scroll_to)})"
            limit = time.monotonic() + 30
            while not self.evaluate(scroll):
                if time.monotonic() > limit:
                    raise ScreenshotError(f"{shot.name}: no {shot.scroll_to!r} to scroll to")
                time.sleep(0.5)
        time.sleep(shot.settle)
        data = self.send("Page.captureScreenshot", {"format": "png"})["data"]
        return base64.b64decode(data)

    def close(self) -> None:
        with contextlib.suppress(ScreenshotError, OSError, ValueError):
            self.send("Browser.close", session=False, timeout=10)
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()  # its own PID
            self.process.wait(timeout=15)
        self._log.close()
        shutil.rmtree(self.profile, ignore_errors=True)


# -- PNG checks -------------------------------------------------------------------------


def checked_png(png: bytes, name: str) -> bytes:
    """The screenshot, re-compressed to fit MAX_PNG_BYTES; fails if it looks blank."""
    from PIL import Image

    image = Image.open(io.BytesIO(png)).convert("RGB")
    if image.size != (WIDTH, HEIGHT):
        raise ScreenshotError(f"{name}: screenshot is {image.size}, expected {(WIDTH, HEIGHT)}")
    small = image.resize((WIDTH // 4, HEIGHT // 4))
    colors = small.getcolors(maxcolors=WIDTH * HEIGHT)
    assert colors is not None
    most_common = max(count for count, _ in colors)
    pixels = small.width * small.height
    if len(colors) < 20 or most_common > 0.97 * pixels:
        raise ScreenshotError(
            f"{name}: screenshot looks blank ({len(colors)} colours, "
            f"{most_common / pixels:.0%} of it one colour)"
        )
    out = io.BytesIO()
    image.save(out, "PNG", optimize=True)
    if out.tell() > MAX_PNG_BYTES:  # UI screenshots survive 256 colours well
        out = io.BytesIO()
        image.quantize(256, dither=Image.Dither.NONE).save(out, "PNG", optimize=True)
    if out.tell() > MAX_PNG_BYTES:
        raise ScreenshotError(f"{name}: {out.tell()} bytes even with 256 colours")
    return out.getvalue()


# -- main -------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "images")
    parser.add_argument("--only", default="", help="comma-separated shot names")
    parser.add_argument("--chromium", default=shutil.which("chromium") or "/usr/bin/chromium")
    parser.add_argument("--keep", action="store_true", help="keep the temporary logdirs")
    args = parser.parse_args(argv)
    shots = SHOTS
    if args.only:
        wanted = set(args.only.split(","))
        unknown = wanted - {s.name for s in SHOTS}
        if unknown:
            parser.error(f"unknown shots {sorted(unknown)}; known: {[s.name for s in SHOTS]}")
        shots = [s for s in SHOTS if s.name in wanted]
    if not Path(args.chromium).exists():
        parser.error(f"no chromium at {args.chromium}: apt-get install -y chromium")
    args.out.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="tblog-screenshots-"))
    print(f"logs and logdirs in {work}")
    browser = Chromium(args.chromium, work / "chromium.log")
    failures = []
    try:
        browser.open_page()
        logged: dict[str, Path] = {}
        for shot in shots:
            started = time.monotonic()
            try:
                if shot.kind not in logged:
                    logdir = logged[shot.kind] = work / "runs" / shot.kind
                    gallery.KINDS[shot.kind](str(logdir))
                logdir = logged[shot.kind]
                with tensorboard(logdir, work / f"tensorboard-{shot.name}.log") as base:
                    wait_for_data(base, shot)
                    png = browser.capture(f"{base}/#{shot.dashboard}", shot)
                png = checked_png(png, shot.name)
                (args.out / f"{shot.name}.png").write_bytes(png)
                print(f"{shot.name}: {len(png) // 1024} KiB, "
                      f"{time.monotonic() - started:.1f} s")
            except ScreenshotError as exc:
                failures.append(shot.name)
                print(f"FAILED {exc}", file=sys.stderr)
    finally:
        browser.close()
        if not args.keep and not failures:
            shutil.rmtree(work, ignore_errors=True)
    if failures:
        print(f"{len(failures)} screenshot(s) failed: {', '.join(failures)}; logs and "
              f"logdirs kept in {work}", file=sys.stderr)
        return 1
    print(f"{len(shots)} screenshot(s) in {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
