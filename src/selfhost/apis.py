"""API list prices as arrays, and the price of one request, for any set of API offerings."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import ArrayLike, NDArray

from selfhost.engine import cost

if TYPE_CHECKING:
    from selfhost.catalog.schema import ApiOffering

FloatArray = NDArray[np.float64]


@dataclass(frozen=True)
class ApiPrices:
    """API list prices, arrays of shape (n_apis,). [USD/1M tokens]"""

    usd_per_mtok_input: FloatArray
    usd_per_mtok_output: FloatArray
    usd_per_mtok_cached_input: FloatArray


def serves_context(api: ApiOffering, context_tokens: int) -> bool:
    """Whether ``api`` accepts a sequence of ``context_tokens`` (unknown limit: assumed yes)."""
    return api.context_tokens is None or api.context_tokens >= context_tokens


def api_prices(apis: Sequence[ApiOffering]) -> ApiPrices:
    """List prices of each API; without a cached price, cached input bills at the input price."""
    return ApiPrices(
        usd_per_mtok_input=np.array([a.usd_per_mtok_input for a in apis], dtype=float),
        usd_per_mtok_output=np.array([a.usd_per_mtok_output for a in apis], dtype=float),
        usd_per_mtok_cached_input=np.array(
            [
                a.usd_per_mtok_cached_input
                if a.usd_per_mtok_cached_input is not None
                else a.usd_per_mtok_input
                for a in apis
            ],
            dtype=float,
        ),
    )


def api_usd_per_request(
    prices: ApiPrices,
    price_multiplier: ArrayLike,
    input_tokens: ArrayLike,
    output_tokens: ArrayLike,
    cached_input_fraction: float,
) -> FloatArray:
    """Price of one request with every list price scaled by ``price_multiplier``. [USD]

    All arguments broadcast against the price arrays' shape (n_apis,).
    """
    m = np.asarray(price_multiplier, dtype=float)
    return cost.api_usd_per_request(
        input_tokens=input_tokens,
        output_tokens=output_tokens,
        usd_per_mtok_input=prices.usd_per_mtok_input * m,
        usd_per_mtok_output=prices.usd_per_mtok_output * m,
        cached_input_fraction=cached_input_fraction,
        usd_per_mtok_cached_input=prices.usd_per_mtok_cached_input * m,
    )


def request_usd(
    apis: Sequence[ApiOffering], input_tokens: int, output_tokens: int, cached_input_fraction: float
) -> FloatArray:
    """Price of one request at each API's list prices, shape (n_apis,). [USD]"""
    return api_usd_per_request(api_prices(apis), 1.0, input_tokens, output_tokens, cached_input_fraction)
