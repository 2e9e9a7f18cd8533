"""Benchmark workloads: a registry of small, library-agnostic logging jobs.

A workload is a function ``fn(SummaryWriter, logdir, scale) -> run`` registered with
:func:`workload`.  Everything ``fn`` does before returning is untimed setup (building
inputs, importing helpers); the returned zero-argument ``run`` callable is what gets
timed.  ``run`` must construct its writer on ``logdir``, log, ``close()`` it, and return
the number of summary values it logged; the runner checks that exactly that many values
reached the event files.

``SummaryWriter`` is the class of the library under test, so a workload must stick to
the API shared by ``torch.utils.tensorboard``, ``tensorboardX`` and ``tblog`` (pass the
logdir positionally: torch calls it ``log_dir``, tensorboardX ``logdir``).  ``scale``
multiplies the problem size (``--quick`` uses 0.1); use :func:`scaled`.

The child imports this module only after it has timed ``import <lib>``, so module-level
imports here don't distort the ``import_first_writer`` workload.

To add a workload::

    @workload("text_1k", "1k add_text() calls, then close()")
    def text_1k(summary_writer: WriterClass, logdir: str, scale: float) -> Run:
        n = scaled(1_000, scale)

        def run() -> int:
            writer = summary_writer(logdir)
            for step in range(n):
                writer.add_text("notes", f"step {step}", step)
            writer.close()
            return n

        return run
"""

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

WriterClass = Callable[..., Any]
"""A ``SummaryWriter`` class (torch's, tensorboardX's or tblog's)."""

Run = Callable[[], int]
"""The timed part of a workload; returns the number of summary values logged."""

WorkloadFn = Callable[[WriterClass, str, float], Run]


@dataclass(frozen=True)
class Workload:
    name: str
    fn: WorkloadFn
    description: str
    includes_import: bool = False
    """Add the time of the child's cold ``import <lib>`` to the time of ``run()``."""


WORKLOADS: dict[str, Workload] = {}


def workload(
    name: str, description: str, *, includes_import: bool = False
) -> Callable[[WorkloadFn], WorkloadFn]:
    """Register ``fn`` in :data:`WORKLOADS` under ``name``."""

    def register(fn: WorkloadFn) -> WorkloadFn:
        if name in WORKLOADS:
            raise ValueError(f"duplicate workload name {name!r}")
        WORKLOADS[name] = Workload(name, fn, description, includes_import)
        return fn

    return register


def scaled(n: int, scale: float) -> int:
    """``n`` scaled by ``scale``, at least 1."""
    return max(1, round(n * scale))


TAGS = [f"loss/{i}" for i in range(10)]


def _values(n: int) -> list[float]:
    return [math.sin(i * 1e-3) + i * 1e-6 for i in range(n)]


@workload(
    "scalars_200k",
    "200k `add_scalar(tag, float, step)` over 10 tags, then `close()`",
)
def scalars_200k(summary_writer: WriterClass, logdir: str, scale: float) -> Run:
    values = _values(scaled(200_000, scale))

    def run() -> int:
        writer = summary_writer(logdir)
        for step, value in enumerate(values):
            writer.add_scalar(TAGS[step % 10], value, step)
        writer.close()
        return len(values)

    return run


@workload(
    "scalars_dict_20k",
    "20k `add_scalars(main_tag, {4 keys}, step)` (torch's layout: one run per key), "
    "then `close()`",
)
def scalars_dict_20k(summary_writer: WriterClass, logdir: str, scale: float) -> Run:
    values = _values(scaled(20_000, scale))

    def run() -> int:
        writer = summary_writer(logdir)
        for step, value in enumerate(values):
            writer.add_scalars("loss", {"train": value, "val": value + 1, "test": value + 2,
                                        "ema": value + 3}, step)
        writer.close()
        return 4 * len(values)

    return run


@workload(
    "tensor_scalars_50k",
    "50k `add_scalar(tag, torch.tensor(x), step)` of 0-d float32 tensors (created "
    "before timing) over 10 tags, then `close()`",
)
def tensor_scalars_50k(summary_writer: WriterClass, logdir: str, scale: float) -> Run:
    import torch

    tensors = [torch.tensor(value) for value in _values(scaled(50_000, scale))]

    def run() -> int:
        writer = summary_writer(logdir)
        for step, tensor in enumerate(tensors):
            writer.add_scalar(TAGS[step % 10], tensor, step)
        writer.close()
        return len(tensors)

    return run


