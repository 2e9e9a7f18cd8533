"""Audio: a 16-bit PCM WAV in a ``Summary.Audio`` (shown by the audio plugin).

Layouts accepted (samples in [-1, 1]):

* mono: ``(L,)``, ``(L, 1)``, ``(1, L)`` (torch's documented shape), or any
  shape that squeezes to 1-D, as torch squeezes;
* stereo: ``(L, 2)``, frames by channels as tensorboardX and ``soundfile``
  take it. Channels-first ``(2, L)`` is refused rather than guessed: transpose it.

Samples are scaled by 32767 and truncated toward zero, as torch does.
"""

from __future__ import annotations

import io
import math
import wave
from typing import Any

import numpy as np

from tblog.proto import summary_pb2

PLUGIN_NAME = "audio"
CONTENT_TYPE = "audio/wav"

_MAX_RATE = 2**32 - 1  # the WAV header's field


def check_sample_rate(sample_rate: Any) -> float:
    """Validate a sample rate in Hz: a positive finite number (the WAV header rounds it).

    Raises:
        TypeError: not a number.
        ValueError: rounds to less than 1 Hz, or beyond the WAV header's range.
    """
    if isinstance(sample_rate, bool) or not isinstance(sample_rate, (int, float, np.number)):
        raise TypeError(f"sample_rate must be a number of Hz, got {type(sample_rate).__name__}")
    rate = float(sample_rate)
    if not (math.isfinite(rate) and 1 <= round(rate) <= _MAX_RATE):
        raise ValueError(f"sample_rate must be a positive number of Hz, got {sample_rate!r}")
    return rate


def _frames_by_channels(array: np.ndarray, name: str) -> np.ndarray:
    if array.ndim == 2 and array.shape[1] == 2 and array.shape[0] != 1:
        return array  # (L, 2) stereo
    squeezed = array.squeeze()
    if squeezed.ndim <= 1:
        return squeezed.reshape(-1, 1)
    raise ValueError(
        f"{name} must be mono (L,), (L, 1), (1, L) or stereo (L, 2), got shape "
        f"{tuple(array.shape)}"
        + ("; transpose channels-first audio" if array.shape[0] == 2 else "")
    )


def prepare_audio(array: np.ndarray, name: str = "snd_tensor") -> tuple[np.ndarray, int]:
    """Validate samples and convert them to 16-bit PCM.

    Args:
        array: samples in [-1, 1] in one of the module's layouts.
        name: the argument name used in messages.

    Returns:
        (pcm, clipped): a new C-contiguous little-endian int16 array of shape
        (frames, channels), and how many samples were outside [-1, 1] or NaN
        (clipped, NaN written as silence); the caller decides how to warn.

    Raises:
        TypeError: non-numeric samples.
        ValueError: empty, or not one of the accepted layouts.
    """
    if array.dtype.kind not in "biuf":
        raise TypeError(f"{name} must hold real numbers, got dtype {array.dtype}")
    if array.size == 0:
        raise ValueError(f"{name} is empty (shape {tuple(array.shape)})")
    samples = np.array(_frames_by_channels(array, name), dtype=np.float32, order="C")
    in_range = (samples >= -1) & (samples <= 1)  # False for NaN too
    clipped = int(samples.size - np.count_nonzero(in_range))
    if clipped:
        np.clip(samples, -1, 1, out=samples)
        np.nan_to_num(samples, copy=False, nan=0.0)
    samples *= np.iinfo(np.int16).max
    return samples.astype("<i2"), clipped


def encode_wav(pcm: np.ndarray, sample_rate: float) -> bytes:
    """A WAV file of (frames, channels) int16 samples; the rate is rounded to whole Hz."""
    output = io.BytesIO()
    with wave.open(output, "wb") as wav:
        wav.setnchannels(pcm.shape[1])
        wav.setsampwidth(2)
        wav.setframerate(round(sample_rate))
        wav.writeframes(np.ascontiguousarray(pcm, dtype="<i2").tobytes())
    return output.getvalue()


def summary(tag: str, pcm: np.ndarray, sample_rate: float = 44100) -> bytes:
    """Serialized ``Summary`` with one clip: ``Summary.Audio{sample_rate, num_channels,
    length_frames, encoded_audio_string=WAV, content_type="audio/wav"}``, as torch writes.

    Args:
        tag: the series name.
        pcm: (frames, channels) int16 from ``prepare_audio``.
        sample_rate: Hz.
    """
    frames, channels = pcm.shape
    clip = summary_pb2.Summary.Audio(
        sample_rate=sample_rate,
        num_channels=channels,
        length_frames=frames,
        encoded_audio_string=encode_wav(pcm, sample_rate),
        content_type=CONTENT_TYPE,
    )
    return summary_pb2.Summary(
        value=[summary_pb2.Summary.Value(tag=tag, audio=clip)]
    ).SerializeToString()
