"""Reliability promise 8 (docs/reliability.md): bad input.

Every bad argument gets a TypeError or ValueError naming it, raised before
anything is written; the writer stays usable and its files stay valid.
Hypothesis throws random values (dtypes, shapes, NaN/inf, huge numbers, empty
arrays, strings, objects) at ``tblog._convert`` and at every ``add_*`` method:
only TypeError and ValueError may escape.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as npst
from reliability_helpers import run_scalars, verify
from tbutil import event_files

from tblog import SummaryWriter, _convert

# -- constructor and scalar methods: each bad argument, its message -------------------

CONSTRUCTOR_CASES = [
    ({"max_queue": 0}, ValueError, "max_queue must be at least 1"),
    ({"max_queue": "10"}, TypeError, "max_queue must be an int"),
    ({"max_queue": 2.5}, TypeError, "max_queue must be an int"),
    ({"flush_secs": 0}, ValueError, "flush_secs must be positive"),
    ({"flush_secs": math.nan}, ValueError, "flush_secs must be positive"),
    ({"flush_secs": "1"}, TypeError, "flush_secs must be a number"),
    ({"filename_suffix": 3}, TypeError, "filename_suffix must be a str"),
    ({"filename_suffix": "a/b"}, ValueError, "filename_suffix 'a/b' must not contain"),
    ({"filename_suffix": "x" * 300}, ValueError, "filename_suffix is .* bytes long"),
    ({"purge_step": "x"}, TypeError, "purge_step"),
    ({"purge_step": 1.5}, ValueError, "purge_step must be a whole number"),
]


@pytest.mark.parametrize("kwargs, error, match", CONSTRUCTOR_CASES)
def test_constructor_rejects_bad_arguments_before_creating_anything(
    tmp_path: Path, kwargs: dict[str, Any], error: type, match: str
) -> None:
    with pytest.raises(error, match=match):
        SummaryWriter(tmp_path / "run", **kwargs)
    assert not (tmp_path / "run").exists()


SCALAR_CASES: list[tuple[Callable[[SummaryWriter], None], type, str]] = [
    (lambda w: w.add_scalar(None, 1.0), TypeError, "tag must be a str"),
    (lambda w: w.add_scalar(b"loss", 1.0), TypeError, "tag must be a str"),
    (lambda w: w.add_scalar("loss", "1.0"), TypeError, r"add_scalar\(tag='loss'\).*scalar_value"),
    (lambda w: w.add_scalar("loss", None), TypeError, "scalar_value must be a number"),
    (lambda w: w.add_scalar("loss", [1, 2]), ValueError, "scalar_value must have exactly one"),
    (lambda w: w.add_scalar("loss", np.zeros(3)), ValueError, "scalar_value must have exactly"),
    (lambda w: w.add_scalar("loss", np.zeros(0)), ValueError, "scalar_value must have exactly"),
    (lambda w: w.add_scalar("loss", 1j), TypeError, "scalar_value"),
    (lambda w: w.add_scalar("loss", np.array(["a"])), TypeError, "scalar_value"),
    (lambda w: w.add_scalar("loss", 1.0, "3"), TypeError, "global_step"),
    (lambda w: w.add_scalar("loss", 1.0, 1.5), ValueError, "global_step must be a whole number"),
    (lambda w: w.add_scalar("loss", 1.0, 2**64), ValueError, "global_step must fit in int64"),
    (lambda w: w.add_scalar("loss", 1.0, math.nan), ValueError, "global_step"),
    (lambda w: w.add_scalar("loss", 1.0, True), TypeError, "global_step must be an int"),
    (lambda w: w.add_scalar("loss", 1.0, 1, "now"), TypeError, "walltime"),
    (lambda w: w.add_scalar("loss", 1.0, 1, math.inf), ValueError, "walltime must be finite"),
    (lambda w: w.add_scalar("\ud800", 1.0), ValueError, "tag '\\\\ud800' is not valid Unicode"),
    (lambda w: w.add_scalars(None, {"a": 1}), TypeError, "main_tag must be a str"),
    (lambda w: w.add_scalars("m", [1, 2]), TypeError, "tag_scalar_dict must be a mapping"),
    (lambda w: w.add_scalars("m", {1: 1.0}), TypeError, "keys must be str"),
    (lambda w: w.add_scalars("m", {"a": 1, "b": "x"}), TypeError, r"tag_scalar_dict\['b'\]"),
    (lambda w: w.add_scalars("m", {"a": 1, "b/c": 2}), ValueError, "key 'b/c' gives run"),
    (lambda w: w.add_scalars("m", {"a": 1, "\ud800": 2}), ValueError, "not valid UTF-8"),
    (lambda w: w.add_scalars("m", {"a": 1, "k" * 300: 2}), ValueError, "limited to 255 bytes"),
    (lambda w: w.add_scalars("m\ud800", {"a": 1}), ValueError, "main_tag .* not valid Unicode"),
    (
        lambda w: w.add_scalars("m", {"a": 1, "\ud800": 2}, same_run=True),
        ValueError,
        "key '\\\\ud800' is not valid Unicode",
    ),
]


@pytest.mark.parametrize("call, error, match", SCALAR_CASES)
def test_scalar_methods_reject_bad_arguments_before_writing(
    logdir: Path, call: Callable[[SummaryWriter], None], error: type, match: str
) -> None:
    writer = SummaryWriter(logdir, max_queue=1)
    writer.add_scalar("before", 1.0, 1)
    with pytest.raises(error, match=match):
        call(writer)
    writer.add_scalar("after", 2.0, 2)  # still usable
    writer.close()
    # Nothing of the failed call was written anywhere: one run, two points.
    assert [p.parent for p in logdir.rglob("*tfevents*")] == [logdir]
    assert run_scalars(logdir) == [("before", 1, 1.0), ("after", 2, 2.0)]


# -- sizes that would allocate in proportion to a number the user typed ----------------

_OUTLIER = np.concatenate([np.linspace(0.0, 1.0, 1000), [1e12]])  # "fd" wants ~10**13 bins

SIZE_CASES: list[tuple[Callable[[SummaryWriter], None], str]] = [
    (lambda w: w.add_histogram("h", [1.0, 2.0], 1, bins=2**31), r"bins asks for 2,147,483,648"),
    (lambda w: w.add_histogram("h", [1.0, 2.0], 1, bins=100_001), r"at most 100,000 are"),
    # A 0-d array is a count to numpy too (hypothesis found this one: 1.6 GB of edges).
    (lambda w: w.add_histogram("h", [1.0, 2.0], 1, bins=np.array(2 * 10**8)), r"bins asks for"),
    (lambda w: w.add_histogram("h", _OUTLIER, 1, bins="fd"), r"bins='fd' asks for .* buckets"),
    (
        lambda w: w.add_pr_curve("p", [1, 0], [0.9, 0.1], 1, num_thresholds=10_000_000),
        r"num_thresholds asks for 10,000,000 thresholds; at most 100,000",
    ),
    (
        lambda w: w.add_pr_curve_raw("p", *[[1.0]] * 6, 1, num_thresholds=10**12),
        r"num_thresholds asks for",
    ),
    (
        lambda w: w.add_image_with_boxes("i", np.zeros((3, 8, 8)), [[0, 0, 1, 1]], 1, rescale=1e5),
        r"rescale=100000.0 asks for .* pixels",
    ),
]


@pytest.mark.parametrize("call, match", SIZE_CASES)
def test_sizes_are_bounded_with_a_clear_error(
    logdir: Path, call: Callable[[SummaryWriter], None], match: str
) -> None:
    """A size that would allocate gigabytes is refused before anything is
    allocated (under the suite's memory cap these calls would otherwise die of
    MemoryError, or without it take the machine), and nothing is lost."""
    writer = SummaryWriter(logdir, max_queue=1)
    writer.add_scalar("before", 1.0, 1)
    with pytest.raises(ValueError, match=match):
        call(writer)
    writer.add_scalar("after", 2.0, 2)
    writer.close()
    assert run_scalars(logdir) == [("before", 1, 1.0), ("after", 2, 2.0)]


def test_sizes_at_the_limit_are_accepted(logdir: Path) -> None:
    from tblog import _limits

    with SummaryWriter(logdir) as writer:
        writer.add_histogram("h", [1.0, 2.0], 1, bins=_limits.MAX_HISTOGRAM_BUCKETS)
        writer.add_histogram("h", _OUTLIER[:-1], 2, bins="fd")  # no outlier: a few buckets
        writer.add_pr_curve("p", [1, 0], [0.9, 0.1], 1, num_thresholds=_limits.MAX_PR_THRESHOLDS)
    assert verify(logdir)[0] == 0


# -- hypothesis: junk of every kind ---------------------------------------------------

_DTYPES = st.one_of(
    npst.boolean_dtypes(),
    npst.integer_dtypes(),
    npst.unsigned_integer_dtypes(),
    npst.floating_dtypes(),
    npst.complex_number_dtypes(),
    npst.datetime64_dtypes(),
    npst.timedelta64_dtypes(),
    npst.byte_string_dtypes(max_len=3),
    npst.unicode_string_dtypes(max_len=3),
)
ARRAYS = npst.arrays(
    _DTYPES, npst.array_shapes(min_dims=0, max_dims=5, min_side=0, max_side=5)
)
NUMBERS = st.one_of(
    st.booleans(),
    st.integers(min_value=-(2**80), max_value=2**80),
    st.floats(allow_nan=True, allow_infinity=True),
    st.floats(min_value=-1e300, max_value=1e300),
    st.complex_numbers(),
)
STRINGS = st.one_of(st.text(max_size=8), st.binary(max_size=8), st.just("\ud800"))
ATOMS = st.one_of(st.none(), NUMBERS, STRINGS, st.builds(object))


def _as_torch(array: np.ndarray) -> Any:
    """The array as a torch tensor when torch can hold it, else unchanged."""
    try:
        import torch

        return torch.from_numpy(np.ascontiguousarray(array))
    except (ImportError, TypeError, ValueError, RuntimeError):
        return array


JUNK = st.one_of(
    ATOMS,
    ARRAYS,
    ARRAYS.map(_as_torch),
    st.recursive(ATOMS, lambda inner: st.lists(inner, max_size=4), max_leaves=12),
    st.dictionaries(st.text(max_size=4), ATOMS, max_size=3),
)
ALLOWED = (TypeError, ValueError)

FUZZ = settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@pytest.mark.parametrize(
    "convert",
    [
        _convert.to_numpy,
        _convert.to_float,
        _convert.to_step,
        _convert.to_walltime,
        _convert.to_text,
    ],
    ids=lambda f: f.__name__,
)
@settings(max_examples=150, deadline=None)
@given(value=JUNK)
def test_convert_raises_only_type_or_value_errors(convert: Callable[..., Any], value: Any) -> None:
    try:
        result = convert(value)
    except ALLOWED:
        return
    if convert is _convert.to_walltime:
        assert math.isfinite(result)
    if convert is _convert.to_step:
        assert type(result) is int and -(2**63) <= result < 2**63


# Each add_* method with its arguments: "J" marks one drawn from JUNK, anything
# else is passed as is. Methods that need a model or a file are left to their
# own tests.
METHOD_ARGS: dict[str, tuple[Any, ...]] = {
    "add_scalar": ("J", "J", "J"),
    "add_scalars": ("tag", "J", "J"),
    "add_histogram": ("tag", "J", 1, "J"),
    "add_histogram_raw": ("tag", "J", "J", "J", "J", "J", "J", "J"),
    "add_image": ("tag", "J"),
    "add_images": ("tag", "J"),
    "add_image_with_boxes": ("tag", "J", "J"),
    "add_video": ("tag", "J"),
    "add_audio": ("tag", "J", 1, "J"),
    "add_text": ("J", "J"),
    "add_tensor": ("tag", "J"),
    "add_pr_curve": ("tag", "J", "J", 1, "J"),
    "add_pr_curve_raw": ("tag", "J", "J", "J", "J", "J", "J"),
    "add_mesh": ("tag", "J", "J", "J"),
    "add_embedding": ("J", "J"),
    "add_hparams": ("J", "J"),
    "add_custom_scalars": ("J",),
    "add_custom_scalars_multilinechart": ("J", "J"),
    "add_figure": ("tag", "J"),
}
FUZZED_METHODS = [name for name in METHOD_ARGS if hasattr(SummaryWriter, name)]


@pytest.fixture(scope="module")
def fuzz_writer(tmp_path_factory: pytest.TempPathFactory) -> SummaryWriter:
    writer = SummaryWriter(tmp_path_factory.mktemp("logs_fuzz"), max_queue=1)
    yield writer
    writer.close()
    status, output = verify(writer.log_dir)  # whatever was accepted was written validly
    assert status == 0, output


@pytest.mark.filterwarnings("ignore::UserWarning")  # e.g. add_audio clipping: expected
@pytest.mark.parametrize("method", FUZZED_METHODS)
def test_add_methods_raise_only_type_or_value_errors(
    fuzz_writer: SummaryWriter, method: str
) -> None:
    spec = METHOD_ARGS[method]

    @FUZZ
    @given(values=st.tuples(*(JUNK if arg == "J" else st.just(arg) for arg in spec)))
    def check(values: tuple[Any, ...]) -> None:
        try:
            getattr(fuzz_writer, method)(*values)
        except ALLOWED:
            pass
        try:
            fuzz_writer.flush()  # off-thread encodes report here
        except ALLOWED:
            pass
        fuzz_writer.add_scalar("alive", 1.0)  # still usable after any of it

    check()
    for path in event_files(fuzz_writer.log_dir):
        assert verify(path)[0] == 0
