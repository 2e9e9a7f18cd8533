"""Logging to S3: bytes uploaded and wall time, tblog vs torch.utils.tensorboard.

A moto S3 server runs in this process on 127.0.0.1 and counts the body bytes of
every request; each measurement runs in a fresh subprocess that logs N scalars
and (if ``add_image`` exists) images to ``s3://bench/...`` and closes.

* tblog uploads each flush as a new immutable segment: bytes uploaded = bytes
  logged (+ a 40-byte header per segment), linear in the data.
* torch (TensorBoard's gfile + boto3, endpoint from ``S3_ENDPOINT``) re-uploads
  the whole file on every flush: bytes uploaded grow with flushes x file size.

    python benchmarks/remote.py [--scalars 100000] [--images 200] [--flush-every 5000]
                                [--reps 3] [--libs tblog,torch] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import threading
from typing import Any

BUCKET = "bench"

CHILD = r"""
import json, os, sys, time
import numpy as np
lib, url, n, n_images, flush_every = sys.argv[1], sys.argv[2], *map(int, sys.argv[3:6])
if lib == "tblog":
    from tblog import SummaryWriter
else:
    from torch.utils.tensorboard import SummaryWriter
rng = np.random.default_rng(0)
images = [rng.integers(0, 256, (3, 64, 64), dtype=np.uint8) for _ in range(min(n_images, 8))]
image_every = n // n_images if n_images else 0
start = time.perf_counter()
writer = SummaryWriter(url)
for step in range(n):
    writer.add_scalar("loss", 1.0 / (step + 1), step)
    if image_every and step % image_every == 0 and step // image_every < n_images:
        writer.add_image("sample", images[(step // image_every) % len(images)], step)
    if flush_every and (step + 1) % flush_every == 0:
        writer.flush()
writer.close()
print(json.dumps({"seconds": time.perf_counter() - start}))
"""


class CountingS3:
    """moto's S3 on 127.0.0.1 in this process; counts request body bytes."""

    def __init__(self) -> None:
        from moto.moto_server.werkzeug_app import (
            DomainDispatcherApplication,
            MotoRequestHandler,
            create_backend_app,
        )
        from werkzeug.serving import make_server

        self.requests: list[tuple[str, str, int]] = []
        self._lock = threading.Lock()
        app = DomainDispatcherApplication(create_backend_app)

        def counting(environ: dict[str, Any], start_response: Any) -> Any:
            size = environ.get("HTTP_X_AMZ_DECODED_CONTENT_LENGTH") or environ.get(
                "CONTENT_LENGTH"
            )
            with self._lock:
                self.requests.append(
                    (environ["REQUEST_METHOD"], environ["PATH_INFO"], int(size or 0))
                )
            return app(environ, start_response)

        class Quiet(MotoRequestHandler):
            def log_request(self, *args: Any, **kwargs: Any) -> None:
                pass

        self._server = make_server("127.0.0.1", 0, counting, True, request_handler=Quiet)
        self.endpoint = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def uploads(self, prefix: str) -> tuple[int, int]:
        """(PUT/POST requests, body bytes) for keys under ``prefix``."""
        with self._lock:
            hits = [n for m, p, n in self.requests if m in ("PUT", "POST") and prefix in p]
        return len(hits), sum(hits)

    def stop(self) -> None:
        self._server.shutdown()
        self._thread.join(10)


def stored_bytes(client: Any, prefix: str) -> int:
    total = 0
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=BUCKET, Prefix=prefix):
        total += sum(o["Size"] for o in page.get("Contents", []))
    return total


def measure(
    server: CountingS3, client: Any, env: dict[str, str], lib: str, name: str,
    scalars: int, images: int, flush_every: int,
) -> dict[str, Any]:
    prefix = f"{lib}/{name}"
    url = f"s3://{BUCKET}/{prefix}"
    result = subprocess.run(
        [sys.executable, "-c", CHILD, lib, url, str(scalars), str(images), str(flush_every)],
        env=env, capture_output=True, text=True, timeout=1800,
    )
    if result.returncode != 0:
        raise RuntimeError(f"{lib} failed:\n{result.stderr[-3000:]}")
    seconds = json.loads(result.stdout.strip().splitlines()[-1])["seconds"]
    puts, uploaded = server.uploads(f"/{BUCKET}/{prefix}/")
    return {
        "lib": lib, "scalars": scalars, "images": images, "flush_every": flush_every,
        "seconds": seconds, "put_requests": puts, "bytes_uploaded": uploaded,
        "bytes_stored": stored_bytes(client, prefix + "/"),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scalars", type=int, default=100_000)
    parser.add_argument("--images", type=int, default=200)
    parser.add_argument("--flush-every", type=int, default=5_000,
                        help="explicit flush() every N scalar steps, as a live job's "
                             "flush_secs timer would (0: only close())")
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--libs", default="tblog,torch")
    parser.add_argument("--json", help="write all measurements here")
    args = parser.parse_args()

    import boto3

    try:
        import tblog
    except ImportError:
        tblog = None
    images = args.images if tblog is not None and hasattr(tblog.SummaryWriter, "add_image") else 0
    server = CountingS3()
    env = {
        **os.environ,
        "AWS_ACCESS_KEY_ID": "bench",
        "AWS_SECRET_ACCESS_KEY": "bench",
        "AWS_DEFAULT_REGION": "us-east-1",
        "S3_ENDPOINT": server.endpoint,  # tblog and torch (TensorBoard's S3 client) read it
    }
    for key in ("AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3"):
        env.pop(key, None)
    client = boto3.client(
        "s3", endpoint_url=server.endpoint, aws_access_key_id="bench",
        aws_secret_access_key="bench", region_name="us-east-1",
    )
    client.create_bucket(Bucket=BUCKET)
    libs = args.libs.split(",")
    rows: list[dict[str, Any]] = []
    try:
        # Main comparison, interleaved repetitions.
        for rep in range(args.reps):
            for lib in libs:
                row = measure(server, client, env, lib, f"main{rep}", args.scalars, images,
                              args.flush_every)
                rows.append({**row, "rep": rep, "case": "main"})
        # Growth: the same flush cadence, 1/4, 1/2 and all of the data.
        for lib in libs:
            for fraction in (4, 2, 1):
                n = args.scalars // fraction
                row = measure(server, client, env, lib, f"growth{fraction}", n,
                              images // fraction, args.flush_every)
                rows.append({**row, "rep": 0, "case": "growth"})
    finally:
        server.stop()

    cadence = f"flush() every {args.flush_every} steps" if args.flush_every else "close() only"
    print(f"S3 (moto on 127.0.0.1): {args.scalars} scalars + {images} images (3x64x64), "
          f"{cadence}, median of {args.reps}")
    print(f"{'lib':<7}{'wall s':>9}{'PUTs':>7}{'MB uploaded':>13}{'MB stored':>11}"
          f"{'up/stored':>11}")
    main_rows = {lib: [r for r in rows if r["case"] == "main" and r["lib"] == lib] for lib in libs}
    summary = {}
    for lib, group in main_rows.items():
        seconds = statistics.median(r["seconds"] for r in group)
        up = statistics.median(r["bytes_uploaded"] for r in group)
        stored = statistics.median(r["bytes_stored"] for r in group)
        puts = statistics.median(r["put_requests"] for r in group)
        summary[lib] = {"seconds": seconds, "bytes_uploaded": up}
        print(f"{lib:<7}{seconds:>9.2f}{puts:>7.0f}{up / 1e6:>13.2f}{stored / 1e6:>11.2f}"
              f"{up / stored:>11.2f}")
    if "tblog" in summary and "torch" in summary:
        t, b = summary["torch"], summary["tblog"]
        print(f"torch/tblog: wall time {t['seconds'] / b['seconds']:.2f}x, "
              f"bytes uploaded {t['bytes_uploaded'] / b['bytes_uploaded']:.1f}x")
    print("\nGrowth (bytes uploaded as the data grows, same flush cadence):")
    for lib in libs:
        growth = [r for r in rows if r["case"] == "growth" and r["lib"] == lib]
        cells = ", ".join(
            f"{r['scalars']} scalars: {r['bytes_uploaded'] / 1e6:.2f} MB" for r in growth
        )
        base = growth[0]["bytes_uploaded"]
        ratios = "/".join(f"{r['bytes_uploaded'] / base:.1f}" for r in growth)
        print(f"  {lib:<6} {cells}  (x{ratios} for data x1/2/4)")
    if args.json:
        with open(args.json, "w") as out:
            json.dump(rows, out, indent=1)


if __name__ == "__main__":
    main()
