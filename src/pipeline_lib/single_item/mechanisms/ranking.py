"""Monotone piecewise-linear ranking functions and their generalised inverses.

A *virtual-value auction* (:mod:`pipeline_lib.single_item.mechanisms.vickrey`) ranks bids by a non-decreasing
function phi; its threshold payments need the generalised inverses

    inf{z >= 0 : phi(z) >= t}   and   inf{z >= 0 : phi(z) > t},

which differ exactly on a flat stretch of phi (an ironed interval of Myerson's virtual value, Myerson 1981 section 6;
docs/methods.md#myerson-and-ironing).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch

Tensor = torch.Tensor


@dataclass(frozen=True)
class PiecewiseLinear:
    """A non-decreasing piecewise-linear function through knots (x_k, y_k), extended linearly beyond both ends."""

    x: np.ndarray
    y: np.ndarray
    _cache: dict = field(default_factory=dict, compare=False, repr=False)

    def __post_init__(self) -> None:
        x, y = np.asarray(self.x, float), np.asarray(self.y, float)
        if x.ndim != 1 or x.size < 2 or np.any(np.diff(x) <= 0):
            raise ValueError("knots x must be strictly increasing with at least two points")
        if np.any(np.diff(y) < 0):
            raise ValueError("ranking function must be non-decreasing")
        if y[1] <= y[0] or y[-1] <= y[-2]:
            raise ValueError("end segments must be strictly increasing (linear extension must be invertible)")
        object.__setattr__(self, "x", x)
        object.__setattr__(self, "y", y)
        dx = np.diff(x)
        object.__setattr__(self, "_step", float(dx[0]) if np.allclose(dx, dx[0], rtol=1e-9, atol=0) else None)

    @classmethod
    def affine(cls, slope: float, intercept: float) -> PiecewiseLinear:
        """phi(v) = slope * v + intercept."""
        return cls(np.array([0.0, 1.0]), np.array([intercept, slope + intercept]))

    def _knots(self, like: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        key = (like.device, like.dtype)
        if key not in self._cache:
            slopes = np.diff(self.y) / np.diff(self.x)
            self._cache[key] = tuple(
                torch.as_tensor(a, dtype=like.dtype, device=like.device) for a in (self.x, self.y, slopes)
            )
        return self._cache[key]

    @staticmethod
    def _interp(t: Tensor, xs: Tensor, ys: Tensor, k: Tensor) -> Tensor:
        """Linear interpolation on segment [k-1, k] of (xs -> ys), k clamped to the valid range."""
        k = k.clamp(1, xs.numel() - 1)
        x0, x1, y0, y1 = xs[k - 1], xs[k], ys[k - 1], ys[k]
        den = x1 - x0
        return y0 + (t - x0) * torch.where(den > 0, (y1 - y0) / torch.where(den > 0, den, 1), 0)

    @property
    def is_affine(self) -> bool:
        return self.x.size == 2

    def __call__(self, v: Tensor) -> Tensor:
        if self.is_affine:
            slope = (self.y[1] - self.y[0]) / (self.x[1] - self.x[0])
            return (v - self.x[0]) * slope + self.y[0]
        x, y, slopes = self._knots(v)
        if self._step is not None:  # uniform knots: the segment index is arithmetic, no search needed
            k = ((v - self.x[0]) / self._step).floor().clamp(0, x.numel() - 2).long()
        else:
            k = (torch.searchsorted(x, v.contiguous(), right=True) - 1).clamp(0, x.numel() - 2)
        return y[k] + (v - x[k]) * slopes[k]

    def _affine_inverse(self, t: Tensor) -> Tensor:
        slope = (self.y[1] - self.y[0]) / (self.x[1] - self.x[0])
        return ((t - self.y[0]) / slope + self.x[0]).clamp_min(0.0)

    def inverse_lo(self, t: Tensor) -> Tensor:
        """inf{z >= 0 : phi(z) >= t}: the lowest bid whose rank reaches t."""
        if self.is_affine:
            return self._affine_inverse(t)
        x, y, _ = self._knots(t)
        k = torch.searchsorted(y, t.contiguous(), right=False)
        return self._interp(t, y, x, k).clamp_min(0.0)

    def inverse_hi(self, t: Tensor) -> Tensor:
        """inf{z >= 0 : phi(z) > t}: the lowest bid whose rank beats t (differs from inverse_lo on a plateau)."""
        if self.is_affine:
            return self._affine_inverse(t)
        x, y, _ = self._knots(t)
        k = torch.searchsorted(y, t.contiguous(), right=True)
        return self._interp(t, y, x, k).clamp_min(0.0)
