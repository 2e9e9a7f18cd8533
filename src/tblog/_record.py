"""TFRecord framing: bytes in, bytes out.

A record is ``u64 length (little-endian) | u32 masked CRC32C of those 8 bytes |
data | u32 masked CRC32C of data``. TensorBoard's loaders check both CRCs.
"""

from __future__ import annotations

import importlib.machinery
import importlib.util
import os
import struct
from collections.abc import Callable, Iterator
from typing import BinaryIO


def _load_crc32c() -> Callable[[bytes], int]:
    """The ``crc32c`` package's C function, loaded without the package's
    ``__init__``: that imports ``importlib.metadata`` (for ``__version__``),
    ``email`` and ``argparse`` (for its command line), about 20 ms, a sixth
    of ``import tblog`` (measured with ``python -X importtime``). Any surprise
    (another layout, a wrong check value) falls back to the plain import."""
    try:
        spec = importlib.util.find_spec("crc32c")  # finds, does not run, the package
        folder = (spec.submodule_search_locations or [""])[0] if spec else ""
        for suffix in importlib.machinery.EXTENSION_SUFFIXES:
            path = os.path.join(folder, "_crc32c" + suffix)
            if os.path.isfile(path):
                module_spec = importlib.util.spec_from_file_location("crc32c._crc32c", path)
                module = importlib.util.module_from_spec(module_spec)  # type: ignore[arg-type]
                module_spec.loader.exec_module(module)  # type: ignore[union-attr]
                function: Callable[[bytes], int] = module.crc32c
                if function(b"123456789") == 0xE3069283:  # CRC-32C's check value
                    return function
                break
    except Exception:  # noqa: BLE001, S110 - any failure: the ordinary import below
        pass
    from crc32c import crc32c as function

    return function


#: CRC-32C (Castagnoli) of bytes, from the ``crc32c`` package's C core.
crc32c = _load_crc32c()

_U64 = struct.Struct("<Q")
_U32 = struct.Struct("<I")
_MASK_DELTA = 0xA282EAD8

# Records of one tag have the same length over and over (a scalar event is
# ~40-60 bytes), so the 12-byte header is worth caching for small lengths.
_HEADER_CACHE: dict[int, bytes] = {}
_HEADER_CACHE_MAX_LENGTH = 4096


def masked_crc32c(data: bytes) -> int:
    """CRC32C of ``data``, rotated and offset as TFRecord stores it."""
    crc = crc32c(data)
    return (((crc >> 15) | (crc << 17)) + _MASK_DELTA) & 0xFFFFFFFF


def header(length: int) -> bytes:
    """The 12 bytes before a record of ``length`` bytes: the length and its masked CRC."""
    header = _HEADER_CACHE.get(length)
    if header is None:
        packed = _U64.pack(length)
        header = packed + _U32.pack(masked_crc32c(packed))
        if length <= _HEADER_CACHE_MAX_LENGTH:
            _HEADER_CACHE[length] = header
    return header


def frame(data: bytes) -> bytes:
    """Wrap one serialized record in TFRecord framing."""
    crc = crc32c(data)
    footer = _U32.pack((((crc >> 15) | (crc << 17)) + _MASK_DELTA) & 0xFFFFFFFF)
    return header(len(data)) + data + footer


class RecordError(ValueError):
    """A record whose framing or checksum is wrong."""

    def __init__(self, message: str, offset: int) -> None:
        super().__init__(f"{message} at offset {offset}")
        self.reason = message
        self.offset = offset


class TruncatedRecord(RecordError):
    """The stream ends inside a record (e.g. a writer killed mid-write)."""


# A damaged length field (whose CRC happens to match) must not make the reader
# allocate its full claimed size up front: bodies larger than this are read in
# pieces, so a truncated file stops at its end.
_READ_CHUNK = 64 << 20


def _read_up_to(stream: BinaryIO, size: int) -> bytes:
    """Read ``size`` bytes, or fewer if the stream ends first."""
    if size <= _READ_CHUNK:
        return stream.read(size)
    parts = []
    while size > 0:
        part = stream.read(min(size, _READ_CHUNK))
        if not part:
            break
        parts.append(part)
        size -= len(part)
    return b"".join(parts)


def read_records(stream: BinaryIO) -> Iterator[bytes]:
    """Yield the data of each record, checking both CRCs.

    Raises:
        TruncatedRecord: the stream ends inside a record.
        RecordError: a length or data CRC does not match.
    """
    offset = 0
    while True:
        header = stream.read(12)
        if not header:
            return
        if len(header) < 12:
            raise TruncatedRecord("truncated record header", offset)
        (length,) = _U64.unpack_from(header)
        (length_crc,) = _U32.unpack_from(header, 8)
        if masked_crc32c(header[:8]) != length_crc:
            raise RecordError("bad length CRC", offset)
        body = _read_up_to(stream, length + 4)
        if len(body) < length + 4:
            raise TruncatedRecord("truncated record data", offset)
        data = body[:length]
        if masked_crc32c(data) != _U32.unpack_from(body, length)[0]:
            raise RecordError("bad data CRC", offset)
        yield data
        offset += 12 + length + 4
