"""MyersonNet's auction: monotone maps of the bids and the exactly DSIC mechanisms they define (Duetting, Feng,
Narasimhan, Parkes, Ravindranath, "Optimal Auctions through Deep Learning", ICML 2019 / JACM 2024, section on
MyersonNet; docs/methods.md#myersonnet). Trained by :mod:`pipeline_lib.single_item.learning.myersonnet`.

Each bidder i has a strictly increasing piecewise-linear "virtual value" map, a min over K groups of a max over J
affine functions with positive slopes:

    phibar_i(b) = min_k max_j (exp(w_ikj) b / s + beta_ikj),
    phibar_i^{-1}(y) = s * max_k min_j exp(-w_ikj) (y - beta_ikj),

(s a fixed input scale, the mean training value). A max of increasing affine maps is increasing and convex, a
min of those is increasing, and the stated formula is its exact inverse (min/max swap under an increasing map).
For i.i.d. bidders (``shared_map``, the pipeline's default there) every bidder uses one map: Myerson's auction has
one virtual value, and per-bidder maps learned from finite data differ and misallocate (measured, quick-tier hetero
on 200,000 fresh profiles: 98.73% of Myerson per bidder, 98.85% shared).

Limit of the hard auction (irregular priors): a strictly increasing map separates every two bids, so it cannot iron.
Where Myerson irons (hetero: an interval [0.856, 1.562]) the winner above the interval pays the interval's right end
when the runner-up lies inside it; here it pays the runner-up's bid. With one shared map the auction IS the
second-price auction with reserve phibar^{-1}(0) (the highest bid wins, the price is phibar^{-1}(phibar(runner-up))
= the runner-up's bid, or the reserve): for four hetero bidders at most 98.86% of the optimum (the best reserve,
0.562, measured on 200,000 profiles), which trained MyersonNets reach (98.85%).

Deployed (hard) mechanism: the second-price auction with reserve 0 on the transformed bids r_i = phibar_i(b_i).
The highest r_i wins if r_i > 0 (lowest index on ties) and pays its critical bid

    p_w = max(0, phibar_w^{-1}(max(0, max_{k != w} r_k))),

the least non-negative bid that still wins (phibar_w is strictly increasing and continuous). Threshold payments
of a monotone 0/1 allocation: exactly dominant-strategy IC and ex-post IR, whatever the parameters.

Softmax deployment (ours, beyond the spec; row ``myersonnet_softmax``): the same maps, the softmax allocation x_i =
exp(r_i / T) / (1 + sum_j exp(r_j / T)) at temperature T (``softmax_temperature``) deployed as it is, priced by
Myerson's payment identity p_i = b_i x_i - int_0^{b_i} x_i(z, b_-i) dz, computed exactly on the linear pieces of
phibar_i (:mod:`~pipeline_lib.single_item.mechanisms.envelope`). x_i is increasing in b_i, so the auction is exactly
DSIC and IR for any parameters; a map that is nearly flat on an interval splits the item among bidders in it, which is
ironing. It is trained (:func:`~pipeline_lib.single_item.learning.myersonnet.train_softmax`, from the trained hard maps)
on its own exact revenue, no relaxation. Measured on quick-tier training data, 100,000 fresh profiles, four seeds:
hetero 99.91-99.95% of Myerson where the hard auction stops at 98.86-98.87%; uniform and exponential (three seeds)
99.97-99.99%. At T = 0.02 (or step 3e-3) one seed in four stayed at the hard auction's revenue: the larger temperature
smooths the path to the flat piece.
"""

from __future__ import annotations

import copy
from typing import Any

import torch
from torch import nn

from pipeline_lib.single_item.mechanisms.envelope import envelope_mechanism, segment_integrals

Tensor = torch.Tensor
MODES = ("hard", "relaxed", "softmax")


