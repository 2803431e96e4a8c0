"""The one timestamp rule and the one frame-rate rule.

**Timestamps you give are seconds**, whatever the number type: ``1``, ``1.5``,
``Fraction(1, 3)``, ``numpy.float32(0.04)`` and ``decimal.Decimal("0.04")`` are all seconds.
No unit is inferred from a type. GStreamer's own nanoseconds only appear where GStreamer's
names are used: :attr:`gstreamer.Frame.pts` (with :attr:`~gstreamer.Frame.time` in seconds
beside it) and the seed API (``GstVideoSink.push``, ``buf.pts``).

Every push path (``Writer``, ``AudioWriter``, ``MuxWriter``, ``AsyncWriter`` and every
server's ``push``) converts with :func:`to_ns`; the seed adapter converts with
:func:`seed_ns`.
"""

from __future__ import annotations

import math
import numbers
from fractions import Fraction
from typing import Optional, Union

from .errors import ArgumentError, ArgumentTypeError

__all__ = ["SECOND", "FrameRate", "Timestamp", "fps_fraction", "seed_ns", "to_ns"]

SECOND = 1_000_000_000

Timestamp = Union[int, float, Fraction, numbers.Real, None]
"""Seconds (any real number), or None for "automatic"."""

FrameRate = Union[int, float, Fraction, str, None]
"""Frames per second: a number, a ``Fraction`` or a string such as ``"30000/1001"``."""

# 1001000 keeps NTSC-style rates (30000/1001) exact and turns floats such as 29.97 into
# the fraction a container expects
_MAX_DENOMINATOR = 1001000


def to_ns(seconds: Timestamp, *, name: str = "pts") -> Optional[int]:
    """Seconds (int, float, Fraction, Decimal, NumPy scalar) → integer nanoseconds.

    ``None`` stays None (automatic). The conversion is exact for Fractions and rounds to
    the nearest nanosecond otherwise.

    Raises
    ------
    TypeError
        ``seconds`` is not a real number (a string or a bool, for example).
    ValueError
        ``seconds`` is negative, NaN or infinite.
    """
    if seconds is None:
        return None
    if isinstance(seconds, bool) or not isinstance(seconds, numbers.Real):
        # Decimal is not registered as numbers.Real but is exact: accept it explicitly
        from decimal import Decimal

        if not isinstance(seconds, Decimal):
            raise ArgumentTypeError(
                f"{name} must be a number of seconds (int, float or Fraction), "
                f"not {type(seconds).__name__}"
            )
    if isinstance(seconds, float) or not isinstance(seconds, (int, Fraction)):
        value = float(seconds)
        if not math.isfinite(value):
            raise ArgumentError(f"{name} must be finite, got {seconds!r}")
        frac = Fraction(str(seconds)) if not isinstance(seconds, float) else Fraction(value)
    else:
        frac = Fraction(seconds)
    if frac < 0:
        raise ArgumentError(f"{name} must be >= 0 seconds, got {seconds!r}")
    return round(frac * SECOND)


def seed_ns(value: Union[int, float, None]) -> Optional[int]:
    """The seed API's rule: nanoseconds, a float truncated (the tutorial's ``10**9 / FPS``)."""
    return None if value is None else int(value)


def fps_fraction(fps: FrameRate, *, name: str = "fps") -> Optional[Fraction]:
    """A frame rate as an exact Fraction; None (or 0) means unknown / variable.

    Raises
    ------
    ValueError
        A negative rate or a string that is not a number or ``"num/den"``.
    """
    if fps is None:
        return None
    try:
        if isinstance(fps, str):
            frac = Fraction(fps.strip())
        else:
            frac = Fraction(fps).limit_denominator(_MAX_DENOMINATOR)
    except (ValueError, ZeroDivisionError, TypeError) as exc:
        raise ArgumentError(f"{name} must be a positive number such as 30 or '30000/1001'") from exc
    if frac < 0:
        raise ArgumentError(f"{name} must be positive, got {fps!r}")
    return frac if frac else None
