"""Images, figures, video and audio, read back by stock TensorBoard.

Every case is written once into one module logdir (run ``media``); the tests
read it with TensorBoard's Python loaders and over HTTP from one server per
``--load_fast`` mode, and decode the PNG/GIF/WAV bytes with Pillow and ``wave``.
A differential test writes the same calls through ``torch.utils.tensorboard``.
"""

from __future__ import annotations

import io
import subprocess
import sys
import wave
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import matplotlib
import numpy as np
import pytest
import tbutil
import torch
from PIL import Image, ImageSequence

from tblog import SummaryWriter
from tblog.summary import _image_utils, video

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402 (after choosing the backend)

RNG = np.random.default_rng(0)


def expected_pixels(array: np.ndarray) -> np.ndarray:
    """The spec, independently of tblog: uint8 as is; else float32 * 255, clipped, truncated."""
    if array.dtype == np.uint8:
        return array
    return np.clip(array.astype(np.float32) * np.float32(255), 0, 255).astype(np.uint8)


def expected_grid(images: np.ndarray, cols: int) -> np.ndarray:
    """(N, H, W, C) laid out ``min(N, cols)`` per row, zero-filled, by explicit loops."""
    n, h, w, c = images.shape
    cols = min(n, cols)
    rows = -(-n // cols)
    grid = np.zeros((rows * h, cols * w, c), np.uint8)
    for i in range(n):
        r, k = divmod(i, cols)
        grid[r * h : (r + 1) * h, k * w : (k + 1) * w] = images[i]
    return grid


def decode(data: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(data)))


def gif_frames(data: bytes) -> tuple[list[np.ndarray], list[int]]:
    gif = Image.open(io.BytesIO(data))
    assert gif.format == "GIF"
    frames = [
        (np.asarray(f.convert("RGB")), f.info["duration"]) for f in ImageSequence.all_frames(gif)
    ]
    return [f for f, _ in frames], [d for _, d in frames]


# -- the module's cases: tag -> (call, expected pixels or None) -------------------------

U8_CHW = RNG.integers(0, 256, (3, 20, 30), dtype=np.uint8)
F32_HWC = RNG.random((17, 23, 3), dtype=np.float32)
F64_OUT = RNG.normal(0.5, 0.8, (3, 12, 9))  # float64 far outside [0, 1]
GRAY_HW = RNG.random((8, 5), dtype=np.float32)
RGBA = RNG.random((4, 6, 7), dtype=np.float32)
BATCH = RNG.random((10, 1, 6, 4), dtype=np.float32)  # 10 gray images: 2 rows of 8
BATCH_RGBA = RNG.integers(0, 256, (3, 5, 5, 4), dtype=np.uint8)  # NHWC, 4 channels
LIST = [RNG.random((3, 4, 6), dtype=np.float32) for _ in range(3)]
GRAY_VIDEO = RNG.integers(0, 256, (1, 4, 1, 10, 12), dtype=np.uint8)
PALETTE = RNG.integers(0, 256, (50, 3), dtype=np.uint8)  # <= 256 colours: GIF is exact
RGB_VIDEO = PALETTE[RNG.integers(0, 50, (3, 5, 8, 6))].transpose(0, 1, 4, 2, 3)  # N T C H W
MONO = np.sin(np.linspace(0, 100, 800)).astype(np.float32) * 0.9
STEREO = RNG.uniform(-1, 1, (300, 2))