class MyersonNet(nn.Module):
    """Per-bidder monotone maps phibar_i (parameters w, beta of shape (n, K, J)) and the mechanism they define;
    ``shared``: one map for every bidder (shape (1, K, J), broadcast), for bidders with the same prior, where the
    optimal auction treats them alike (Myerson: one virtual value) and each map sees n times the data."""

    def __init__(
        self,
        n_bidders: int,
        n_groups: int = 5,
        n_units: int = 10,
        input_scale: float = 1.0,
        init_scale: float = 0.2,
        generator: torch.Generator | None = None,
        init_reserve: float = 0.5,
        shared: bool = False,
    ) -> None:
        super().__init__()
        if n_bidders < 1 or n_groups < 1 or n_units < 1:
            raise ValueError("need at least one bidder, one group and one unit")
        self._n_bidders, self.shared = int(n_bidders), bool(shared)
        shape = (1 if shared else n_bidders, n_groups, n_units)
        self.w = nn.Parameter(init_scale * torch.randn(shape, generator=generator))
        self.beta = nn.Parameter(init_scale * torch.randn(shape, generator=generator))
        self.register_buffer("input_scale", torch.tensor(float(input_scale)))
        with torch.no_grad():  # shift each phibar_i so that phibar_i(init_reserve * s) = 0
            at = torch.full((1, n_bidders), float(init_reserve) * float(input_scale))
            self.beta -= self.transform(at)[0][: shape[0], None, None]

    @property
    def n_bidders(self) -> int:
        return self._n_bidders

    def config(self) -> dict[str, Any]:
        """Constructor arguments, saved next to the weights."""
        _, n_groups, n_units = self.w.shape
        return {"n_bidders": self.n_bidders, "n_groups": n_groups, "n_units": n_units,
                "input_scale": float(self.input_scale), "shared": self.shared}  # fmt: skip

    def transform(self, bids: Tensor) -> Tensor:
        """r_i = phibar_i(b_i) = min_k max_j (exp(w_ikj) b_i / s + beta_ikj), shape (B, n)."""
        x = (bids / self.input_scale)[..., None, None]
        return (self.w.exp() * x + self.beta).amax(dim=-1).amin(dim=-1)

    def inverse(self, y: Tensor) -> Tensor:
        """phibar_i^{-1}(y_i) = s max_k min_j exp(-w_ikj) (y_i - beta_ikj), shape (B, n)."""
        z = ((-self.w).exp() * (y[..., None, None] - self.beta)).amin(dim=-1).amax(dim=-1)
        return z * self.input_scale

    @staticmethod
    def thresholds(ranks: Tensor) -> Tensor:
        """t_i = max(0, max_{k != i} r_k), shape (B, n)."""
        if ranks.shape[1] == 1:
            return torch.zeros_like(ranks)
        top2 = ranks.topk(2, dim=1)
        first, second = top2.values[:, :1], top2.values[:, 1:]
        is_top = torch.arange(ranks.shape[1], device=ranks.device)[None, :] == top2.indices[:, :1]
        return torch.where(is_top, second, first).clamp_min(0.0)

    def critical_bids(self, ranks: Tensor) -> Tensor:
        """c_i = max(0, phibar_i^{-1}(t_i)): the least bid with which bidder i beats t_i."""
        return self.inverse(self.thresholds(ranks)).clamp_min(0.0)

    def pieces(self, upper: float) -> tuple[Tensor, Tensor, Tensor]:
        """phibar_i on [0, upper] as linear pieces: knots (n, S + 1) from 0 to ``upper`` and the slope and intercept of
        each piece (n, S), differentiable in the parameters (the knots are not: the integrals of
        :mod:`~pipeline_lib.single_item.mechanisms.envelope` are continuous in them).

        Every vertex of min_k max_j is where two lines cross that each are active on an interval, so each is on its
        group's upper envelope max_j there. First each group's envelope lines (the argmax at the midpoints between
        consecutive crossings of the group's own J lines); then the crossings of those lines only; between
        consecutive crossings one line of min_k max_j is active, found at the midpoint, and crossings where the
        active line does not change are dropped (zero-length pieces pad the rows). The same pieces as from all
        (K J)^2 crossings, with about a tenth of the points to test (training calls this every step)."""
        slopes, icpt = self.w.exp() / self.input_scale, self.beta  # (m, K, J), m = 1 (shared) or n
        m, _, n_units = slopes.shape
        with torch.no_grad():
            keep = _envelope_lines(slopes, icpt, upper).reshape(m, -1)
            a, c = slopes.reshape(m, -1), icpt.reshape(m, -1)
            upper_pairs = torch.ones(keep.shape[1], keep.shape[1], dtype=torch.bool, device=keep.device).triu(1)
            pair = keep[:, :, None] & keep[:, None, :] & upper_pairs
            z = _sorted_points(torch.where(pair, _crossings(a, c), torch.inf).reshape(m, -1), upper)
            repeat = torch.zeros_like(z, dtype=torch.bool)
            repeat[:, 1:] = z[:, 1:] <= z[:, :-1]
            z = torch.where(repeat, torch.full_like(z, float(upper)), z).sort(dim=1).values  # distinct, then upper
            k, j = self._active(slopes, icpt, 0.5 * (z[:, 1:] + z[:, :-1]))
            line = k * n_units + j
            starts = torch.ones_like(line, dtype=torch.bool)
            starts[:, 1:] = line[:, 1:] != line[:, :-1]
            starts &= z[:, 1:] > z[:, :-1]
            z_start = torch.where(starts, z[:, :-1], torch.full_like(z[:, 1:], float(upper))).sort(dim=1).values
            width = int(starts.sum(dim=1).max())
            knots = torch.cat([z_start[:, :width], torch.full_like(z[:, :1], float(upper))], dim=1)
            k, j = self._active(slopes, icpt, 0.5 * (knots[:, 1:] + knots[:, :-1]))
        rows = torch.arange(m, device=slopes.device)[:, None]
        out = knots, slopes[rows, k, j], icpt[rows, k, j]
        return tuple(t.expand(self.n_bidders, -1) for t in out) if m == 1 else out  # type: ignore[return-value]

    @staticmethod
    def _active(slopes: Tensor, icpt: Tensor, at: Tensor) -> tuple[Tensor, Tensor]:
        """(k, j) of the line that min_k max_j uses at the points ``at`` (m, P)."""
        vals = slopes[:, None] * at[:, :, None, None] + icpt[:, None]  # (m, P, K, J)
        j = vals.argmax(dim=-1)
        k = vals.gather(-1, j[..., None])[..., 0].argmin(dim=-1)
        return k, j.gather(-1, k[..., None])[..., 0]

    def forward(self, bids: Tensor, mode: str = "hard", temperature: float | None = None) -> tuple[Tensor, Tensor]:
        """(a, p) of one of three mechanisms on the transformed bids r = phibar(b) (``temperature``: that of the
        relaxed or softmax allocation, required there; the config holds both defaults):

        * ``hard``: the deployed auction of the spec (argmax, critical-bid payments);
        * ``relaxed``: the training relaxation (softmax allocation, price per unit phibar_i^{-1}(t_i), not
          clamped at 0; see the module docstring), not a mechanism one deploys;
        * ``softmax``: the softmax allocation at ``temperature`` with exact envelope payments (module
          :mod:`pipeline_lib.single_item.mechanisms.envelope`), exactly DSIC and IR and able to iron."""
        r = self.transform(bids)
        if mode == "hard":
            top = r.argmax(dim=1)
            sold = r.gather(1, top[:, None]) > 0
            alloc = nn.functional.one_hot(top, self.n_bidders).to(bids.dtype) * sold.to(bids.dtype)
            return alloc, alloc * self.critical_bids(r)
        if mode in MODES and temperature is None:
            raise ValueError(f"MyersonNet mode {mode!r} needs a temperature")
        if mode == "relaxed":
            logits = torch.cat([r, torch.zeros_like(r[:, :1])], dim=1) / temperature
            alloc = torch.softmax(logits, dim=1)[:, : self.n_bidders]
            return alloc, alloc * self.inverse(self.thresholds(r))
        if mode == "softmax":
            upper = float(bids.detach().max().clamp_min(0.0)) if bids.numel() else 0.0
            return envelope_mechanism(bids, r, *self.pieces(upper), temperature)
        raise ValueError(f"unknown MyersonNet mode {mode!r}; expected one of {MODES}")

    def reserves(self) -> Tensor:
        """Bidder i's reserve phibar_i^{-1}(0) (clamped at 0), shape (n,)."""
        with torch.no_grad():
            zero = torch.zeros((1, self.n_bidders), dtype=self.w.dtype, device=self.w.device)
            return self.inverse(zero)[0].clamp_min(0.0)


