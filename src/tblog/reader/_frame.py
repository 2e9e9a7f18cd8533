"""TFRecord framing of a whole file at once: record bounds and both CRCs checked.

The walk over the length fields is the only per-record Python loop. A length
field's CRC is computed once per distinct length. Data CRCs of many short records
of one length use CRC-32C being affine over GF(2) for a fixed length:
``crc(x) = crc(r) ^ XOR_j T_j[x_j ^ r_j]`` with ``r`` the group's first record and
``T_j`` a 256-entry table for each byte position where the group varies (a scalar
event varies in ~15 of its ~30 bytes); other records take one ``crc32c`` call each.
"""

from __future__ import annotations

import struct
from typing import Any

import numpy as np

from tblog._record import crc32c

_U64 = struct.Struct("<Q").unpack_from
_MASK = 0xA282EAD8
_SMALL_GROUP = 4096  # fewer records of one length: one crc32c call each (tables cost more)
_MAX_AFFINE_LENGTH = 512  # longer records: one crc32c call each
_CHUNK = 1 << 16  # records per batch (bounds the memory of the byte matrix)


def mask(crc: np.ndarray) -> np.ndarray:
    """TFRecord's masking of CRC32C values (uint32 array)."""
    c = crc.astype(np.uint64)
    return ((((c >> 15) | (c << 17)) + _MASK) & 0xFFFFFFFF).astype(np.uint32)


def gather(raw: np.ndarray, offsets: np.ndarray, width: int) -> np.ndarray:
    """``raw[o:o + width]`` for every offset, as an ``(n, width)`` uint8 matrix."""
    if width == 0 or raw.size < width:
        return np.zeros((offsets.size, width), dtype=np.uint8)
    return np.lib.stride_tricks.sliding_window_view(raw, width)[offsets]


def field(raw: np.ndarray, offsets: np.ndarray, dtype: str) -> np.ndarray:
    """The little-endian number of ``dtype`` starting at each offset (unaligned reads)."""
    kind = np.dtype(dtype)
    if raw.size < kind.itemsize:
        return np.zeros(offsets.size, dtype=kind)
    view = np.ndarray((raw.size - kind.itemsize + 1,), dtype=kind, buffer=raw, strides=(1,))
    return view[offsets]


