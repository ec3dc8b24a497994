"""Java number parsing and formatting, reproduced exactly in pure Python (§4.2, §4.3).

Upstream Ivory parsed raw text with ``Integer.parseInt``, ``Long.parseLong`` and
``Double.parseDouble`` and printed doubles with ``Double.toString``. Python's ``int()``
and ``float()`` accept more (``_`` separators, Unicode digits, ``inf``, ``nan``, Unicode
whitespace) and ``repr`` prints a different exponent form, so this module guards and
converts. Everything here is pure and has no Spark or I/O dependency.

This is the reference implementation the Spark code is tested against: exactness
matters more than speed.
"""

from __future__ import annotations

import math
import re
from fractions import Fraction

__all__ = [
    "INT_MAX",
    "INT_MIN",
    "LONG_MAX",
    "LONG_MIN",
    "java_trim",
    "parse_java_double",
    "parse_java_int",
    "parse_java_long",
    "render_double",
]

INT_MIN = -(2**31)
INT_MAX = 2**31 - 1
LONG_MIN = -(2**63)
LONG_MAX = 2**63 - 1

# ``[0-9]`` in a ``str`` pattern is a literal ASCII range (``\d`` would match any Unicode
# digit), which is exactly the "ASCII digits only" rule of §4.2.
_INTEGER_RE = re.compile(r"[+-]?[0-9]+")
# Java ``FloatingDecimal.readJavaFormatString``, decimal branch: optional sign, digits
# with at most one '.', at least one digit, optional exponent with at least one digit,
# optional single type suffix.
_DECIMAL_RE = re.compile(r"([+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?)[fFdD]?")
# Java ``FloatingDecimal.parseHexString`` regex (the binary exponent is mandatory);
# ``\p{XDigit}`` and ``\p{Digit}`` are ASCII classes in Java regexes.
_HEX_RE = re.compile(
    r"([+-]?0[xX](?:[0-9a-fA-F]+\.?|[0-9a-fA-F]*\.[0-9a-fA-F]+)[pP][+-]?[0-9]+)[fFdD]?"
)

# Smallest positive normal double; below it the JDK's shortest-decimal rule can pick a
# two-digit decimal where Python's repr picks one digit (see _java_digits).
_MIN_NORMAL = 2.2250738585072014e-308


def java_trim(text: str) -> str:
    """Strip leading and trailing characters ``<= U+0020``, like Java ``String.trim()``.

    Args:
        text: Any string.

    Returns:
        ``text`` without leading/trailing ASCII control characters and spaces. Unlike
        ``str.strip()`` it keeps Unicode whitespace such as U+00A0 or U+2003.
    """
    start, end = 0, len(text)
    while start < end and text[start] <= " ":
        start += 1
    while end > start and text[end - 1] <= " ":
        end -= 1
    return text[start:end]


def _parse_java_integer(text: str, low: int, high: int) -> int | None:
    if _INTEGER_RE.fullmatch(text) is None:
        return None
    value = int(text)
    if value < low or value > high:
        return None
    return value


def parse_java_int(text: str) -> int | None:
    """Parse like Java ``Integer.parseInt`` (§4.2).

    Optional ``+``/``-``, then one or more ASCII digits; no whitespace, no ``_``; the
    value must fit in 32 bits. (Java itself also accepts non-ASCII Unicode digits; the
    spec restricts to ASCII, and so does this function.)

    Args:
        text: Raw text.

    Returns:
        The integer, or None if Java would throw ``NumberFormatException``.
    """
    return _parse_java_integer(text, INT_MIN, INT_MAX)


def parse_java_long(text: str) -> int | None:
    """Parse like Java ``Long.parseLong`` (§4.2): as :func:`parse_java_int`, 64-bit range.

    Args:
        text: Raw text.

    Returns:
        The integer, or None if Java would throw ``NumberFormatException``.
    """
    return _parse_java_integer(text, LONG_MIN, LONG_MAX)


def parse_java_double(text: str) -> float | None:
    """Parse like Java ``Double.parseDouble``, keeping only finite results (§4.2).

    Accepted: leading/trailing characters ``<= U+0020`` (Java ``trim``), optional sign,
    ``1``, ``1.``, ``.5``, ``1.5e-3``, ``1E+3``, one trailing ``d``/``D``/``f``/``F``, and
    hex floats with a mandatory binary exponent (``0x1.8p1``). Rounding is
    round-half-even to the nearest double, as in Java. Java's ``NaN`` and ``Infinity``
    spellings, and finite literals that overflow to infinity (``1e400``), return None
    because §4.1 doubles are finite. Python-only spellings (``inf``, ``nan``,
    ``infinity``, ``1_000``, Unicode digits or spaces) are rejected as Java rejects them.

    Args:
        text: Raw text.

    Returns:
        The finite float, or None.
    """
    s = java_trim(text)
    m = _DECIMAL_RE.fullmatch(s)
    if m is not None:
        value = float(m.group(1))
    else:
        m = _HEX_RE.fullmatch(s)
        if m is None:
            return None
        try:
            value = float.fromhex(m.group(1))
        except OverflowError:
            return None
    if math.isinf(value):
        return None
    return value


