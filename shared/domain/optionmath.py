"""Black-Scholes-Merton prices and Greeks, vectorized over numpy arrays (and fine on scalars).

Conventions (the same as IB's model ticks and py_vollib's analytical Greeks):
- ``t`` is time to expiry in years, ``r`` the continuously compounded rate, ``q`` the dividend
  yield, ``sigma`` the annualized volatility;
- delta and gamma per 1.00 of the underlying; vega and rho per 0.01 (one vol point, one rate
  point); theta per calendar day (/365);
- ``is_call`` is a bool array (or scalar): True for calls.
At expiry (t <= 0) prices are intrinsic and Greeks those of the payoff (delta 0/±1, the rest 0).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy.special import ndtr

_INV_SQRT_2PI = 1.0 / np.sqrt(2.0 * np.pi)

FloatArray = NDArray[np.float64]


class Greeks(NamedTuple):
    price: FloatArray
    delta: FloatArray
    gamma: FloatArray
    vega: FloatArray
    theta: FloatArray
    rho: FloatArray


def _pdf(x: FloatArray) -> FloatArray:
    return _INV_SQRT_2PI * np.exp(-0.5 * x * x)


def _broadcast(*args: ArrayLike) -> list[FloatArray]:
    return [np.asarray(a, dtype=np.float64) for a in np.broadcast_arrays(*args)]


def _d1_d2(
    s: FloatArray, k: FloatArray, t: FloatArray, r: FloatArray, q: FloatArray, sigma: FloatArray
) -> tuple[FloatArray, FloatArray, FloatArray]:
    with np.errstate(divide="ignore", invalid="ignore"):
        vol_sqrt_t = sigma * np.sqrt(t)
        d1 = (np.log(s / k) + (r - q + 0.5 * sigma * sigma) * t) / vol_sqrt_t
    return d1, d1 - vol_sqrt_t, vol_sqrt_t


def bs_price(
    s: ArrayLike,
    k: ArrayLike,
    t: ArrayLike,
    r: ArrayLike,
    q: ArrayLike,
    sigma: ArrayLike,
    is_call: ArrayLike,
) -> FloatArray:
    """Option price per share."""
    s_, k_, t_, r_, q_, v_, c_ = _broadcast(s, k, t, r, q, sigma, is_call)
    call = c_.astype(bool)
    d1, d2, _ = _d1_d2(s_, k_, t_, r_, q_, v_)
    df_r = np.exp(-r_ * t_)
    df_q = np.exp(-q_ * t_)
    sign = np.where(call, 1.0, -1.0)
    price = sign * (s_ * df_q * ndtr(sign * d1) - k_ * df_r * ndtr(sign * d2))
    intrinsic = np.maximum(sign * (s_ - k_), 0.0)
    return np.where((t_ > 0) & (v_ > 0), price, intrinsic)


def bs_greeks(
    s: ArrayLike,
    k: ArrayLike,
    t: ArrayLike,
    r: ArrayLike,
    q: ArrayLike,
    sigma: ArrayLike,
    is_call: ArrayLike,
) -> Greeks:
    """Price and all first-order Greeks (plus gamma) in one pass over the inputs."""
    s_, k_, t_, r_, q_, v_, c_ = _broadcast(s, k, t, r, q, sigma, is_call)
    call = c_.astype(bool)
    live = (t_ > 0) & (v_ > 0)
    d1, d2, vol_sqrt_t = _d1_d2(s_, k_, t_, r_, q_, v_)
    df_r = np.exp(-r_ * t_)
    df_q = np.exp(-q_ * t_)
    sign = np.where(call, 1.0, -1.0)
    n_d1 = ndtr(sign * d1)
    n_d2 = ndtr(sign * d2)
    pdf_d1 = _pdf(d1)

    price = sign * (s_ * df_q * n_d1 - k_ * df_r * n_d2)
    delta = sign * df_q * n_d1
    with np.errstate(divide="ignore", invalid="ignore"):
        gamma = df_q * pdf_d1 / (s_ * vol_sqrt_t)
        theta_year = (
            -s_ * df_q * pdf_d1 * v_ / (2.0 * np.sqrt(t_))
            + sign * q_ * s_ * df_q * n_d1
            - sign * r_ * k_ * df_r * n_d2
        )
    vega = s_ * df_q * pdf_d1 * np.sqrt(t_) / 100.0
    rho = sign * k_ * t_ * df_r * n_d2 / 100.0

    intrinsic = np.maximum(sign * (s_ - k_), 0.0)
    itm = sign * (s_ - k_) > 0
    zero = np.zeros_like(s_)
    return Greeks(
        price=np.where(live, price, intrinsic),
        delta=np.where(live, delta, np.where(itm, sign, 0.0)),
        gamma=np.where(live, gamma, zero),
        vega=np.where(live, vega, zero),
        theta=np.where(live, theta_year / 365.0, zero),
        rho=np.where(live, rho, zero),
    )