def hwc(array: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(np.moveaxis(array, 0, -1))


IMAGE_CASES: dict[str, np.ndarray] = {
    "img/uint8": hwc(U8_CHW),
    "img/float_hwc": expected_pixels(F32_HWC),
    "img/float64_out_of_range": expected_pixels(hwc(F64_OUT)),
    "img/gray_hw": np.repeat(expected_pixels(GRAY_HW)[:, :, None], 3, axis=2),
    "img/rgba": expected_pixels(hwc(RGBA)),
    "imgs/gray_batch": np.repeat(
        expected_grid(expected_pixels(BATCH.transpose(0, 2, 3, 1)), 8), 3, 2
    ),
    "imgs/rgba_nhwc": expected_grid(BATCH_RGBA, 8),
    "imgs/list": expected_grid(expected_pixels(np.stack(LIST).transpose(0, 2, 3, 1)), 8),
}


def write_cases(writer: Any) -> None:
    writer.add_image("img/uint8", torch.from_numpy(U8_CHW), 0)
    writer.add_image("img/float_hwc", F32_HWC, 0, dataformats="HWC")
    writer.add_image("img/float64_out_of_range", F64_OUT, 0)
    writer.add_image("img/gray_hw", GRAY_HW, 0, dataformats="HW")
    writer.add_image("img/rgba", RGBA, 0)
    writer.add_images("imgs/gray_batch", BATCH, 0)
    writer.add_images("imgs/rgba_nhwc", BATCH_RGBA, 0, dataformats="nhwc")
    writer.add_images("imgs/list", [torch.from_numpy(a) for a in LIST], 0)
    boxes = torch.tensor([[2.0, 3.0, 20.0, 15.0], [25, 2, 35, 18]])
    writer.add_image_with_boxes("boxes", np.zeros((3, 24, 40)), boxes, 0, labels=["a", "b"])
    writer.add_image_with_boxes("boxes/rescaled", np.zeros((24, 40)), boxes, 0, None, 0.5, "HW")
    fig = plt.figure(figsize=(2, 1.5), dpi=50)
    plt.plot([0, 1], [1, 0])
    writer.add_figure("figure", fig, 0)
    writer.add_figure("figures", [plt.figure(figsize=(1, 1), dpi=20) for _ in range(3)], 0)
    writer.add_video("video/gray", GRAY_VIDEO, 0, fps=10)
    writer.add_video("video/rgb", torch.from_numpy(RGB_VIDEO), 0)
    writer.add_audio("audio/mono", MONO, 0, sample_rate=8000)
    writer.add_audio("audio/stereo", STEREO, 0, sample_rate=22050.4)
    for step in (1, 2):  # several steps of one tag
        writer.add_image("img/uint8", torch.from_numpy(U8_CHW) // step, step)


@pytest.fixture(scope="module")
def media_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("logs_media")
    with SummaryWriter(root / "media") as writer:
        write_cases(writer)
    return root


@pytest.fixture(scope="module")
def raw_values(media_root: Path) -> dict[str, list[Any]]:
    """tag -> [(step, Summary.Value)] exactly as stored (LegacyEventFileLoader)."""
    values: dict[str, list[Any]] = {}
    for event in tbutil.load_run_events(media_root / "media", migrate=False):
        for value in event.summary.value:
            values.setdefault(value.tag, []).append((event.step, value))
    return values


@pytest.fixture(scope="module", params=[True, False], ids=["rust", "python"])
def server(
    request: pytest.FixtureRequest, media_root: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tbutil.TensorBoardServer]:
    workdir = tmp_path_factory.mktemp("tbserver_media")
    with tbutil.tensorboard_server(media_root, request.param, workdir=workdir) as tb:
        tb.wait_for_tag("audio", "media", "audio/stereo")
        yield tb


# -- Python loaders --------------------------------------------------------------------


@pytest.mark.parametrize("tag", sorted(IMAGE_CASES))
def test_images_decode_to_expected_pixels(raw_values: dict[str, list[Any]], tag: str) -> None:
    (step, value), *_ = raw_values[tag]
    pixels = decode(value.image.encoded_image_string)
    assert pixels.shape == IMAGE_CASES[tag].shape
    np.testing.assert_array_equal(pixels, IMAGE_CASES[tag])
    height, width, channels = pixels.shape
    assert (value.image.height, value.image.width, value.image.colorspace) == (
        height,
        width,
        channels,
    )


def test_steps_and_migrated_tensor(media_root: Path) -> None:
    acc = tbutil.accumulate(media_root / "media")
    events = acc.Tensors("img/uint8")
    assert [e.step for e in events] == [0, 1, 2]
    width, height, png = events[2].tensor_proto.string_val  # data_compat: [w, h, png]
    assert (int(width), int(height)) == (30, 20)
    np.testing.assert_array_equal(decode(png), hwc(U8_CHW) // 2)
    assert acc.SummaryMetadata("img/uint8").plugin_data.plugin_name == "images"
    assert acc.SummaryMetadata("audio/mono").plugin_data.plugin_name == "audio"


def test_boxes_and_rescale(raw_values: dict[str, list[Any]]) -> None:
    pixels = decode(raw_values["boxes"][0][1].image.encoded_image_string)
    assert pixels.shape == (24, 40, 3)
    red = (pixels == [255, 0, 0]).all(axis=2)
    assert red[15, 10] and red[10, 2] and red[2, 30] and red[18, 35]  # box edges
    assert not red[12, 17] and not red[15, 30] and not red[22, 22]  # inside and outside
    assert red[11, 5] and red[12, 27]  # label backgrounds, inside the top-left corners
    small = raw_values["boxes/rescaled"][0][1].image
    assert decode(small.encoded_image_string).shape == (12, 20, 3)
    assert (small.height, small.width) == (12, 20)


def test_figures(raw_values: dict[str, list[Any]]) -> None:
    single = decode(raw_values["figure"][0][1].image.encoded_image_string)
    assert single.shape == (75, 100, 3)
    assert (single == 255).all(axis=2).mean() > 0.5 and (single != 255).any()
    grid = decode(raw_values["figures"][0][1].image.encoded_image_string)
    assert grid.shape == (20, 60, 3)
    assert plt.get_fignums() == []  # close=True closed them all


def test_gray_video_frames_are_exact(raw_values: dict[str, list[Any]]) -> None:
    value = raw_values["video/gray"][0][1].image
    frames, durations = gif_frames(value.encoded_image_string)
    assert len(frames) == 4 and durations == [100] * 4
    for frame, source in zip(frames, GRAY_VIDEO[0], strict=True):
        np.testing.assert_array_equal(frame, np.repeat(source.transpose(1, 2, 0), 3, axis=2))
    assert (value.height, value.width, value.colorspace) == (10, 12, 1)


def test_rgb_video_is_tiled_per_frame(raw_values: dict[str, list[Any]]) -> None:
    frames, durations = gif_frames(raw_values["video/rgb"][0][1].image.encoded_image_string)
    assert len(frames) == 5 and durations == [250] * 5  # fps=4
    rows, cols = video.grid_shape(3)
    assert (rows, cols) == (1, 3)
    clips = RGB_VIDEO.transpose(1, 0, 3, 4, 2)  # T N H W C
    for frame, clip in zip(frames, clips, strict=True):
        np.testing.assert_array_equal(frame, expected_grid(clip, cols))


@pytest.mark.parametrize(
    ("count", "shape"),
    [(1, (1, 1)), (4, (2, 2)), (8, (2, 4)), (16, (4, 4)), (5, (2, 3)), (10, (3, 4))],
)
def test_video_grid_shape(count: int, shape: tuple[int, int]) -> None:
    assert video.grid_shape(count) == shape


def test_audio_wav(raw_values: dict[str, list[Any]]) -> None:
    for tag, source, rate in (("audio/mono", MONO[:, None], 8000), ("audio/stereo", STEREO, 22050)):
        clip = raw_values[tag][0][1].audio
        assert clip.content_type == "audio/wav"
        assert (clip.length_frames, clip.num_channels) == source.shape
        with wave.open(io.BytesIO(clip.encoded_audio_string)) as wav:
            assert (wav.getnchannels(), wav.getsampwidth(), wav.getframerate()) == (
                source.shape[1],
                2,
                rate,
            )
            samples = np.frombuffer(wav.readframes(wav.getnframes()), "<i2")
        expected = (source.astype(np.float32) * 32767).astype(np.int16).ravel()
        np.testing.assert_array_equal(samples, expected)
    assert raw_values["audio/stereo"][0][1].audio.sample_rate == pytest.approx(22050.4)


# -- over HTTP, both loaders -----------------------------------------------------------


def test_http_images(server: tbutil.TensorBoardServer) -> None:
    tags = server.get_json("/data/plugin/images/tags")["media"]
    assert set(IMAGE_CASES) | {"boxes", "figure", "video/gray", "video/rgb"} <= set(tags)
    assert tags["img/uint8"]["samples"] == 1
    for tag, pixels in IMAGE_CASES.items():
        entries = server.get_json("/data/plugin/images/images", run="media", tag=tag)
        if tag == "img/uint8":
            assert [e["step"] for e in entries] == [0, 1, 2]
        blob = server.get_bytes("/data/plugin/images/individualImage?" + entries[0]["query"])
        np.testing.assert_array_equal(decode(blob), pixels)
    entries = server.get_json("/data/plugin/images/images", run="media", tag="video/rgb")
    frames, _ = gif_frames(
        server.get_bytes("/data/plugin/images/individualImage?" + entries[0]["query"])
    )
    assert len(frames) == 5 and frames[0].shape == (8, 18, 3)


def test_http_audio(server: tbutil.TensorBoardServer) -> None:
    assert {"audio/mono", "audio/stereo"} <= set(
        server.get_json("/data/plugin/audio/tags")["media"]
    )
    (entry,) = server.get_json("/data/plugin/audio/audio", run="media", tag="audio/stereo")
    blob = server.get_bytes("/data/plugin/audio/individualAudio?" + entry["query"])
    with wave.open(io.BytesIO(blob)) as wav:
        assert (wav.getnchannels(), wav.getnframes(), wav.getframerate()) == (2, 300, 22050)


# -- differential: torch.utils.tensorboard writes the same calls -------------------------


def _first_pixels(logdir: Path) -> dict[str, np.ndarray]:
    return {
        value.tag: decode(value.image.encoded_image_string)
        for event in tbutil.load_run_events(logdir, migrate=False)
        for value in event.summary.value
        if value.HasField("image")
    }


def test_same_pixels_as_torch(logdir: Path) -> None:
    from torch.utils.tensorboard import SummaryWriter as TorchWriter

    calls = [
        ("add_image", "uint8", torch.from_numpy(U8_CHW), {}),
        ("add_image", "float01", torch.rand(3, 31, 17), {}),
        ("add_image", "float_out", torch.randn(3, 16, 16) * 2, {}),
        ("add_image", "float64", F64_OUT, {}),
        ("add_image", "hwc", F32_HWC, {"dataformats": "HWC"}),
        ("add_image", "gray", GRAY_HW, {"dataformats": "HW"}),
        ("add_image", "one_channel", torch.rand(1, 9, 9), {}),
        ("add_images", "batch", torch.rand(11, 3, 7, 5), {}),
        ("add_images", "gray_batch", BATCH, {}),
        ("add_images", "nhwc", torch.rand(3, 7, 5, 3), {"dataformats": "NHWC"}),
        ("add_image", "ints", np.arange(-3, 9).reshape(3, 2, 2), {}),  # non-uint8: x 255
    ]
    for name, writer_cls in (("torch", TorchWriter), ("tblog", SummaryWriter)):
        with writer_cls(str(logdir / name)) as writer:
            for method, tag, data, kwargs in calls:
                getattr(writer, method)(tag, data, 0, **kwargs)
    ours, theirs = _first_pixels(logdir / "tblog"), _first_pixels(logdir / "torch")
    assert set(ours) == set(theirs) == {tag for _, tag, _, _ in calls}
    for tag in ours:
        np.testing.assert_array_equal(ours[tag], theirs[tag], err_msg=tag)

    fig = plt.figure(figsize=(2, 2), dpi=40)
    plt.plot([3, 1, 2])
    with TorchWriter(str(logdir / "torch_fig")) as writer:
        writer.add_figure("f", fig, 0, close=False)
    with SummaryWriter(logdir / "tblog_fig") as writer:
        writer.add_figure("f", fig, 0)
    np.testing.assert_array_equal(
        _first_pixels(logdir / "tblog_fig")["f"], _first_pixels(logdir / "torch_fig")["f"]
    )


def test_documented_differences_from_torch(logdir: Path) -> None:
    """torch fails on 4-channel batches and (without moviepy) writes empty videos."""
    from torch.utils.tensorboard import SummaryWriter as TorchWriter

    with TorchWriter(str(logdir / "torch")) as writer:
        with pytest.raises(AssertionError):
            writer.add_images("rgba", BATCH_RGBA, 0, dataformats="NHWC")
        writer.add_video("video", torch.from_numpy(RGB_VIDEO), 0)
    (video_value,) = [
        v for e in tbutil.load_run_events(logdir / "torch", migrate=False) for v in e.summary.value
    ]
    assert not video_value.HasField("image")  # nothing a reader can show
    with SummaryWriter(logdir / "tblog") as writer:
        writer.add_images("rgba", BATCH_RGBA, 0, dataformats="NHWC")
        writer.add_video("video", torch.from_numpy(RGB_VIDEO), 0)
    values = {
        v.tag: v
        for e in tbutil.load_run_events(logdir / "tblog", migrate=False)
        for v in e.summary.value
    }
    assert decode(values["rgba"].image.encoded_image_string).shape == (5, 15, 4)
    frames, _ = gif_frames(values["video"].image.encoded_image_string)
    assert len(frames) == 5 and frames[0].shape == (8, 18, 3)


# -- encoding off the caller's thread ----------------------------------------------------


def test_input_is_copied_before_deferred_encoding(
    logdir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = np.full((3, 40, 40), 7, np.uint8)
    tensor = torch.full((3, 40, 40), 0.5)
    with SummaryWriter(logdir) as writer:
        events = writer._get_file_writer().event_writer
        held: list[Any] = []  # encode only after the user changed the inputs
        monkeypatch.setattr(events, "add_deferred", held.append)
        writer.add_image("numpy", source, 0)
        writer.add_image("torch", tensor, 0)
        writer.add_video("video", source[None, None], 0)
        source[:] = 200
        tensor.fill_(1.0)
        assert len(held) == 3
        for make_record in held:
            events.add_record(make_record())
    values = {
        v.tag: v for e in tbutil.load_run_events(logdir, migrate=False) for v in e.summary.value
    }
    assert (decode(values["numpy"].image.encoded_image_string) == 7).all()
    assert (decode(values["torch"].image.encoded_image_string) == 127).all()
    assert (gif_frames(values["video"].image.encoded_image_string)[0][0] == 7).all()


@pytest.mark.parametrize("level", [0, 9])
def test_png_compression_knob(logdir: Path, level: int) -> None:
    smooth = np.tile(np.arange(64, dtype=np.uint8), (3, 64, 1))
    with SummaryWriter(logdir, png_compression=level) as writer:
        writer.add_image("smooth", smooth, 0)
    (value,) = [v for e in tbutil.load_run_events(logdir, migrate=False) for v in e.summary.value]
    np.testing.assert_array_equal(decode(value.image.encoded_image_string), hwc(smooth))
    raw_size = smooth.size
    assert (len(value.image.encoded_image_string) > raw_size) == (level == 0)


@pytest.mark.parametrize(
    ("level", "error", "match"),
    [
        (10, ValueError, "png_compression must be from 0"),
        ("1", TypeError, "png_compression must be an int"),
    ],
)
def test_png_compression_validation(logdir: Path, level: Any, error: type, match: str) -> None:
    with pytest.raises(error, match=match):
        SummaryWriter(logdir, png_compression=level)


@pytest.mark.parametrize("shape", [(1, 1, 1), (1, 7, 3), (9, 1, 4), (5, 6, 2), (300, 400, 3)])
@pytest.mark.parametrize("kind", ["noise", "smooth"])
def test_png_encoder_round_trip(shape: tuple[int, int, int], kind: str) -> None:
    if kind == "noise":  # large noise takes the stored (level 0) path
        pixels = RNG.integers(0, 256, shape, dtype=np.uint8)
    else:
        pixels = (np.indices(shape).sum(axis=0) % 256).astype(np.uint8)
    for level in (0, 1, 6):
        np.testing.assert_array_equal(
            decode(_image_utils.encode_png(pixels, level)).reshape(shape), pixels
        )


# -- bad input: a clear error naming the tag and argument, nothing written ---------------

IMG = np.zeros((3, 4, 4), np.float32)
V5 = np.zeros((1, 2, 3, 4, 4))
# id -> (call on a writer, exception, message pattern)
BAD_CALLS: dict[str, tuple[Any, type, str]] = {
    "image-rank": (
        lambda w: w.add_image("t", np.zeros((4, 4))),
        ValueError,
        r"add_image\(tag='t'\): img_tensor has shape \(4, 4\) \(2-D\) but dataformats='CHW' "
        "needs a 3-D",
    ),
    "image-format": (
        lambda w: w.add_image("t", IMG, dataformats="CHX"),
        ValueError,
        "dataformats='CHX' is not valid; expected a permutation of 'HW'",
    ),
    "image-format-repeat": (
        lambda w: w.add_image("t", IMG, dataformats="CCW"),
        ValueError,
        "dataformats='CCW' is not valid",
    ),
    "image-format-type": (
        lambda w: w.add_image("t", IMG, dataformats=3),
        TypeError,
        "dataformats must be a str",
    ),
    "image-channels": (
        lambda w: w.add_image("t", np.zeros((2, 4, 4))),
        ValueError,
        "img_tensor must have 1, 3 or 4 channels.*got 2",
    ),
    "image-empty": (
        lambda w: w.add_image("t", np.zeros((3, 0, 4))),
        ValueError,
        r"img_tensor is empty \(shape \(3, 0, 4\)\)",
    ),
    "image-dtype": (
        lambda w: w.add_image("t", np.array([["a"]]), dataformats="HW"),
        TypeError,
        "img_tensor must hold real numbers",
    ),
    "image-type": (
        lambda w: w.add_image("t", "not an image"),
        TypeError,
        r"add_image\(tag='t'\): img_tensor must be a numpy array, torch tensor",
    ),
    "image-tag": (
        lambda w: w.add_image(3, IMG), TypeError, r"add_image\(tag=3\): tag must be a str"
    ),
    "image-walltime": (
        lambda w: w.add_image("t", IMG, walltime=float("nan")),
        ValueError,
        r"add_image\(tag='t'\): walltime must be finite",
    ),
    "images-rank": (
        lambda w: w.add_images("t", IMG),
        ValueError,
        "dataformats='NCHW' needs a 4-D array",
    ),
    "images-list-shapes": (
        lambda w: w.add_images("t", [IMG, np.zeros((3, 5, 4))]),
        ValueError,
        "all images of a list must have one shape",
    ),
    "images-empty-list": (lambda w: w.add_images("t", []), ValueError, "img_tensor is empty"),
    "boxes-shape": (
        lambda w: w.add_image_with_boxes("t", IMG, np.zeros((2, 3))),
        ValueError,
        r"box_tensor must have shape \[N, 4\].*got \(2, 3\)",
    ),
    "boxes-labels": (
        lambda w: w.add_image_with_boxes("t", IMG, np.zeros((2, 4)), labels=["a"]),
        ValueError,
        "got 1 labels for 2 boxes",
    ),
    "boxes-nan": (
        lambda w: w.add_image_with_boxes("t", IMG, np.full((1, 4), np.nan)),
        ValueError,
        "box_tensor must be finite",
    ),
    "boxes-rescale": (
        lambda w: w.add_image_with_boxes("t", IMG, np.zeros((1, 4)), rescale=0),
        ValueError,
        "rescale must be a positive",
    ),
    "boxes-batch": (
        lambda w: w.add_image_with_boxes("t", IMG[None], np.zeros((1, 4)), dataformats="NCHW"),
        ValueError,
        "dataformats='NCHW' is not valid",
    ),
    "figure-type": (
        lambda w: w.add_figure("t", np.zeros((3, 3))),
        TypeError,
        r"add_figure\(tag='t'\): figure must be a matplotlib Figure",
    ),
    "figure-empty": (lambda w: w.add_figure("t", []), ValueError, "figure is an empty list"),
    "video-rank": (
        lambda w: w.add_video("t", V5[0]),
        ValueError,
        r"add_video\(tag='t'\): vid_tensor must be 5-D",
    ),
    "video-channels": (
        lambda w: w.add_video("t", np.zeros((1, 2, 4, 4, 4))),
        ValueError,
        "1 or 3 channels .*got 4",
    ),
    "video-fps": (
        lambda w: w.add_video("t", V5, fps=0),
        ValueError,
        "fps must be a positive finite number",
    ),
    "video-format": (
        lambda w: w.add_video("t", V5, dataformats="NTCHWX"),
        ValueError,
        "not a permutation of 'NTCHW'",
    ),
    "audio-layout": (
        lambda w: w.add_audio("t", np.zeros((2, 100))),
        ValueError,
        r"snd_tensor must be mono .* got shape \(2, 100\); transpose",
    ),
    "audio-empty": (lambda w: w.add_audio("t", np.zeros(0)), ValueError, "snd_tensor is empty"),
    "audio-rate": (
        lambda w: w.add_audio("t", np.zeros(5), sample_rate=0),
        ValueError,
        r"add_audio\(tag='t'\): sample_rate must be a positive",
    ),
    "audio-rate-type": (
        lambda w: w.add_audio("t", np.zeros(5), sample_rate="8k"),
        TypeError,
        "sample_rate must be a number",
    ),
}


@pytest.mark.parametrize("case", sorted(BAD_CALLS))
def test_bad_input(logdir: Path, case: str) -> None:
    call, error, match = BAD_CALLS[case]
    with SummaryWriter(logdir) as writer:
        with pytest.raises(error, match=match):
            call(writer)
        writer.add_image("after", IMG)  # the failed call used no auto step
    events = [e for e in tbutil.load_run_events(logdir) if e.HasField("summary")]
    assert [(v.tag, e.step) for e in events for v in e.summary.value] == [("after", 0)]


def test_audio_layouts_and_clipping_warning(logdir: Path) -> None:
    with SummaryWriter(logdir) as writer:
        writer.add_audio("row", np.zeros((1, 50)), 0)  # torch's documented (1, L)
        writer.add_audio("column", torch.zeros(40, 1), 0)
        writer.add_audio("squeezed", np.zeros((1, 30, 1)), 0)
        with pytest.warns(
            UserWarning, match=r"add_audio\(tag='loud'\): 3 of 4 samples were outside"
        ):
            writer.add_audio("loud", np.array([0.5, 2.0, -3.0, np.nan]), 0)
    clips = {
        v.tag: v.audio
        for e in tbutil.load_run_events(logdir, migrate=False)
        for v in e.summary.value
    }
    assert {tag: (c.num_channels, c.length_frames) for tag, c in clips.items()} == {
        "row": (1, 50),
        "column": (1, 40),
        "squeezed": (1, 30),
        "loud": (1, 4),
    }
    with wave.open(io.BytesIO(clips["loud"].encoded_audio_string)) as wav:
        assert np.frombuffer(wav.readframes(4), "<i2").tolist() == [16383, 32767, -32767, 0]


def test_import_and_add_image_without_pillow_or_matplotlib(logdir: Path) -> None:
    code = f"""
import sys
sys.modules["PIL"] = sys.modules["matplotlib"] = None  # as if not installed
import numpy as np
from tblog import SummaryWriter
with SummaryWriter({str(logdir)!r}) as w:
    w.add_image("img", np.ones((3, 4, 4)))
    w.add_audio("snd", np.zeros(10))
    for call in (lambda: w.add_video("v", np.zeros((1, 2, 3, 4, 4))),
                 lambda: w.add_figure("f", None)):
        try:
            call()
        except ImportError as exc:
            print(exc)
"""
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        "add_video needs pillow: pip install pillow",
        "add_figure needs matplotlib: pip install matplotlib",
    ]
    tags = {v.tag for e in tbutil.load_run_events(logdir) for v in e.summary.value}
    assert tags == {"img", "snd"}