class MyersonNetMechanism:
    """Evaluator mechanism (``bids (B, n) -> (alloc, pay)``): a frozen copy of the net in ``dtype`` (float64 at
    test time) run in ``mode`` (:data:`MODES`). The hard auction is piecewise constant in each bid, so it declares
    ``differentiable = False``; the softmax one is smooth between the map's vertices."""

    def __init__(
        self, net: MyersonNet, mode: str = "hard", dtype: torch.dtype = torch.float64, temperature: float | None = None
    ) -> None:
        if mode not in MODES:
            raise ValueError(f"unknown MyersonNet mode {mode!r}; expected one of {MODES}")
        self.net = copy.deepcopy(net).to(dtype).eval()
        for p in self.net.parameters():
            p.requires_grad_(False)
        self.mode = mode
        self.temperature = temperature
        self.differentiable = mode != "hard"
        self.name = {"hard": "myersonnet", "relaxed": "myersonnet_relaxed", "softmax": "myersonnet_softmax"}[mode]
        self.params: dict[str, Any] = {"reserves": [float(x) for x in self.net.reserves()]}
        if mode == "softmax":
            self.params["temperature"] = self.temperature
        if mode == "relaxed":  # a training relaxation, not deployed: the evaluator deviates full profiles
            self.deviation_outcomes = None  # type: ignore[method-assign,assignment]

    def __call__(self, bids: Tensor) -> tuple[Tensor, Tensor]:
        return self.net(bids, mode=self.mode, temperature=self.temperature)

    def deviation_outcomes(self, values: Tensor, bidder: Tensor, misreports: Tensor) -> tuple[Tensor, Tensor]:
        """a_i(b', v_-i) and p_i(b', v_-i), (R, K), of row r's bidder i = ``bidder[r]`` reporting ``misreports``
        (R, K) against ``values`` (R, n): the evaluator's unilateral deviations (docs/methods.md#evaluator-shortcuts),
        the same numbers as ``self`` on the deviated profiles (up to rounding) with what does not depend on b'
        computed once per row: the others' scores r_-i, and then

        * ``hard``: i wins iff phibar_i(b') beats every other score (lowest index on ties) and 0, and pays
          c_i = max(0, phibar_i^{-1}(max(0, max_{k != i} r_k)));
        * ``softmax``: x_i = sigma(phibar_i(b') / T - L_i) with L_i = log(1 + sum_{k != i} exp(r_k / T)), paid
          b' x_i - int_0^{b'} x_i (envelope module, equations (1)-(2)), on bidder i's pieces only."""
        net, n = self.net, values.shape[1]
        maps = bidder if net.w.shape[0] == n else torch.zeros_like(bidder)
        w, beta = net.w[maps][:, None], net.beta[maps][:, None]  # (R, 1, K, J): bidder i's map per row
        own = (w.exp() * (misreports / net.input_scale)[..., None, None] + beta).amax(dim=-1).amin(dim=-1)  # (R, K)
        scores = net.transform(values)
        col = torch.arange(n, device=values.device)[None, :]
        if self.mode == "hard":
            before = scores.masked_fill(~(col < bidder[:, None]), -torch.inf).amax(dim=1, keepdim=True)
            after = scores.masked_fill(~(col > bidder[:, None]), -torch.inf).amax(dim=1, keepdim=True)
            alloc = ((own > before) & (own >= after) & (own > 0)).to(values.dtype)
            top = torch.maximum(before, after).clamp_min(0.0)  # t_i = max(0, max_{k != i} r_k)
            price = ((-w[:, 0]).exp() * (top[..., None] - beta[:, 0])).amin(dim=-1).amax(dim=-1) * net.input_scale
            return alloc, alloc * price.clamp_min(0.0)[:, None]
        t = float(self.temperature)  # type: ignore[arg-type]
        others_only = (scores / t).masked_fill(col == bidder[:, None], -torch.inf)
        logits = torch.cat([others_only, torch.zeros_like(scores[:, :1])], dim=1)
        others = torch.logsumexp(logits, dim=1, keepdim=True).expand_as(own)  # L_i, (R, K)
        alloc = torch.sigmoid(own / t - others)
        upper = float(torch.maximum(values.max(), misreports.max()).clamp_min(0.0)) if values.numel() else 0.0
        knots, slopes, icpt = (x[bidder][:, None] for x in net.pieces(upper))  # (R, 1, S (+ 1))
        return alloc, misreports * alloc - segment_integrals(misreports, others, knots, slopes, icpt, t)


