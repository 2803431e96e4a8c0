"""``MuxWriter``: video and audio into one file, with synchronised timestamps."""

from __future__ import annotations

import logging
import os
from typing import Any, Optional, Union

import numpy as np

from ._appsrc import AppSrcFeeder, as_array, unpack
from ._lifecycle import State
from ._time import Timestamp, to_ns
from .caps import AudioLayout, audio_caps
from .encoders import VIDEO_EXTENSIONS, EncoderChoice, describe, file_format, parser_for
from .errors import ArgumentError, ArgumentTypeError, LifecycleError
from .writer import (
    CrashSafe,
    _BaseWriter,
    _check_directory,
    _encoder_for,
    _video_convert,
    disk_sync_for,
    file_muxer,
    file_sink,
    is_description,
)

__all__ = ["MuxWriter"]

log = logging.getLogger("gstreamer.writer")


class MuxWriter(_BaseWriter):
    """Write video and audio into one file with synchronised timestamps.

    Both inputs start at time 0; video is stamped from ``fps``, audio from its sample count,
    so writing ``rate / fps`` samples per frame keeps them aligned. The pipeline starts at
    the first video frame (audio written before it is held). Interleave the two kinds of
    writes (or write from two threads): the muxer needs both streams to advance, and a
    write blocked for ``timeout`` seconds raises :class:`~gstreamer.TimeoutError`.

    Parameters
    ----------
    target : str or os.PathLike
        ``.mp4``, ``.mov``, ``.ts`` (H.264 + AAC), ``.mkv``, ``.webm`` (+ Vorbis), or a
        description with appsrcs named ``video`` and ``audio``.
    video : dict
        :class:`Writer` options: ``fps``, ``format``, ``caps``, ``encoder``.
    audio : dict
        :class:`AudioWriter` options: ``rate``, ``channels``, ``format`` (or ``dtype``,
        default float32), ``encoder``.
    backpressure, max_buffers, timeout, copy
        As for :class:`Writer`, per input.
    handle_sigterm : bool, optional
        As for :class:`Writer`.
    crash_safe : bool or float
        As for :class:`Writer`: MP4/MOV files play after a crash (True by default).
    durable : bool
        As for :class:`Writer`: crash-safe files are synced to the disk at every fragment
        (True by default).

    Examples
    --------
    >>> with MuxWriter("out.mp4", video=dict(fps=30), audio=dict(rate=48000, channels=2)) as w:
    ...     for frame, samples in zip(frames, blocks):  # doctest: +SKIP
    ...         w.write_video(frame)
    ...         w.write_audio(samples)
    """

    _MAX_HELD = 256

    def __init__(
        self,
        target: Union[str, os.PathLike[str]],
        *,
        video: Optional[dict[str, Any]] = None,
        audio: Optional[dict[str, Any]] = None,
        backpressure: str = "block",
        max_buffers: int = 4,
        timeout: float = 10.0,
        copy: bool = False,
        handle_sigterm: Optional[bool] = None,
        crash_safe: CrashSafe = True,
        durable: bool = True,
    ) -> None:
        video = dict(video or {})
        self._crash_safe = crash_safe
        self._durable = durable
        audio = dict(audio or {})
        self._video_encoder: Optional[EncoderChoice] = None
        self._audio_encoder: Optional[EncoderChoice] = None
        description = self._describe(
            target, video.pop("encoder", "auto"), audio.pop("encoder", "auto")
        )
        super().__init__(description, timeout, handle_sigterm)
        self._target = target
        rate = int(audio.pop("rate", 48000))
        channels = int(audio.pop("channels", 2))
        dtype = np.dtype(audio.pop("dtype", np.float32))
        a_format = audio.pop("format", None)
        a_caps = audio.pop("caps", None)
        if a_caps is None:
            if a_format is not None:
                a_caps = (
                    f"audio/x-raw,format={a_format},rate={rate},channels={channels},"
                    "layout=interleaved"
                )
            else:
                a_caps = audio_caps(dtype, channels, rate)
        for name, rest in (("video", video), ("audio", audio)):
            extra = set(rest) - {"fps", "format", "caps"}
            if extra:
                raise ArgumentTypeError(f"unknown {name} option(s): {', '.join(sorted(extra))}")
        self._video = AppSrcFeeder(
            "video",
            name="video",
            fps=video.get("fps", 30),
            format=video.get("format"),
            caps=video.get("caps"),
            backpressure=backpressure,
            max_buffers=max_buffers,
            copy=copy,
        )
        self._audio = AppSrcFeeder(
            "audio",
            name="audio",
            rate=rate,
            channels=channels,
            caps=a_caps,
            backpressure=backpressure,
            max_buffers=max_buffers * 2,
            copy=copy,
        )
        # as the Writer: RGB frames become I420 in the writing thread (libyuv) when the
        # video encoder takes I420
        choice = self._video_encoder
        self._video.to_i420 = bool(
            choice is not None and (choice.input_caps or "").startswith("video/x-raw,format=I420")
        )
        self._inputs = {"video": self._video, "audio": self._audio}
        self._held: list[tuple[Any, Optional[int]]] = []
        self._start_when_ready()

    def _describe(self, target: Union[str, os.PathLike[str]], v_enc: str, a_enc: str) -> str:
        if is_description(target):
            return os.fspath(target)
        path = os.fspath(target)
        fmt = file_format(path)
        if fmt is None or fmt.kind != "video" or fmt.audio_codec is None:
            muxable = [k for k, f in VIDEO_EXTENSIONS.items() if f.audio_codec]
            raise ArgumentError(
                f"{path!r} cannot hold video and audio; use one of {', '.join(muxable)}"
            )
        _check_directory(path)
        self._path = path
        self._video_encoder = _encoder_for(fmt.codec, v_enc)
        self._audio_encoder = _encoder_for(fmt.audio_codec, a_enc)
        self._disk_sync = disk_sync_for(fmt, self._crash_safe, self._durable)
        # queues in front of the muxer hold up to 10 s so the inputs may run apart a little
        mux_queue = "queue max-size-buffers=0 max-size-bytes=0 max-size-time=10000000000"
        v_parse = parser_for(self._video_encoder.description)
        a_parse = parser_for(self._audio_encoder.description)
        video_chain = " ! ".join(
            p
            for p in (
                "appsrc name=video",
                _video_convert(),
                describe(self._video_encoder),
                v_parse,
                mux_queue,
            )
            if p
        )
        audio_chain = " ! ".join(
            p
            for p in (
                "appsrc name=audio",
                "audioconvert ! audioresample",
                describe(self._audio_encoder),
                a_parse,
                mux_queue,
            )
            if p
        )
        muxer = file_muxer(fmt, self._crash_safe)
        sink = file_sink(path, fmt, self._crash_safe)
        return f"{muxer} name=mux ! {sink} {video_chain} ! mux. {audio_chain} ! mux."

    def _hold(
        self, feeder: AppSrcFeeder, array: Any, pts: Optional[int], duration: Optional[int]
    ) -> bool:
        if len(self._held) >= self._MAX_HELD:
            raise LifecycleError(
                "MuxWriter starts at the first video frame; write video before this much "
                "audio, or give video=dict(caps=...) to start at once"
            )
        self._held.append((array, pts))
        return True

    def _start_when_ready(self) -> None:
        super()._start_when_ready()
        if self._state is State.OPEN and self._held:
            held, self._held = self._held, []
            for array, pts in held:
                self._audio.push(array, pts, None, timeout=self.timeout)

    def _closed_before_start(self) -> None:
        if self._held:
            log.warning("MuxWriter closed before the first video frame: held audio was not written")

    def write_video(self, frame: Any, pts: Timestamp = None, duration: Timestamp = None) -> bool:
        """Write one video frame (see :meth:`Writer.write`)."""
        return self._write(self._video, *unpack(frame, pts, duration))

    def write_audio(self, samples: Any, pts: Timestamp = None) -> bool:
        """Write a block of audio samples (see :meth:`AudioWriter.write`)."""
        with self._lock:
            if self._state is State.NEW and self._video.layout is None:
                self._require_open()
                array = as_array(samples, "audio")
                assert isinstance(self._audio.layout, AudioLayout)
                checked = self._audio.layout.check_array(array)
                return self._hold(self._audio, checked, to_ns(pts), None)
        return self._write(self._audio, samples, to_ns(pts), None)

    @property
    def video_caps(self) -> Optional[str]:
        """Caps of the video frames (None before the first frame without ``caps=``)."""
        return self._video.caps

    @property
    def audio_caps(self) -> Optional[str]:
        """Caps of the audio samples."""
        return self._audio.caps

    @property
    def video_encoder(self) -> Optional[str]:
        """Factory name of the video encoder (``"x264enc"``); None for pipeline targets."""
        return self._video_encoder.name if self._video_encoder else None

    @property
    def audio_encoder(self) -> Optional[str]:
        """Factory name of the audio encoder (``"avenc_aac"``); None for pipeline targets."""
        return self._audio_encoder.name if self._audio_encoder else None

    @property
    def frames_written(self) -> int:
        """Video frames handed to the pipeline."""
        return self._video.frames_written

    @property
    def audio_blocks_written(self) -> int:
        """Audio blocks handed to the pipeline."""
        return self._audio.frames_written

    @property
    def dropped(self) -> int:
        """Video frames and audio blocks dropped by ``backpressure="drop-*"``."""
        return self._video.dropped + self._audio.dropped
