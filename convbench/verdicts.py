"""Statistics for judging a claim from repeated measurements.

Three generic tools, independent of what was measured:

- :func:`median_ratio_ci`: the ratio of two medians (e.g. ``time(fft) / time(lfa)``)
  with a percentile bootstrap confidence interval. Samples taken interleaved (repeat
  ``i`` of both sides in the same time slot) are resampled in pairs, so a slow spell of
  the machine moves both sides together.
- :func:`direction` and :func:`verdict`: the verdict rules. A ratio is called
  ``"faster"`` (or ``"larger"``) only where its whole interval lies above 1, and
  ``"slower"`` only where it lies below; otherwise the data do not decide. A claim made
  of several parts is ``"reproduced"`` when every part holds, ``"partly reproduced"``
  when some do, and ``"not reproduced"`` when none does.
- :func:`power_law_fit`: ``y = a * prod(x_j ** p_j)`` fitted by least squares in
  log-log space, each exponent with its standard error and a t-based confidence
  interval; :func:`trend` is the one-variable case read as "rises, falls or neither".
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = [
    "VERDICTS",
    "PowerLawFit",
    "RatioCI",
    "direction",
    "median_ratio_ci",
    "power_law_fit",
    "trend",
    "verdict",
]

#: The three verdicts a claim can get, strongest first.
VERDICTS = ("reproduced", "partly reproduced", "not reproduced")


@dataclass(frozen=True)
class RatioCI:
    """A ratio of medians with its bootstrap confidence interval."""

    estimate: float
    low: float
    high: float
    level: float
    samples: int

    def excludes(self, value: float = 1.0) -> bool:
        """Whether ``value`` lies outside the interval."""
        return not (self.low <= value <= self.high)

    def __str__(self) -> str:
        pct = round(100 * self.level)
        return f"{self.estimate:.3g} [{self.low:.3g}, {self.high:.3g}] ({pct}% CI)"


def _samples(values: Any, name: str) -> np.ndarray:
    arr = np.asarray(values, dtype=np.float64).ravel()
    if arr.size == 0:
        raise ValueError(f"{name} must not be empty")
    if not np.all(np.isfinite(arr)) or np.any(arr <= 0):
        raise ValueError(f"{name} must be finite and positive")
    return arr


def median_ratio_ci(
    numerator: Sequence[float] | np.ndarray,
    denominator: Sequence[float] | np.ndarray,
    *,
    level: float = 0.95,
    resamples: int = 4000,
    paired: bool = True,
    seed: int = 0,
) -> RatioCI:
    """``median(numerator) / median(denominator)`` with a percentile bootstrap interval.

    Parameters
    ----------
    numerator, denominator : array_like
        Positive samples (e.g. seconds). With ``paired=True`` they must have equal length
        and sample ``i`` of each was taken in the same repeat.
    level : float
        Confidence level, in (0, 1).
    resamples : int
        Number of bootstrap resamples (at least 100).
    paired : bool
        Resample repeat indices (both sides together) rather than each side on its own.
    seed : int
        Seed of the resampling, so that the interval is reproducible.

    Returns
    -------
    RatioCI
        The point estimate and the ``(1 - level) / 2`` and ``(1 + level) / 2``
        percentiles of the resampled ratios.
    """
    num = _samples(numerator, "numerator")
    den = _samples(denominator, "denominator")
    if not 0 < level < 1:
        raise ValueError(f"level must be in (0, 1); got {level!r}")
    if int(resamples) < 100:
        raise ValueError(f"resamples must be at least 100; got {resamples!r}")
    if paired and num.size != den.size:
        raise ValueError(
            f"paired samples need equal lengths; got {num.size} and {den.size} (paired=False?)"
        )
    rng = np.random.default_rng(seed)
    if paired:
        idx = rng.integers(0, num.size, size=(int(resamples), num.size))
        ratios = np.median(num[idx], axis=1) / np.median(den[idx], axis=1)
    else:
        i = rng.integers(0, num.size, size=(int(resamples), num.size))
        j = rng.integers(0, den.size, size=(int(resamples), den.size))
        ratios = np.median(num[i], axis=1) / np.median(den[j], axis=1)
    alpha = (1 - level) / 2
    low, high = np.quantile(ratios, [alpha, 1 - alpha])
    return RatioCI(
        estimate=float(np.median(num) / np.median(den)),
        low=float(low),
        high=float(high),
        level=float(level),
        samples=int(min(num.size, den.size)),
    )


def direction(ci: RatioCI, *, above: str = "faster", below: str = "slower") -> str:
    """Read a ratio's interval: ``above`` if it lies wholly above 1, ``below`` if wholly
    below, ``"no difference shown"`` if it contains 1.

    For ``ci`` of ``time(other) / time(subject)``, ``"faster"`` says the subject is
    faster; nothing is called faster while the interval straddles 1.
    """
    if ci.low > 1.0:
        return above
    if ci.high < 1.0:
        return below
    return "no difference shown"


def verdict(parts: Mapping[str, bool] | Sequence[bool]) -> str:
    """Combine the parts of a claim: all hold -> ``"reproduced"``, some ->
    ``"partly reproduced"``, none -> ``"not reproduced"``."""
    values = list(parts.values()) if isinstance(parts, Mapping) else list(parts)
    if not values:
        raise ValueError("a claim needs at least one part to judge")
    if not all(isinstance(v, (bool, np.bool_)) for v in values):
        raise TypeError("parts must be booleans")
    if all(values):
        return VERDICTS[0]
    if any(values):
        return VERDICTS[1]
    return VERDICTS[2]


@dataclass(frozen=True)
class PowerLawFit:
    """``y = prefactor * prod(x_j ** exponents[j])``, fitted in log-log space."""

    exponents: dict[str, float]
    stderr: dict[str, float]
    ci: dict[str, tuple[float, float]]
    prefactor: float
    r2: float
    dof: int
    level: float

    def __str__(self) -> str:
        parts = [
            f"{k}^{v:.3f} +- {self.stderr[k]:.3f}" for k, v in self.exponents.items()
        ]
        return f"{self.prefactor:.3g} * " + " * ".join(parts) + f" (R^2 {self.r2:.4f})"


def power_law_fit(
    y: Sequence[float] | np.ndarray,
    level: float = 0.95,
    **x: Sequence[float] | np.ndarray,
) -> PowerLawFit:
    """Least-squares fit of ``log y = log a + sum_j p_j log x_j``.

    Parameters
    ----------
    y : array_like
        Positive responses (e.g. median seconds per cell).
    level : float
        Confidence level of the exponents' intervals (Student t, ``dof`` degrees).
    **x : array_like
        One positive regressor per keyword, each as long as ``y``; the keyword names
        the exponent.

    Returns
    -------
    PowerLawFit
        Exponents, their standard errors and intervals, the prefactor, R^2 (in log
        space) and the residual degrees of freedom.
    """
    from scipy import stats

    yy = _samples(y, "y")
    if not x:
        raise ValueError("power_law_fit needs at least one regressor")
    if not 0 < level < 1:
        raise ValueError(f"level must be in (0, 1); got {level!r}")
    cols = [np.ones_like(yy)]
    for name, values in x.items():
        arr = _samples(values, name)
        if arr.size != yy.size:
            raise ValueError(f"{name} has {arr.size} values; y has {yy.size}")
        cols.append(np.log(arr))
    design = np.column_stack(cols)
    dof = yy.size - design.shape[1]
    if dof < 1:
        raise ValueError(f"need more points than parameters; got {yy.size} points")
    if np.linalg.matrix_rank(design) < design.shape[1]:
        raise ValueError("the regressors do not vary independently; exponents undefined")
    logy = np.log(yy)
    coef, *_ = np.linalg.lstsq(design, logy, rcond=None)
    resid = logy - design @ coef
    sigma2 = float(resid @ resid) / dof
    cov = sigma2 * np.linalg.inv(design.T @ design)
    se = np.sqrt(np.diag(cov))
    tq = float(stats.t.ppf((1 + level) / 2, dof))
    names = list(x)
    total = float(np.sum((logy - logy.mean()) ** 2))
    return PowerLawFit(
        exponents={k: float(coef[i + 1]) for i, k in enumerate(names)},
        stderr={k: float(se[i + 1]) for i, k in enumerate(names)},
        ci={k: (float(coef[i + 1] - tq * se[i + 1]), float(coef[i + 1] + tq * se[i + 1]))
            for i, k in enumerate(names)},
        prefactor=float(np.exp(coef[0])),
        r2=float(1 - float(resid @ resid) / total) if total > 0 else 1.0,
        dof=int(dof),
        level=float(level),
    )


def trend(
    x: Sequence[float] | np.ndarray, y: Sequence[float] | np.ndarray, level: float = 0.95
) -> tuple[str, PowerLawFit]:
    """Whether ``y`` rises or falls with ``x``: the log-log slope's interval decides.

    Returns ``("rises" | "falls" | "no trend shown", fit)``.
    """
    fit = power_law_fit(y, level=level, x=x)
    low, high = fit.ci["x"]
    if low > 0:
        return "rises", fit
    if high < 0:
        return "falls", fit
    return "no trend shown", fit