def _repr_digits(x: float) -> tuple[str, int]:
    """Shortest round-trip digits of ``x > 0`` and the exponent of the first digit.

    ``x == int(digits) * 10 ** (exp - len(digits) + 1)``; ``digits`` has no leading or
    trailing zeros.
    """
    r = repr(x)
    mant, _, exp_text = r.partition("e")
    exp = int(exp_text) if exp_text else 0
    int_part, _, frac_part = mant.partition(".")
    digits = int_part + frac_part
    point = len(int_part) + exp  # decimal point sits after this many digits
    stripped = digits.lstrip("0")
    point -= len(digits) - len(stripped)
    digits = stripped.rstrip("0") or "0"
    return digits, point - 1


def _java_digits(x: float) -> tuple[str, int]:
    """The decimal ``Double.toString`` (JDK 19+, Schubfach) picks for ``x > 0``.

    The JDK rule: let R be the decimals that round to ``x`` and m the minimal length in
    R; if m >= 2 take the length-m decimal closest to ``x``, but if m == 1 take the
    closest among lengths 1 **and 2** (ties to an even last digit). For normal doubles R
    is so narrow that this equals Python's ``repr`` digits. For tiny subnormals it does
    not: ``5e-324`` (Double.MIN_VALUE) is ``4.9E-324``, ``1e-323`` is ``9.9E-324``,
    ``5e-323`` is ``4.9E-323``; those are computed here exactly with fractions.
    """
    digits, exp = _repr_digits(x)
    if len(digits) != 1 or x >= _MIN_NORMAL:
        return digits, exp
    exact = Fraction(x)
    best: tuple[Fraction, int, int] | None = None  # (distance, mantissa, scale)
    for scale in (exp - 2, exp - 1, exp):
        unit = Fraction(10) ** scale
        for mantissa in range(10, 100):
            candidate = mantissa * unit
            if float(candidate) != x:
                continue
            distance = abs(candidate - exact)
            if (
                best is None
                or distance < best[0]
                or (distance == best[0] and mantissa % 2 == 0 and best[1] % 2 == 1)
            ):
                best = (distance, mantissa, scale)
    if best is None:  # pragma: no cover - R always contains the repr decimal
        return digits, exp
    _, mantissa, scale = best
    text = str(mantissa)
    return text.rstrip("0"), scale + 1


def render_double(x: float) -> str:
    """Render a double as Java ``Double.toString`` does (JDK 19+ shortest digits, §4.3).

    * ``1e-3 <= |x| < 1e7``: plain decimal with at least one fractional digit
      (``2.0``, ``170.0``, ``0.042026960275581504``, ``9999999.999``);
    * otherwise ``d.dddE<exp>`` (``1.0E7``, ``1.0E-4``, ``-2.5E-5``,
      ``1.7976931348623157E308``);
    * ``0.0``, ``-0.0``, ``NaN``, ``Infinity``, ``-Infinity``.

    The digits are the shortest that round-trip (Python ``repr`` digits), except for the
    few tiny subnormals where the JDK prefers a closer two-digit decimal (see
    :func:`_java_digits`): ``4.9E-324`` for Double.MIN_VALUE.

    Args:
        x: A float (an ``int`` is converted with ``float``).

    Returns:
        The Java text; ``float(render_double(x)) == x`` for every finite ``x``.
    """
    x = float(x)
    if math.isnan(x):
        return "NaN"
    if math.isinf(x):
        return "Infinity" if x > 0 else "-Infinity"
    if x == 0.0:
        return "-0.0" if math.copysign(1.0, x) < 0 else "0.0"
    sign = "-" if x < 0 else ""
    ax = -x if x < 0 else x
    digits, exp = _java_digits(ax)
    if 1e-3 <= ax < 1e7:
        if exp >= 0:
            int_part = digits[: exp + 1].ljust(exp + 1, "0")
            frac_part = digits[exp + 1 :] or "0"
        else:
            int_part = "0"
            frac_part = "0" * (-exp - 1) + digits
        return f"{sign}{int_part}.{frac_part}"
    return f"{sign}{digits[0]}.{digits[1:] or '0'}E{exp}"