@workload(
    "import_first_writer",
    "`from <lib> import SummaryWriter` + construct a writer + one `add_scalar` + "
    "`close()`, timed from before the import in a fresh interpreter",
    includes_import=True,
)
def import_first_writer(summary_writer: WriterClass, logdir: str, scale: float) -> Run:
    def run() -> int:
        writer = summary_writer(logdir)
        writer.add_scalar("loss", 1.0, 0)
        writer.close()
        return 1

    return run


@workload(
    "histogram_1m",
    "200 `add_histogram(tag, values, step)` of 1M-element float32 torch tensors "
    "(standard normal, 4 distinct tensors created before timing; default bins), "
    "then `close()`",
)
def histogram_1m(summary_writer: WriterClass, logdir: str, scale: float) -> Run:
    import torch

    generator = torch.Generator().manual_seed(0)
    tensors = [torch.randn(1_000_000, generator=generator) for _ in range(4)]
    n = scaled(200, scale)

    def run() -> int:
        writer = summary_writer(logdir)
        for step in range(n):
            writer.add_histogram("weights", tensors[step % 4], step)
        writer.close()
        return n

    return run


@workload(
    "histogram_small",
    "5k `add_histogram(tag, values, step)` of 1k-element float32 torch tensors "
    "(50 distinct, created before timing; default bins) over 10 tags, then `close()`",
)
def histogram_small(summary_writer: WriterClass, logdir: str, scale: float) -> Run:
    import torch

    generator = torch.Generator().manual_seed(0)
    tensors = [torch.randn(1000, generator=generator) for _ in range(50)]
    n = scaled(5000, scale)

    def run() -> int:
        writer = summary_writer(logdir)
        for step in range(n):
            writer.add_histogram(TAGS[step % 10], tensors[step % 50], step)
        writer.close()
        return n

    return run


@workload(
    "pr_curve_100k",
    "200 `add_pr_curve(tag, labels, predictions, step)` of 100k int64 labels and "
    "float32 predictions (torch tensors, 4 distinct pairs created before timing), "
    "then `close()`",
)
def pr_curve_100k(summary_writer: WriterClass, logdir: str, scale: float) -> Run:
    import torch

    generator = torch.Generator().manual_seed(0)
    pairs = [
        (torch.randint(0, 2, (100_000,), generator=generator),
         torch.rand(100_000, generator=generator))
        for _ in range(4)
    ]
    n = scaled(200, scale)

    def run() -> int:
        writer = summary_writer(logdir)
        for step in range(n):
            labels, predictions = pairs[step % 4]
            writer.add_pr_curve("pr", labels, predictions, step)
        writer.close()
        return n

    return run


@workload(
    "text_10k",
    "10k `add_text(tag, str, step)` of short Markdown strings over 10 tags, then `close()`",
)
def text_10k(summary_writer: WriterClass, logdir: str, scale: float) -> Run:
    n = scaled(10_000, scale)
    texts = [f"step **{i}**: loss went down to {1 / (i + 1):.4f}" for i in range(n)]

    def run() -> int:
        writer = summary_writer(logdir)
        for step, text in enumerate(texts):
            writer.add_text(TAGS[step % 10], text, step)
        writer.close()
        return n

    return run


@workload(
    "images_200x512",
    "200 `add_image(tag, img, step)` of 3x512x512 float32 torch tensors with values in "
    "[0, 1) (`torch.rand`, created before timing), then `close()`",
)
def images_200x512(summary_writer: WriterClass, logdir: str, scale: float) -> Run:
    import torch

    generator = torch.Generator().manual_seed(0)
    n = scaled(200, scale)
    # A few distinct images, reused: building 200 would dominate setup time.
    images = [torch.rand(3, 512, 512, generator=generator) for _ in range(min(n, 8))]
    return _image_run(summary_writer, logdir, "images/sample", images, n)


def _image_run(summary_writer: WriterClass, logdir: str, tag: str, images: list[Any],
               n: int) -> Run:
    """``run()`` of ``n`` ``add_image`` calls cycling through ``images``."""

    def run() -> int:
        writer = summary_writer(logdir)
        for step in range(n):
            writer.add_image(tag, images[step % len(images)], step)
        writer.close()
        return n

    return run


def _photo_like(generator: Any, size: int = 512) -> Any:
    """A smooth, photo-like 3xHxW float image in [0, 1]: soft gradients, blobs and
    a little sensor noise (PNG compresses it as it compresses photos, unlike noise)."""
    import torch

    y, x = torch.meshgrid(torch.linspace(0, 1, size), torch.linspace(0, 1, size), indexing="ij")
    channels = []
    for _ in range(3):
        phase = torch.rand(4, generator=generator) * 6.28
        image = 0.4 + 0.2 * torch.sin(3 * x + phase[0]) * torch.cos(2 * y + phase[1])
        for _ in range(6):  # soft blobs, like objects out of focus
            cx, cy, r = torch.rand(3, generator=generator)
            image += 0.25 * torch.exp(-((x - cx) ** 2 + (y - cy) ** 2) / (0.02 + 0.05 * r))
        image += 0.01 * torch.randn(size, size, generator=generator)
        channels.append(image)
    return torch.stack(channels).clamp(0, 1)


