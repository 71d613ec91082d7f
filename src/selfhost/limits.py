"""The range every number selfhost reads must lie in, and the strict types that hold it there.

Catalog figures, workloads, traffic profiles, measurements and command-line values all go
through the engine's floating-point arithmetic. Two rules keep that arithmetic finite and free
of NumPy warnings, whatever the input, and make a value outside them an error that names it:

- **Strict types.** A boolean is not a number (``usd_per_gpu_hour: true`` is an error, not
  1.0), a string is not a number (``"5"``), a float is not a count (``n_gpus: 2.5`` or ``8.0``),
  and a number is not a boolean (``confirmed: 1``). Infinity and NaN are never a figure.
- **A magnitude envelope.** Every non-zero figure lies between `MIN_MAGNITUDE` and
  `MAX_MAGNITUDE`. Real figures span about 1e-3 (an electricity price per kWh, a step
  overhead in seconds) to 1e7 (a context in tokens, a server price in USD); the envelope
  leaves three or more orders of magnitude on each side, and a product or quotient of a
  dozen such figures (a monthly cost is rate x tokens x price x hours / capacity) stays
  within 1e+-150, where double precision never overflows or underflows.

Specific limits (layers, dimensions, tokens of the catalog's architecture; request rates; the
Monte Carlo sample count) are stated beside the quantity they bound.

This module imports nothing heavy (the CLI reads its constants before pydantic is loaded);
the pydantic field types built on these rules are in `selfhost.schema_types`.
"""

from __future__ import annotations

import math
from typing import Any

#: Largest magnitude of any figure read (price, rate, memory, tokens, money). [unit of the figure]
MAX_MAGNITUDE = 1e12
#: Smallest magnitude of a non-zero figure read. [unit of the figure]
MIN_MAGNITUDE = 1e-9
#: Highest request rate: a thousand times the traffic of the largest public APIs. [requests/s]
MAX_RATE_RPS = 1e9
#: Most tokens of one request, context or window: a thousand times the longest published
#: context (10M tokens). [tokens]
MAX_TOKENS = 10**10
#: Most GPUs per replica, replicas or other counts given on the command line. [count]
MAX_COUNT = 1_000_000
#: Most Monte Carlo samples of --uncertainty. The draws are made in chunks, but each comparison
#: keeps its N results for the quantiles: 1e6 samples of `crossover --rps 5` took 5.4 s and
#: 177 MB peak (measured; 1e7 took 75 s and 2.5 GB), and the P10/P90 of 1e6 draws is already
#: exact to about 0.1 %. [count]
MAX_SAMPLES = 1_000_000
#: Most log-spaced rates of --rps-range (sweep also bounds its rows with --max-rows). [count]
MAX_RANGE_POINTS = 100_000
#: Largest --seed: NumPy's generators take seeds 0 <= seed < 2**128. [count]
MAX_SEED = 2**128 - 1


def in_envelope(value: float) -> float:
    """``value`` if it is 0 or within the magnitude envelope; else ValueError naming the range."""
    if value != 0 and not (MIN_MAGNITUDE <= abs(value) <= MAX_MAGNITUDE):
        raise ValueError(
            f"{_shown(value)} is out of range: a figure is 0 or between {MIN_MAGNITUDE:g} and {MAX_MAGNITUDE:g} "
            "in magnitude (check its unit)"
        )
    return value


def check_number(value: Any, option: str, unit: str, *, low: float = 0.0, high: float = MAX_MAGNITUDE) -> Any:
    """``value`` (unchanged: an int stays an int) if it is a finite number, not a boolean, with
    ``low <= value <= high`` and, when not 0, a magnitude of at least `MIN_MAGNITUDE`.

    For values that do not come through a schema (the library's own callers, CLI options Typer
    parsed): the message names ``option``, the value, the range and ``unit``.

    Raises:
        InputError: a boolean, not a number, not finite, or out of range.
    """
    from selfhost.errors import InputError

    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InputError(f"{option} {value!r} is not a number [{unit}]")
    if not ((isinstance(value, int) or math.isfinite(value)) and low <= value <= high):
        raise InputError(
            f"{option} {_shown(value)} is out of range: give a number from {_shown(low)} to {_shown(high)} [{unit}]"
        )
    if value != 0 and abs(value) < MIN_MAGNITUDE:
        raise InputError(f"{option} {value:g} is too small: give 0 or at least {MIN_MAGNITUDE:g} [{unit}]")
    return value


def _shown(value: float) -> str:
    """A whole number with thousands separators below 1e15, else in exponent form, never overflowing."""
    if isinstance(value, int) and abs(value) >= 10**15:
        digits = str(abs(value))  # an int Typer parsed has at most Python's 4,300 digits
        return f"{'-' if value < 0 else ''}{digits[0]}.{digits[1:3]}e+{len(digits) - 1}"
    if isinstance(value, int) or (math.isfinite(value) and value == int(value) and abs(value) < 1e15):
        return f"{int(value):,}"
    return f"{value:g}"
