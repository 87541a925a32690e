"""The quantile sketch of a daily rollup: its hourly means, each as a logarithmic bucket key.

The mapping is DDSketch's (Masson, Rim, Lee, VLDB 2019): a positive value v goes to key
k = ⌈ln v / ln γ⌉ with γ = (1 + α) / (1 − α), and key k stands for 2γᵏ / (γ + 1), which
is within a relative error α of every value of the bucket (γᵏ⁻¹, γᵏ]. Negative values
mirror that below a zero bucket; |v| < ``MIN_VALUE`` is the zero bucket. The keys are
ordered like the values, so the rank-r key of a merged sketch stands for the rank-r value:
**a p95 read from sketches is within ±0.5 % (α) of the exact nearest-rank p95 of the
hourly means, and within 1e-6 absolute near zero.**

The store is the list of keys, each as four hex digits (``0300``…``fd01``): a day holds
at most 25 hourly means, so counting per bucket would save nothing, and a list of fixed-
width keys merges by concatenation — ``group_concat`` / ``string_agg`` in SQL — so a
quarter's p95 comes back as one string per (device, metric). The library ``ddsketch``
(Datadog) has the same mapping but merges object by object in Python, which for a quarter
of a large site (about a million daily sketches) costs more than the whole report may.
The merged codes are ranked with numpy.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

import numpy
from numpy.typing import NDArray

ALPHA = 0.005  # relative accuracy of a p95 read from sketches
GAMMA = (1 + ALPHA) / (1 - ALPHA)
LN_GAMMA = math.log(GAMMA)
MIN_VALUE = 1e-6  # |v| below this is the zero bucket
K_LIMIT = 16000  # |k| bound: γ^16000 ≈ e^160 covers every float a metric holds
ZERO_CODE = 32768
_POSITIVE_BASE = ZERO_CODE + 1 + K_LIMIT  # code of k = 0 for positive values
_NEGATIVE_BASE = ZERO_CODE - 1 - K_LIMIT  # code of k = 0 for negative values (mirrored)
CODE_HEX_DIGITS = 4


def _key(magnitude: float) -> int:
    return max(-K_LIMIT, min(K_LIMIT, math.ceil(math.log(magnitude) / LN_GAMMA)))


def code_of(value: float) -> int:
    """The ordered bucket code (0..65535) of ``value``; the same as ``code_sql`` computes."""
    if value >= MIN_VALUE:
        return _POSITIVE_BASE + _key(value)
    if value <= -MIN_VALUE:
        return _NEGATIVE_BASE - _key(-value)
    return ZERO_CODE


def value_of(code: int) -> float:
    """The value a bucket code stands for (relative error ≤ ``ALPHA`` to its members)."""
    if code == ZERO_CODE:
        return 0.0
    if code > ZERO_CODE:
        return 2 * GAMMA ** (code - _POSITIVE_BASE) / (GAMMA + 1)
    return -2 * GAMMA ** (_NEGATIVE_BASE - code) / (GAMMA + 1)


def encode(values: Iterable[float]) -> str:
    """A sketch of these values, as the daily rows store it."""
    return "".join(f"{code_of(v):04x}" for v in values)


def decode(sketch: str) -> NDArray[numpy.uint16]:
    """The bucket codes of a (merged) sketch, decoded in C: a quarter holds millions."""
    return numpy.frombuffer(bytes.fromhex(sketch), dtype=">u2").astype(numpy.uint16)


def nearest_rank_p95(parts: Sequence[NDArray[numpy.uint16]]) -> float | None:
    """Rank ⌈0.95 n⌉ of the codes held in ``parts`` (``decode``'s arrays), as a value;
    None for no codes.

    A partial sort (numpy's introselect) instead of sorting: at 1,000 rooms a quarter's
    p95 ranks about 13,000 series of ~2,000 codes each, and sorting them as Python ints
    cost more than reading them."""
    joined = numpy.concatenate(parts) if parts else numpy.empty(0, dtype=numpy.uint16)
    if not joined.size:
        return None
    rank = (joined.size * 95 + 99) // 100
    return value_of(int(numpy.partition(joined, rank - 1)[rank - 1]))


def code_sql(mean: str, dialect: str) -> str:
    """SQL text of the 4-hex-digit code of the expression ``mean`` (``code_of`` in SQL)."""
    if dialect == "sqlite":
        clamp = "min({hi}, max({lo}, CAST(ceil(ln({m}) / {g}) AS INTEGER)))"
    else:
        clamp = "least({hi}, greatest({lo}, CAST(ceil(ln({m}) / {g}) AS INTEGER)))"

    def key(magnitude: str) -> str:
        return clamp.format(hi=K_LIMIT, lo=-K_LIMIT, m=magnitude, g=repr(LN_GAMMA))

    code = (
        f"CASE WHEN {mean} >= {MIN_VALUE!r} THEN {_POSITIVE_BASE} + {key(mean)} "
        f"WHEN {mean} <= {-MIN_VALUE!r} THEN {_NEGATIVE_BASE} - {key(f'-({mean})')} "
        f"ELSE {ZERO_CODE} END"
    )
    if dialect == "sqlite":
        return f"printf('%04x', {code})"
    return f"lpad(to_hex({code}), 4, '0')"


def concat_sql(expression: str, dialect: str) -> str:
    """SQL aggregate concatenating sketches (order does not matter to a quantile)."""
    if dialect == "sqlite":
        return f"group_concat({expression}, '')"
    return f"string_agg({expression}, '')"
