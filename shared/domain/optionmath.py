"""Black-Scholes-Merton prices, Greeks and implied volatility, vectorized over numpy arrays
(and fine on scalars).

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


def _otm_forward_price(
    f: FloatArray, k: FloatArray, w: FloatArray, otm_call: FloatArray
) -> FloatArray:
    """Undiscounted Black price of the out-of-the-money side at total volatility ``w``."""
    sign = np.where(otm_call, 1.0, -1.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        d1 = np.log(f / k) / w + 0.5 * w
    return sign * (f * ndtr(sign * d1) - k * ndtr(sign * (d1 - w)))


def implied_vol(
    price: ArrayLike,
    s: ArrayLike,
    k: ArrayLike,
    t: ArrayLike,
    r: ArrayLike,
    q: ArrayLike,
    is_call: ArrayLike,
    *,
    tol: float = 1e-8,
    max_iter: int = 100,
) -> FloatArray:
    """Annualized Black-Scholes-Merton volatility that reproduces ``price`` (per share).

    NaN where no volatility fits: ``t <= 0``, non-positive inputs, a price at or below the
    discounted intrinsic value (no time value left to explain) or at or above the no-arbitrage
    bound (``s e^{-qt}`` for calls, ``k e^{-rt}`` for puts).

    The solve runs on the out-of-the-money side (put-call parity turns an in-the-money call into
    the put of the same strike), where the time value is the whole price, in total volatility
    ``w = sigma sqrt(t)``, on the log of the price: the log is close to linear in ``w`` from the
    wings to the money, so Newton converges in a handful of steps for deep OTM/ITM and short
    expiries alike. Every Newton step is kept inside a bracket that shrinks on each evaluation,
    and a step that leaves it is replaced by a (geometric) bisection, so the iteration cannot
    diverge; ``max_iter`` bounds the work (a leg not converged by then is NaN). ``tol`` is the
    relative price error accepted before a last Newton step.
    """
    p_, s_, k_, t_, r_, q_, c_ = _broadcast(price, s, k, t, r, q, is_call)
    call = c_.astype(bool)
    out = np.full(p_.shape, np.nan)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        forward = s_ * np.exp((r_ - q_) * t_)
        undiscounted = p_ * np.exp(r_ * t_)
        otm_call = k_ >= forward
        # a call below the forward (or a put above it) is in the money: parity leaves its time value
        target = undiscounted - np.where(
            call != otm_call, np.where(call, 1.0, -1.0) * (forward - k_), 0.0
        )
        bound = np.where(otm_call, forward, k_)
        valid = (
            np.isfinite(target)
            & np.isfinite(bound)
            & (t_ > 0)
            & (s_ > 0)
            & (k_ > 0)
            & (target > 0)
            & (target < bound)
        )
    idx = np.flatnonzero(valid)
    if idx.size == 0:
        return out

    f, kk, y, oc = forward.ravel()[idx], k_.ravel()[idx], target.ravel()[idx], otm_call.ravel()[idx]
    log_y = np.log(y)
    x = np.abs(np.log(f / kk))
    # start at the larger of the at-the-money approximation and the inflection point of the
    # price in w (Manaster-Koehler), which keeps the first Newton steps on the right side
    w = np.maximum(np.sqrt(2.0 * np.pi) * y / np.sqrt(f * kk), np.sqrt(2.0 * x))
    w = np.maximum(w, 1e-4)
    lo = np.zeros_like(w)
    hi = np.full_like(w, np.inf)
    result = np.full_like(w, np.nan)
    active = np.arange(idx.size)
    for _ in range(max_iter):
        fa, ka, wa, ya = f[active], kk[active], w[active], log_y[active]
        model = _otm_forward_price(fa, ka, wa, oc[active])
        with np.errstate(divide="ignore", invalid="ignore"):
            g = np.log(np.maximum(model, 0.0)) - ya
            d1 = np.log(fa / ka) / wa + 0.5 * wa
            slope = fa * _pdf(d1) / model  # d ln(price) / dw
            newton = wa - g / slope
        done = np.abs(g) <= tol
        high = g > 0
        hi[active] = np.where(high, wa, hi[active])
        lo[active] = np.where(high, lo[active], wa)
        lo_a, hi_a = lo[active], hi[active]
        bisect = np.where(
            np.isinf(hi_a), 2.0 * wa, np.where(lo_a > 0, np.sqrt(lo_a * hi_a), 0.5 * hi_a)
        )
        inside = np.isfinite(newton) & (newton > lo_a) & (newton < hi_a)
        nxt = np.where(inside, newton, bisect)
        # a converged point still takes its last Newton step: nearly free, and it squares the error
        result[active[done]] = np.where(np.isfinite(newton), newton, wa)[done]
        # the bracket has closed to rounding: the best w is known even if |g| stays above tol
        narrow = ~done & np.isfinite(hi_a) & (hi_a - lo_a <= 4.0 * np.finfo(float).eps * hi_a)
        result[active[narrow]] = wa[narrow]
        w[active] = nxt
        active = active[~(done | narrow)]
        if active.size == 0:
            break
    out.ravel()[idx] = result / np.sqrt(t_.ravel()[idx])
    return out