def myersonnet_mechanism(net: MyersonNet, mode: str = "hard", temperature: float | None = None) -> MyersonNetMechanism:
    """A deployed (float64) MyersonNet auction for the evaluator: ``hard`` (the spec's) or ``softmax``."""
    return MyersonNetMechanism(net, mode=mode, temperature=temperature)


def mean_revenue(net: MyersonNet, values: Tensor, mode: str = "hard", temperature: float | None = None) -> float:
    """Mean revenue of the ``mode`` auction on truthful profiles (in chunks: the softmax payments hold a
    (rows, n, pieces) array)."""
    chunk = 4096
    with torch.no_grad():
        total = sum(
            float(net(values[i : i + chunk], mode=mode, temperature=temperature)[1].sum())
            for i in range(0, values.shape[0], chunk)
        )
    return total / max(values.shape[0], 1)


def _crossings(slopes: Tensor, icpt: Tensor) -> Tensor:
    """(..., L, L): where line l (b -> slopes_l b + icpt_l) crosses line l' (inf or nan for parallel ones)."""
    return (icpt[..., None, :] - icpt[..., :, None]) / (slopes[..., :, None] - slopes[..., None, :])


def _sorted_points(cross: Tensor, upper: float) -> Tensor:
    """0, the finite values of ``cross`` (..., C) inside (0, ``upper``) in increasing order, then ``upper``; rows
    with fewer such values are padded with ``upper`` (zero-length intervals), shape (..., W + 2)."""
    inside = torch.isfinite(cross) & (cross > 0) & (cross < upper)
    width = int(inside.sum(dim=-1).max()) if cross.numel() else 0
    z = torch.where(inside, cross, torch.full_like(cross, float(upper))).sort(dim=-1).values[..., :width]
    return torch.cat([torch.zeros_like(cross[..., :1]), z, torch.full_like(cross[..., :1], float(upper))], dim=-1)


def _envelope_lines(slopes: Tensor, icpt: Tensor, upper: float) -> Tensor:
    """(m, K, J) bool: the lines b -> slopes b + icpt that max_j of their group k uses on some interval of
    [0, ``upper``]. Between consecutive crossings of a group's own lines their order is fixed, so the argmax at each
    such interval's midpoint lists every line of the group's envelope (zero-length intervals may add a line that
    only touches it: harmless, it is a candidate more)."""
    z = _sorted_points(_crossings(slopes, icpt).flatten(-2), upper)  # (m, K, P)
    mid = 0.5 * (z[..., 1:] + z[..., :-1])
    j = (slopes[..., None, :] * mid[..., None] + icpt[..., None, :]).argmax(dim=-1)
    return torch.zeros_like(slopes, dtype=torch.bool).scatter_(-1, j, True)