@workload(
    "images_photo_200",
    "200 `add_image(tag, img, step)` of photo-like 3x512x512 float32 torch tensors "
    "(smooth gradients, blobs, 1% noise; 8 distinct, created before timing), then `close()`",
)
def images_photo_200(summary_writer: WriterClass, logdir: str, scale: float) -> Run:
    import torch

    generator = torch.Generator().manual_seed(1)
    n = scaled(200, scale)
    images = [_photo_like(generator) for _ in range(min(n, 8))]
    return _image_run(summary_writer, logdir, "images/photo", images, n)


@workload(
    "images_batch_50",
    "50 `add_images(tag, batch, step)` of 64x3x64x64 float32 torch tensors in [0, 1) "
    "(one 8x8 grid PNG each), then `close()`",
)
def images_batch_50(summary_writer: WriterClass, logdir: str, scale: float) -> Run:
    import torch

    generator = torch.Generator().manual_seed(0)
    n = scaled(50, scale)
    batches = [torch.rand(64, 3, 64, 64, generator=generator) for _ in range(min(n, 4))]

    def run() -> int:
        writer = summary_writer(logdir)
        for step in range(n):
            writer.add_images("images/batch", batches[step % len(batches)], step)
        writer.close()
        return n

    return run


@workload(
    "embedding_20k",
    "`add_embedding` of a 20k x 128 float32 torch tensor with 20k string labels "
    "(tensors.tsv + metadata.tsv + projector_config.pbtxt), then `close()`",
)
def embedding_20k(summary_writer: WriterClass, logdir: str, scale: float) -> Run:
    import torch

    n = scaled(20_000, scale)
    mat = torch.randn(n, 128, generator=torch.Generator().manual_seed(0))
    labels = [f"point {i} class {i % 10}" for i in range(n)]

    def run() -> int:
        writer = summary_writer(logdir)
        writer.add_embedding(mat, metadata=labels, global_step=0, tag="features")
        writer.close()
        return 0  # side files only: no summary values

    return run


def _resnet18() -> Any:
    """A ResNet-18-shaped module (11.7M parameters), defined here: no torchvision."""
    from torch import nn

    class Block(nn.Module):
        def __init__(self, cin: int, cout: int, stride: int) -> None:
            super().__init__()
            self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
            self.bn1 = nn.BatchNorm2d(cout)
            self.relu = nn.ReLU(inplace=True)
            self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
            self.bn2 = nn.BatchNorm2d(cout)
            self.downsample = None
            if stride != 1 or cin != cout:
                self.downsample = nn.Sequential(
                    nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout)
                )

        def forward(self, x: Any) -> Any:
            identity = x if self.downsample is None else self.downsample(x)
            out = self.relu(self.bn1(self.conv1(x)))
            return self.relu(self.bn2(self.conv2(out)) + identity)

    class ResNet18(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.conv1 = nn.Conv2d(3, 64, 7, 2, 3, bias=False)
            self.bn1 = nn.BatchNorm2d(64)
            self.relu = nn.ReLU(inplace=True)
            self.maxpool = nn.MaxPool2d(3, 2, 1)
            widths = [(64, 64, 1), (64, 128, 2), (128, 256, 2), (256, 512, 2)]
            for i, (cin, cout, stride) in enumerate(widths, 1):
                layer = nn.Sequential(Block(cin, cout, stride), Block(cout, cout, 1))
                setattr(self, f"layer{i}", layer)
            self.avgpool = nn.AdaptiveAvgPool2d(1)
            self.fc = nn.Linear(512, 1000)

        def forward(self, x: Any) -> Any:
            x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
            x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
            return self.fc(self.avgpool(x).flatten(1))

    return ResNet18()


@workload(
    "graph_resnet",
    "`add_graph` of a ResNet-18-shaped module (defined in the benchmark, no torchvision) "
    "on a 1x3x224x224 input, then `close()`",
)
def graph_resnet(summary_writer: WriterClass, logdir: str, scale: float) -> Run:
    import torch

    model = _resnet18()
    image = torch.randn(1, 3, 224, 224, generator=torch.Generator().manual_seed(0))

    def run() -> int:
        writer = summary_writer(logdir)
        writer.add_graph(model, image)
        writer.close()
        return 0  # a graph_def event: no summary values

    return run