def distinct(values: np.ndarray, limit: int = 64) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(unique values, inverse, index of each value's first occurrence)``.

    Without sorting while there are few distinct values (one comparison over the
    values not yet assigned, each); past ``limit`` of them the rest go to ``np.unique``.
    """
    inverse = np.full(values.size, -1, dtype=np.int64)
    found: list[Any] = []
    firsts: list[int] = []
    index = np.arange(values.size)
    rest = values
    while rest.size and len(found) < limit:
        hit = rest == rest[0]
        inverse[index[hit]] = len(found)
        found.append(rest[0])
        firsts.append(int(index[0]))
        miss = ~hit
        index, rest = index[miss], rest[miss]
    uniques = np.asarray(found, dtype=values.dtype)
    first = np.asarray(firsts, dtype=np.int64)
    if rest.size:
        more, more_first, more_inverse = np.unique(rest, return_index=True, return_inverse=True)
        inverse[index] = more_inverse.ravel() + len(found)
        uniques = np.concatenate([uniques, more])
        first = np.concatenate([first, index[more_first]])
    return uniques, inverse, first


def members(inverse: np.ndarray, count: int) -> list[np.ndarray]:
    """For each of ``count`` groups, the indices whose ``inverse`` is that group."""
    if count <= 1:
        return [np.arange(inverse.size)] if count else []
    order = np.argsort(inverse, kind="stable")
    bounds = np.searchsorted(inverse[order], np.arange(1, count))
    return np.split(order, bounds)


def crc_many(buf: bytes, raw: np.ndarray, starts: np.ndarray, ends: np.ndarray,
             groups: tuple[np.ndarray, np.ndarray] | None = None) -> np.ndarray:
    """Unmasked CRC32C of ``buf[start:end]`` for each pair.

    ``groups``: ``(distinct lengths, index of each record's length)`` if known.
    """
    out = np.empty(starts.size, dtype=np.uint32)
    unique, inverse = groups if groups is not None else distinct(ends - starts)[:2]
    for length, group in zip(unique.tolist(), members(inverse, unique.size), strict=True):
        if group.size < _SMALL_GROUP or length > _MAX_AFFINE_LENGTH:
            lo = starts[group]
            pieces = map(buf.__getitem__, map(slice, lo.tolist(), (lo + length).tolist()))
            out[group] = np.fromiter(map(crc32c, pieces), dtype=np.uint32, count=group.size)
        else:
            out[group] = _crc_same_length(raw, starts[group], length)
    return out


def _blocks(raw: np.ndarray, starts: np.ndarray, length: int):  # noqa: ANN202 - generator
    """``(index range, (m, length) byte matrix)`` batches of the messages at ``starts``.

    Records written one after another (equal length, so at a fixed stride) are
    viewed in place; the others are gathered.
    """
    stride = length + 16
    breaks = np.flatnonzero(np.diff(starts) != stride) + 1
    edges = np.concatenate([[0], breaks, [starts.size]]).tolist()
    scattered: list[np.ndarray] = []
    for lo, hi in zip(edges[:-1], edges[1:], strict=True):
        if hi - lo < 32:
            scattered.append(np.arange(lo, hi))
            continue
        for chunk_lo in range(lo, hi, _CHUNK):
            m = min(_CHUNK, hi - chunk_lo)
            first = int(starts[chunk_lo])
            view = np.lib.stride_tricks.as_strided(
                raw[first:], shape=(m, length), strides=(stride, 1), writeable=False)
            yield np.arange(chunk_lo, chunk_lo + m), view
    if scattered:
        rest = np.concatenate(scattered)
        for chunk_lo in range(0, rest.size, _CHUNK):
            index = rest[chunk_lo : chunk_lo + _CHUNK]
            yield index, gather(raw, starts[index], length)


def _crc_same_length(raw: np.ndarray, starts: np.ndarray, length: int) -> np.ndarray:
    """CRC32C of many ``length``-byte messages: ``crc(r) ^ XOR_j T_j[x_j ^ r_j]``."""
    out = np.empty(starts.size, dtype=np.uint32)
    zero = crc32c(bytes(length))
    reference = gather(raw, starts[:1], length)[0].copy()
    base = crc32c(reference.tobytes())
    tables: dict[int, np.ndarray] = {}
    for index, block in _blocks(raw, starts, length):
        diff = block ^ reference
        part = np.full(diff.shape[0], base, dtype=np.uint32)
        for j in np.flatnonzero(diff.any(axis=0)).tolist():
            table = tables.get(j)
            if table is None:
                table = tables[j] = _position_table(length, j, zero)
            part ^= table[diff[:, j]]
        out[index] = part
    return out


def _position_table(length: int, position: int, zero: int) -> np.ndarray:
    """``T[b] = crc(b at position, zeros elsewhere) ^ crc(zeros)`` for every byte b."""
    message = bytearray(length)
    basis = []
    for bit in range(8):
        message[position] = 1 << bit
        basis.append(crc32c(bytes(message)) ^ zero)
    index = np.arange(256)
    table = np.zeros(256, dtype=np.uint32)
    for bit, value in enumerate(basis):
        table ^= np.where((index >> bit) & 1, np.uint32(value), np.uint32(0))
    return table


def _walk(buf: bytes, raw: np.ndarray) -> np.ndarray:
    """Offsets of the records' length fields (unchecked), below ``len(buf)``.

    After a few records of one size, the next ones are guessed at that size and
    their length fields compared with numpy in batches, so a file of equally long
    records takes few Python iterations.
    """
    n = len(buf)
    done: list[np.ndarray] = []
    offsets: list[int] = []
    append = offsets.append
    off = 0
    last = run = 0
    lengths8 = np.lib.stride_tricks.sliding_window_view(raw, 8) if n >= 8 else None
    while off + 8 <= n:
        size = _U64(buf, off)[0] + 16
        append(off)
        off += size
        if size != last:
            last, run = size, 0
            continue
        run += 1
        if run < 8 or size > n or lengths8 is None:
            continue
        done.append(np.asarray(offsets, dtype=np.int64))
        offsets.clear()
        batch = 64
        while True:
            guess = off + size * np.arange(batch, dtype=np.int64)
            guess = guess[guess + 8 <= n]
            if not guess.size:
                break
            match = lengths8[guess].copy().view("<u8").ravel() == size - 16
            good = guess.size if match.all() else int(np.argmin(match))
            done.append(guess[:good])
            off = int(guess[good - 1]) + size if good else off
            if good < batch:
                break
            batch = min(batch * 2, 1 << 16)
        run = 0
    if off < n:
        append(off)  # a partial record at the end
    done.append(np.asarray(offsets, dtype=np.int64))
    return np.concatenate(done)


def frame(buf: bytes, check_crc: bool = True) -> tuple[np.ndarray, np.ndarray, tuple | None]:
    """Bounds of the whole, valid records of ``buf`` (one event file).

    Returns:
        ``(data starts, data ends, problem)``: int64 arrays for the records up to
        the first bad one; ``problem`` is None or ``(message, byte offset of the
        record, truncated tail?)``.
    """
    n = len(buf)
    raw = np.frombuffer(buf, dtype=np.uint8)
    heads = _walk(buf, raw)
    problem = None
    with_header = heads[heads + 12 <= n]
    heads = heads[: with_header.size + 1]
    lengths = field(raw, with_header, "<u8")
    bad = np.zeros(with_header.size, dtype=bool)
    groups = None
    if check_crc and with_header.size:
        stored = field(raw, with_header + 8, "<u4")
        unique, inverse, _ = distinct(lengths)
        groups = unique.astype(np.int64), inverse
        expected = np.array([crc32c(int(v).to_bytes(8, "little")) for v in unique.tolist()],
                            dtype=np.uint32)
        bad = mask(expected)[inverse] != stored
    first_bad = int(np.argmax(bad)) if bad.any() else None
    count = with_header.size if first_bad is None else first_bad
    # Records whose body runs past the end of the file (at most the last few).
    ends = with_header[:count] + 12 + lengths[:count].astype(np.int64)
    complete = (lengths[:count] <= n) & (ends + 4 <= n)
    if not complete.all():
        count = int(np.argmin(complete))
        first_bad = None
    starts = with_header[:count] + 12
    ends = ends[:count]
    used = int(ends[-1]) + 4 if count else 0
    if first_bad is not None:
        problem = ("bad length CRC", int(with_header[first_bad]), False)
    elif used < n:
        problem = ("truncated record", used, True)
    if check_crc and count:
        if groups is not None:
            groups = groups[0], groups[1][:count]
        data_crc = crc_many(buf, raw, starts, ends, groups)
        stored = field(raw, ends, "<u4")
        wrong = mask(data_crc) != stored
        if wrong.any():
            k = int(np.argmax(wrong))
            problem = ("bad data CRC", int(starts[k] - 12), False)
            starts, ends = starts[:k], ends[:k]
    return starts, ends, problem
