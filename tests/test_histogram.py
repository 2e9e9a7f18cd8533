"""Histogram builder: equal to torch's output, exact buckets, bad inputs, fuzzing.

What TensorBoard serves for these histograms is checked in
test_tensor_kinds_tensorboard.py; here the builder is compared with torch's
and numpy's own code, value by value.
"""

from __future__ import annotations

import os

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from tbutil import load_run_events

from tblog import SummaryWriter, _convert
from tblog.proto import histogram_pb2, summary_pb2
from tblog.summary import _histogram_counts as C
from tblog.summary import histogram as H

torch = pytest.importorskip("torch")
torch_summary = pytest.importorskip("torch.utils.tensorboard.summary")


@pytest.fixture(scope="module")
def torch_bins(tmp_path_factory: pytest.TempPathFactory) -> list[float]:
    from torch.utils.tensorboard import SummaryWriter as TorchWriter

    writer = TorchWriter(str(tmp_path_factory.mktemp("torch_bins")))
    writer.close()
    return writer.default_bins


@pytest.fixture(params=["one-chunk", "many-chunks", "halves"])
def path(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Count in one chunk, in many (with a last, shorter one), or in two
    halves on two threads (each in many chunks)."""
    monkeypatch.setattr(C, "_CHUNK", 1 << 40 if request.param == "one-chunk" else 777)
    if request.param == "halves":
        monkeypatch.setattr(C, "_SPLIT_MIN", 1000)  # as in real use, not tiny inputs
    return request.param


def parse(data: bytes) -> histogram_pb2.HistogramProto:
    return histogram_pb2.HistogramProto.FromString(data)


def assert_same_as_torch(ours: histogram_pb2.HistogramProto, theirs: object) -> None:
    assert list(ours.bucket_limit) == list(theirs.bucket_limit)
    assert list(ours.bucket) == list(theirs.bucket)
    assert (ours.min, ours.max, ours.num) == (theirs.min, theirs.max, theirs.num)
    # Both accumulate in float64, in different orders.
    assert ours.sum == pytest.approx(theirs.sum, rel=1e-12, abs=1e-12)
    assert ours.sum_squares == pytest.approx(theirs.sum_squares, rel=1e-12)


def reference_counts(values: np.ndarray) -> np.ndarray:
    return np.histogram(values.astype(np.float64).reshape(-1), bins=H.DEFAULT_EDGES)[0]


def test_default_edges_are_torchs(torch_bins: list[float]) -> None:
    assert len(H.DEFAULT_EDGES) == 1549
    assert H.DEFAULT_EDGES.tolist() == torch_bins  # bit for bit


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_half_open_edges_bucket_like_numpy(dtype: type) -> None:
    edges = H.half_open_edges(np.dtype(dtype))
    # The edges themselves and their neighbours are the hardest values.
    values = np.concatenate([edges, np.nextafter(edges, np.inf), np.nextafter(edges, -np.inf)])
    values = values[np.isfinite(values)].astype(dtype)
    counts = np.bincount(np.searchsorted(edges, values, side="right"), minlength=len(edges) + 1)
    assert counts[1:-1].tolist() == reference_counts(values).tolist()


@pytest.mark.parametrize(
    "make",
    [
        lambda rng: rng.standard_normal(150_000).astype(np.float32),  # 3 chunks
        lambda rng: rng.standard_normal(3000),
        lambda rng: (rng.standard_normal(20_000) * 1e-13).astype(np.float32),
        lambda rng: np.full(30_000, 1.0, np.float32),
        lambda rng: np.zeros(100, np.float32),
        lambda rng: np.array([-0.0, 0.0, 1e-45, -1e-45], np.float32),
        lambda rng: rng.integers(-1000, 1000, 5000),
        lambda rng: rng.integers(0, 255, (20, 30), dtype=np.uint8),
        lambda rng: rng.standard_normal(1000).astype(np.float16),
        lambda rng: rng.random(100) < 0.5,
        lambda rng: np.array([3e38, -3e38, 1.0], np.float32),  # beyond +-1e20
    ],
    ids=[
        "normal32", "normal64", "tiny", "constant", "zeros", "signed-zeros-denormals",
        "int64", "uint8-2d", "float16", "bool", "out-of-range",
    ],
)
def test_same_as_torch(make: object, path: str, torch_bins: list[float]) -> None:
    values = make(np.random.default_rng(0))
    theirs = torch_summary.histogram("h", values, torch_bins).value[0].histo
    ours = parse(H.histogram_proto_bytes(values))
    assert_same_as_torch(ours, theirs)


def test_same_as_torch_for_torch_tensors(torch_bins: list[float]) -> None:
    for values in (torch.randn(40_000), torch.randn(300, dtype=torch.float64)):
        theirs = torch_summary.histogram("h", values, torch_bins).value[0].histo
        assert_same_as_torch(parse(H.histogram_proto_bytes(_convert.to_numpy(values))), theirs)


@pytest.mark.parametrize("bins", ["auto", "fd", 7, [-3.0, -1.0, 0.0, 0.5, 2.0, 4.0]])
def test_numpy_bins_same_as_torch(bins: object) -> None:
    values = np.random.default_rng(1).standard_normal(2000).astype(np.float32)
    theirs = torch_summary.histogram("h", values, bins).value[0].histo
    assert_same_as_torch(parse(H.histogram_proto_bytes(values, bins)), theirs)


@pytest.mark.parametrize("max_bins", [1, 3, 64, 100, 2000])
def test_max_bins_same_as_torch(max_bins: int, path: str, torch_bins: list[float]) -> None:
    values = np.random.default_rng(2).standard_normal(5000).astype(np.float32)
    theirs = torch_summary.histogram("h", values, torch_bins, max_bins).value[0].histo
    ours = parse(H.histogram_proto_bytes(values, max_bins=max_bins))
    assert_same_as_torch(ours, theirs)
    assert len(ours.bucket) <= len(H.DEFAULT_EDGES)


def test_halves_give_the_same_bytes_on_one_cpu_or_two(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    values = np.random.default_rng(3).standard_normal(5 * C._CHUNK + 123).astype(np.float32)
    monkeypatch.setattr(C, "_SPLIT_MIN", 1)
    two_threads = H.histogram_proto_bytes(values)
    assert C._helper is not None  # the helper thread really counted a half
    monkeypatch.setattr(C, "_usable_cpus", lambda: 1)
    assert H.histogram_proto_bytes(values) == two_threads  # sums bit for bit
    monkeypatch.setattr(C, "_SPLIT_MIN", 1 << 40)
    one_pass = parse(H.histogram_proto_bytes(values))
    halves = parse(two_threads)
    assert list(halves.bucket) == list(one_pass.bucket)
    assert (halves.min, halves.max) == (one_pass.min, one_pass.max)
    assert halves.sum_squares == pytest.approx(one_pass.sum_squares, rel=1e-12)


def _histogram_in_forked_child(queue: object) -> None:
    values = np.random.default_rng(4).standard_normal(1 << 19).astype(np.float32)
    queue.put(H.histogram_proto_bytes(values))


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_forked_child_counts_halves_without_the_parents_helper() -> None:
    import multiprocessing

    values = np.random.default_rng(4).standard_normal(1 << 19).astype(np.float32)
    expected = H.histogram_proto_bytes(values)  # starts the parent's helper thread
    context = multiprocessing.get_context("fork")
    queue = context.Queue()
    child = context.Process(target=_histogram_in_forked_child, args=(queue,))
    child.start()
    try:
        got = queue.get(timeout=60)  # a helper inherited as-is would hang here
    finally:
        child.join(timeout=10)
        if child.is_alive():
            child.kill()
    assert got == expected


def test_trimmed_to_occupied_range_plus_one_empty_bucket() -> None:
    histo = parse(H.histogram_proto_bytes(np.array([1.0, 1.0, 2.0])))
    assert histo.bucket[0] == 0 and histo.bucket[1] > 0 and histo.bucket[-1] > 0
    assert sum(histo.bucket) == 3
    assert histo.bucket_limit[0] < 1.0 <= histo.bucket_limit[1]
    assert histo.bucket_limit[-1] > 2.0


def test_hand_encoding_equals_generated_message() -> None:
    cases = [
        (1.5, -2.0, 3.0, 0.25, 7.0, [1.0, 2.0], [0.0, 3.0]),
        (0.0, 0.0, 1.0, 0.0, 0.0, [1e-12], [1.0]),  # proto3 omits the zeros
        (-0.0, -0.0, 1.0, -0.0, 0.0, [0.0], [0.0]),  # but keeps -0.0
        (1.0, 2.0, 0.0, 3.0, 4.0, [], []),
        (-1e308, 1e308, 1e6, 5e-324, 1e300, list(np.linspace(-1, 1, 300)), [2.0] * 300),
    ]
    for low, high, num, total, squares, limits, counts in cases:
        expected = histogram_pb2.HistogramProto(
            min=low, max=high, num=num, sum=total, sum_squares=squares,
            bucket_limit=limits, bucket=counts,
        ).SerializeToString()
        ours = H.encode_histogram_proto(
            low, high, num, total, squares, np.array(limits), np.array(counts)
        )
        assert ours == expected


def test_summary_bytes_parse_as_generated() -> None:
    summary = summary_pb2.Summary.FromString(
        H.summary("a/b", H.histogram_proto_bytes(np.arange(10.0)))
    )
    assert summary.value[0].tag == "a/b"
    assert summary.value[0].histo.num == 10


def test_torch_device_path_matches_numpy() -> None:
    # The accelerator path, run on CPU tensors: same bytes as the numpy path.
    for values in (torch.randn(30_000), torch.randn(500, dtype=torch.float64) * 1e5,
                   torch.randint(-5, 5, (100,)), torch.randn(64, dtype=torch.bfloat16)):
        stats = H.torch_stats(values)
        device = H.histogram_from_stats(*stats)
        host = H.histogram_proto_bytes(_convert.to_numpy(values))
        a, b = parse(device), parse(host)
        assert (a.min, a.max, a.num, list(a.bucket), list(a.bucket_limit)) == (
            b.min, b.max, b.num, list(b.bucket), list(b.bucket_limit)
        )
        assert a.sum == pytest.approx(b.sum, rel=1e-9, abs=1e-9)
        assert a.sum_squares == pytest.approx(b.sum_squares, rel=1e-9)
    nan_stats = H.torch_stats(torch.tensor([1.0, float("nan")]))
    with pytest.raises(ValueError, match="NaN or infinite"):
        H.histogram_from_stats(*nan_stats)


# -- bad input ------------------------------------------------------------------------


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), float("-inf")])
def test_nonfinite_values_rejected(bad: float, path: str) -> None:
    values = np.ones(100, np.float32)
    values[37] = bad
    with pytest.raises(ValueError, match=r"1 NaN or infinite value\(s\) of 100"):
        H.histogram_proto_bytes(values)
    with pytest.raises(ValueError, match="NaN or infinite"):
        H.histogram_proto_bytes(values, bins="auto")


def test_empty_rejected() -> None:
    with pytest.raises(ValueError, match="values is empty"):
        H.histogram_proto_bytes(np.zeros((3, 0)))


@pytest.mark.parametrize(
    "values", [np.array(["a", "b"]), np.array([1 + 2j]), np.array([object()], dtype=object)]
)
def test_non_real_values_rejected(values: np.ndarray) -> None:
    with pytest.raises(TypeError, match="values must be real numbers, got dtype"):
        H.histogram_proto_bytes(values)


def test_all_values_outside_bins_rejected() -> None:
    with pytest.raises(ValueError, match="every value lies outside the bins"):
        H.histogram_proto_bytes(np.array([1e30, 2e30]))
    with pytest.raises(ValueError, match="every value lies outside the bins"):
        H.histogram_proto_bytes(np.array([5.0]), bins=[0.0, 1.0])


@pytest.mark.parametrize("max_bins", [0, -3, 2.5, True, "10"])
def test_bad_max_bins_rejected(max_bins: object) -> None:
    with pytest.raises(ValueError, match="max_bins must be a positive int or None"):
        H.histogram_proto_bytes(np.arange(5.0), max_bins=max_bins)


@pytest.mark.parametrize("bins", ["nonsense", [3.0, 1.0, 2.0], -2])
def test_bad_bins_rejected(bins: object) -> None:
    with pytest.raises(ValueError, match=r"bins=.* was rejected by np.histogram"):
        H.histogram_proto_bytes(np.arange(5.0), bins=bins)
    with pytest.raises(ValueError, match=r"bins=\[\] makes no buckets; give at least two edges"):
        H.histogram_proto_bytes(np.arange(5.0), bins=[])


def test_writer_errors_name_tag_and_write_nothing(logdir: object) -> None:
    writer = SummaryWriter(logdir)
    with pytest.raises(ValueError, match=r"add_histogram\(tag='w/bad'\): values has 1 NaN"):
        writer.add_histogram("w/bad", np.array([1.0, np.nan]), 0)
    with pytest.raises(ValueError, match=r"add_histogram\(tag='w/empty'\): values is empty"):
        writer.add_histogram("w/empty", [], 0)
    with pytest.raises(TypeError, match=r"add_histogram\(tag=3\): tag must be a str"):
        writer.add_histogram(3, [1.0], 0)
    with pytest.raises(
        ValueError, match=r"add_histogram_raw\(tag='raw'\): bucket_limits and bucket_counts "
        r"must have the same length \(one right edge per bucket\), got 3 and 2"
    ):
        writer.add_histogram_raw("raw", 0, 1, 2, 1, 1, [0.5, 1.0, 2.0], [1, 1], 0)
    with pytest.raises(ValueError, match="bucket_limits must be non-decreasing"):
        writer.add_histogram_raw("raw", 0, 1, 2, 1, 1, [1.0, 0.5], [1, 1], 0)
    with pytest.raises(ValueError, match="bucket_counts must be non-negative"):
        writer.add_histogram_raw("raw", 0, 1, 2, 1, 1, [0.5, 1.0], [1, -1], 0)
    with pytest.raises(ValueError, match="bucket_limits and bucket_counts are empty"):
        writer.add_histogram_raw("raw", 0, 1, 2, 1, 1, [], [], 0)
    with pytest.raises(TypeError, match=r"add_histogram_raw\(tag='raw'\): min must be a number"):
        writer.add_histogram_raw("raw", "low", 1, 2, 1, 1, [1.0], [1], 0)
    writer.close()
    events = load_run_events(logdir, migrate=False)
    assert [e for e in events if e.HasField("summary")] == []


# -- fuzzing --------------------------------------------------------------------------

finite_or_not = st.floats(width=32, allow_nan=True, allow_infinity=True, allow_subnormal=True)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    values=hnp.arrays(np.float32, st.integers(1, 300), elements=finite_or_not),
    chunked=st.booleans(),
    halves=st.booleans(),
    scale=st.sampled_from([1.0, 1e-30, 1e-12, 1e20, 1e30]),
)
def test_fuzz_builder(values: np.ndarray, chunked: bool, halves: bool, scale: float) -> None:
    with np.errstate(over="ignore", invalid="ignore"):
        values = (values * np.float32(scale)).astype(np.float32)
    old = C._CHUNK, C._SPLIT_MIN
    C._CHUNK = 7 if chunked else 1 << 40
    C._SPLIT_MIN = 2 if halves else 1 << 40
    try:
        try:
            histo = parse(H.histogram_proto_bytes(values))
        except ValueError as exc:
            finite = values[np.isfinite(values)]
            if finite.size < values.size:
                assert "NaN or infinite" in str(exc)
            else:
                assert "every value lies outside the bins" in str(exc)
                assert not reference_counts(finite).any()
            return
    finally:
        C._CHUNK, C._SPLIT_MIN = old
    inside = (values >= H.DEFAULT_EDGES[0]) & (values <= H.DEFAULT_EDGES[-1])
    assert histo.num == values.size
    assert sum(histo.bucket) == np.count_nonzero(inside)  # == num when all are inside
    assert histo.bucket[0] == 0
    limits = np.array(histo.bucket_limit)
    assert np.all(np.diff(limits) > 0)
    assert (histo.min, histo.max) == (float(values.min()), float(values.max()))
    full = reference_counts(values)
    first = int(np.searchsorted(H.DEFAULT_EDGES, limits[0]))
    assert list(histo.bucket[1:]) == full[first : first + len(limits) - 1].tolist()


@pytest.mark.parametrize("size", [H.DEFER_MIN - 1, H.DEFER_MIN, 100_000, H.DEFER_MAX_BYTES // 4,
                                  H.DEFER_MAX_BYTES // 4 + 1])
@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int16])
def test_counted_later_equals_counted_now(size: int, dtype: type) -> None:
    values = (np.random.default_rng(size).standard_normal(size) * 50).astype(dtype)
    expected = H.histogram_proto_bytes(values, "tensorflow", 40)
    build = H.counted_later(values, 40)
    deferred = dtype().itemsize * size <= H.DEFER_MAX_BYTES or dtype == np.int16
    if not (H.DEFER_MIN <= size and deferred):
        assert build is None
        return
    if build is None:  # int16 counts as float32: same bytes rule
        assert np.dtype(np.float32).itemsize * size > H.DEFER_MAX_BYTES
        return
    values[:] = 0  # the caller changes its array at once: the builder kept a copy
    assert build() == expected


def test_counted_later_checks_now() -> None:
    values = np.ones(H.DEFER_MIN, np.float32)
    values[7] = np.nan
    with pytest.raises(ValueError, match="NaN or infinite"):
        H.counted_later(values)
    with pytest.raises(ValueError, match="max_bins"):
        H.counted_later(np.ones(H.DEFER_MIN), max_bins=0)


def test_writer_counts_weights_off_thread_in_order(logdir: object) -> None:
    """A 256x784 weight (deferred) and a small bias (at once), interleaved, mutated
    right after each call: the file holds each call's histogram, in call order."""
    weight = torch.randn(256, 784)
    bias = torch.randn(256)
    writer = SummaryWriter(str(logdir))
    expected = []
    for step in range(20):
        for tag, tensor in (("w", weight), ("b", bias)):
            writer.add_histogram(tag, tensor, step)
            expected.append((tag, step, H.histogram_proto_bytes(tensor.numpy())))
            tensor.add_(0.1)  # an optimizer step
    writer.close()
    events = [e for e in load_run_events(str(logdir), migrate=False) if e.HasField("summary")]
    got = [(e.summary.value[0].tag, e.step, e.summary.value[0].histo.SerializeToString())
           for e in events]
    assert got == expected
