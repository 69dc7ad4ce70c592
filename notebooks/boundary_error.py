# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Zero padding vs periodic boundary: how far apart are the spectra?
#
# LFA, FFT and FFTW compute the singular values of a convolution with a **periodic**
# boundary. Layers in practice use **zero padding** (`padding='same'`). This notebook
# first regenerates the paper's boundary figure (sorted singular values, both boundaries,
# n = 4, 8, 32, 16 input and output channels, 3x3 kernel, PyTorch default
# initialisation), then measures what the paper does not show: the error between the
# two spectra as n grows, for several kernel sizes and channel counts.
#
# Zero-padded spectra are dense SVDs of the unrolled operator. Small ones are computed
# here; the n = 32 panel (a 16384 x 16384 SVD) and the error study come from files
# written by `make spectra` (`scripts/boundary_spectra.py`), which store the parameters,
# seeds, commit and machine that made them.

# %% Setup
import json
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
from IPython.display import Markdown, display
from scipy.stats import wasserstein_distance

import convbench as cb
from convbench.boundary import BEST, geometric_mean
from convbench.errors import spectrum_errors
from convbench.plotting import BOUNDARY_STYLES, MODEL_COLORS, save_figure, use_style
from convbench.results import find_results_dir, load_spectra

use_style()
SPECTRA = find_results_dir() / "spectra"
CHANNELS, KERNEL, SEED = 16, 3, 0

# %% [markdown]
# ## The paper's figure
#
# One layer, `pytorch_default(16, 16, 3, seed=0)`: PyTorch's `Conv2d` default
# initialisation, uniform in ±1/sqrt(16·3·3). The same weights on inputs of size 4, 8
# and 32. The n = 32 spectra are read from the stored file; the cell below checks that
# they belong to the same weights.

# %% Stored n = 32 spectra
paper = load_spectra(SPECTRA / "boundary_paper_n32_c16_k3_seed0.npz")
stored = paper.cells.iloc[0]
assert (stored["n"], stored["cin"], stored["cout"], stored["kh"], stored["seed"]) == (
    32, CHANNELS, CHANNELS, KERNEL, SEED
)
weight = cb.pytorch_default(CHANNELS, CHANNELS, KERNEL, seed=SEED)
# the stored periodic spectrum equals a live LFA run on these weights
np.testing.assert_allclose(stored["periodic"], cb.singular_values(weight, 32), rtol=1e-12)
print(
    f"n = 32 zero-padded spectrum: dense SVD, {stored['seconds_zero']:.0f} s on "
    f"{paper.meta['machine']['node']} ({paper.meta['machine']['cpu_count']} cores), "
    f"commit {paper.meta['commit'][:10]}, {paper.meta['created']}"
)

# %% Spectra for n = 4, 8 (live) and 32 (stored)
spectra = {}
for n in (4, 8):
    spectra[n] = {
        "zero": cb.singular_values(weight, n, method="explicit", boundary="zero"),
        "periodic": cb.singular_values(weight, n, method="lfa"),
    }
spectra[32] = {"zero": stored["zero"], "periodic": stored["periodic"]}

# %% Figure: sorted singular values, both boundaries
fig, axes = plt.subplots(1, 3, figsize=(13, 3.6), sharey=True)
for ax, (n, pair) in zip(axes, spectra.items(), strict=True):
    for boundary in ("zero", "periodic"):
        values = np.sort(pair[boundary])
        ax.plot(np.arange(values.size), values, linewidth=1.6, **BOUNDARY_STYLES[boundary])
    ax.set_title(f"n = {n}: {values.size:,} singular values")
    ax.set_xlabel("index of sorted singular value")
    ax.xaxis.set_major_formatter(plt.FuncFormatter(lambda x, _: f"{x:,.0f}"))
axes[0].set_ylabel("singular value")
axes[1].legend(title="boundary condition", loc="upper left")
fig.suptitle(
    "Sorted singular values of Conv2d(16, 16, 3), PyTorch default initialisation (seed 0)"
)
fig.tight_layout()
save_figure(fig, "boundary_paper")
plt.show()

# %% [markdown]
# As in the paper (`shared/reference/paper-boundary-figure.png`): the periodic spectrum
# lies above the zero-padded one at n = 4, the gap shrinks at n = 8 and the two curves
# nearly coincide at n = 32, with the largest values around 1.2. The numbers behind the
# picture:

# %% Errors per panel
pd.DataFrame(
    {n: spectrum_errors(pair["periodic"], pair["zero"]) for n, pair in spectra.items()}
).rename_axis("measure (periodic as approximation of zero padding)").round(4)

# %% [markdown]
# ## Error against n: what the paper does not show
#
# Each measure compares the periodic spectrum (what LFA returns) with the exact
# zero-padded one, both sorted descending, relative to the exact largest singular value
# $\sigma_{\max}$ (`convbench.errors.spectrum_errors`):
#
# - **mean $|\Delta\sigma| / \sigma_{\max}$** (`mean_abs`): the Wasserstein-1 distance
#   between the two spectra as distributions (checked against
#   `scipy.stats.wasserstein_distance` below);
# - **max $|\Delta\sigma| / \sigma_{\max}$** (`max_abs`): the Wasserstein-∞ distance;
# - **$\sigma_{\max}$ error** (`rel_sigma_max`): relative error of the spectral norm, the number a
#   Lipschitz bound or spectral-norm regulariser depends on.
#
# The stored study covers 3x3, 5x5 and 7x7 kernels, 1, 4 and 16 channels (cin = cout)
# and three seeds per cell, up to unrolled operators with 4096 columns; the paper's
# n = 32 layer is added as one more point.

# %% Load the stored error study
grid = load_spectra(SPECTRA / "boundary_grid_maxdim4096_seeds0-2.npz")
print(grid.meta["description"])
print(
    f"made on {grid.meta['machine']['node']} at commit {grid.meta['commit'][:10]}, "
    f"{grid.meta['created']}; {len(grid.cells)} cells"
)
cells = pd.concat([grid.cells, paper.cells], ignore_index=True)

# %% One row of error measures per cell
errors = pd.DataFrame(
    [
        {
            "n": row.n,
            "kernel": f"{row.kh}x{row.kw}",
            "channels": row.cin,
            "seed": row.seed,
            **spectrum_errors(row.periodic, row.zero),
        }
        for row in cells.itertuples()
    ]
)
# mean_abs is the Wasserstein-1 distance over sigma_max
row = cells.iloc[-1]
assert np.isclose(
    errors.iloc[-1]["mean_abs"],
    wasserstein_distance(row.periodic, row.zero) / row.zero.max(),
)
errors.groupby(["kernel", "channels"])["n"].agg(["min", "max", "count"])

# %% Error measures in long form
measures = {
    "mean_abs": r"mean $|\Delta\sigma| / \sigma_{\max}$ (W$_1$)",
    "max_abs": r"max $|\Delta\sigma| / \sigma_{\max}$ (W$_\infty$)",
    "rel_sigma_max": r"$|\sigma_{\max}$ error$| / \sigma_{\max}$",
}
long = errors.melt(
    id_vars=["n", "kernel", "channels", "seed"],
    value_vars=list(measures),
    var_name="measure",
    value_name="error",
)
long["error"] = long["error"].abs()
long["measure"] = long["measure"].map(measures)

# %% Figure: error measures against n
kernel_colors = dict(zip(["3x3", "5x5", "7x7"], sns.color_palette("viridis", 3), strict=True))
g = sns.relplot(
    data=long,
    x="n",
    y="error",
    hue="kernel",
    palette=kernel_colors,
    style="kernel",
    markers=True,
    dashes=False,
    row="measure",
    col="channels",
    kind="line",
    estimator="median",
    errorbar=("pi", 100),
    height=2.6,
    aspect=1.35,
    facet_kws={"sharey": "row", "margin_titles": True},
)
g.set(xscale="log", yscale="log")
for (measure, _channels), ax in g.axes_dict.items():
    n_range = np.geomspace(4, 64, 20)
    ref = long.loc[(long["measure"] == measure) & (long["n"] == 8), "error"].median()
    ax.plot(n_range, ref * 8 / n_range, color="0.6", linestyle=":", linewidth=1)
    ax.set_xticks([4, 8, 16, 32, 64], labels=["4", "8", "16", "32", "64"])
    ax.minorticks_off()
g.set_axis_labels("input size n (n x n)", "error (log scale)")
g.set_titles(row_template="{row_name}", col_template="{col_name} channels in and out")
g.figure.suptitle(
    "Periodic spectrum as an approximation of the zero-padded one: error against n\n"
    "(median over 3 seeds, band: min to max; dotted: ∝ 1/n)",
    y=1.03,
)
save_figure(g.figure, "boundary_error_vs_n")
plt.show()

# %% [markdown]
# ## Reading the error study
#
# The fitted slopes below (least squares on log error against log n, median over seeds)
# say how fast each error decays; a slope of -1 means the error falls like 1/n, which is
# what the share of boundary pixels, about 2(k-1)/n, would suggest.

# %% Decay slopes
def slope(frame: pd.DataFrame) -> float:
    med = frame.groupby("n")["error"].median()
    med = med[med > 0]
    return float(np.polyfit(np.log(med.index.to_numpy(float)), np.log(med.to_numpy()), 1)[0])


(
    long.groupby(["measure", "kernel", "channels"])
    .apply(slope, include_groups=False)
    .unstack("channels")
    .round(2)
)

# %% [markdown]
# The sign of the $\sigma_{\max}$ error (positive: the periodic $\sigma_{\max}$ overestimates the
# zero-padded one), as a share of the cells:

# %% Sign of the sigma_max error
errors.assign(overestimates=errors["rel_sigma_max"] > 0).groupby(["kernel", "channels"])[
    "overestimates"
].mean().unstack().round(2)

# %% [markdown]
# ## Better than circular: approximate zero-padding spectra
#
# `convbench.approximate(w, n, boundary="zero", model=...)` returns a spectrum of the
# exact length from O(n²) symbol evaluations. **circular** is the periodic spectrum
# above; **mixture** mixes the spectra of the masked kernels that the boundary rows
# actually apply, weighted by their share of the output pixels (it has the exact
# Frobenius norm); **mixture_top** (`model="best"`) also replaces the largest value by a
# particle-in-a-box estimate of the zero-padded $\sigma_{\max}$. Each model is compared
# with the same stored exact spectra as above (three seeds per cell).

# %% Model errors on the stored cells
models = ["circular", "mixture", "mixture_top"]
model_rows = []
for row in grid.cells.itertuples():
    w = cb.pytorch_default(row.cout, row.cin, (row.kh, row.kw), seed=row.seed)
    for model in models:
        err = spectrum_errors(cb.approximate(w, row.n, model=model), row.zero)
        model_rows.append(
            {"n": row.n, "kernel": f"{row.kh}x{row.kw}", "channels": row.cin,
             "seed": row.seed, "model": model, **err}
        )
model_errors = pd.DataFrame(model_rows)
# what is drawn, to 6 significant digits: the last digits of the estimates move with the
# BLAS's summation order from run to run, and the figures are to be the same byte for byte
# when the results are
model_errors[list(err)] = model_errors[list(err)].map(lambda v: float(f"{v:.6g}"))
model_errors["abs_sigma_max"] = model_errors["rel_sigma_max"].abs()
model_errors.groupby("model")[["mean_abs", "abs_sigma_max"]].median()

# %% Figure: model errors against n
long_models = model_errors.melt(
    id_vars=["n", "kernel", "channels", "seed", "model"],
    value_vars=["mean_abs", "abs_sigma_max"],
    var_name="measure",
    value_name="error",
)
long_models["measure"] = long_models["measure"].map(
    {"mean_abs": measures["mean_abs"], "abs_sigma_max": measures["rel_sigma_max"]}
)
g = sns.relplot(
    data=long_models[long_models["kernel"].isin(["3x3", "5x5"])],
    x="n",
    y="error",
    hue="model",
    hue_order=models,
    palette=MODEL_COLORS,
    style="kernel",
    markers=True,
    dashes=False,
    row="measure",
    col="channels",
    kind="line",
    estimator="median",
    errorbar=None,
    height=2.6,
    aspect=1.35,
    facet_kws={"sharey": "row", "margin_titles": True},
)
g.set(xscale="log", yscale="log")
for ax in g.axes.flat:
    ax.set_xticks([4, 8, 16, 32, 64], labels=["4", "8", "16", "32", "64"])
    ax.minorticks_off()
# the row titles on the right name each row's measure; one shared y label on the left
g.set_axis_labels("input size n (n x n)", "")
g.figure.supylabel("error against the exact spectrum", x=0.0)
g.set_titles(row_template="{row_name}", col_template="{col_name} channel(s) in and out")
g.figure.suptitle(
    "Approximate zero-padding spectra: error of each model against n (median over 3 seeds)",
    y=1.02,
)
save_figure(g.figure, "boundary_models_vs_n")
plt.show()

# %% [markdown]
# The targets: over the cases c ∈ {1, 4, 16}, k ∈ {3, 5}, n ∈ {8, 16, 32} with
# c·n² ≤ 8192 (all seeds), the recommended model's W₁ error must be at least 3x lower
# than circular's as a geometric mean and worse in no case, and its $\sigma_{\max}$
# error no larger (geometric mean of the absolute values).

# %% Target cases: geometric means
target = model_errors[
    model_errors["kernel"].isin(["3x3", "5x5"])
    & model_errors["n"].isin([8, 16, 32])
    & (model_errors["channels"] * model_errors["n"] ** 2 <= 8192)
]
wide = target.pivot_table(
    index=["kernel", "channels", "n", "seed"], columns="model", values=["mean_abs", "abs_sigma_max"]
)
summary = pd.DataFrame(
    {
        "geometric mean W1": {m: geometric_mean(wide["mean_abs"][m]) for m in models},
        "geometric mean |sigma_max error|": {
            m: geometric_mean(wide["abs_sigma_max"][m]) for m in models
        },
    }
)
summary["W1 circular / model"] = summary.loc["circular", "geometric mean W1"] / summary[
    "geometric mean W1"
]
print(
    f"{len(wide)} cases; best = {BEST!r}; cases where best's W1 exceeds circular's: "
    f"{int((wide['mean_abs'][BEST] > wide['mean_abs']['circular']).sum())}"
)
summary.round(5)

# %% [markdown]
# ## A certified bound on the spectral norm
#
# `convbench.spectral_norm_bound(w)` bounds $\sigma_{\max}$ from above for both
# boundaries and every n (the maximum of the symbol's norm over the torus, with a
# certified second-order margin). Below, for the paper's layer: the exact zero-padded
# $\sigma_{\max}$ (dense at small n, matrix-free Lanczos beyond), the periodic one and
# the bound.

# %% Figure: sigma_max against n, and the bound
bound = cb.spectral_norm_bound(weight)
sizes = [4, 8, 16, 32, 64]
tops = pd.DataFrame(
    {
        "n": sizes,
        "zero": [
            cb.singular_values(weight, n, method="explicit", boundary="zero", top_k=1)[0]
            for n in sizes
        ],
        "periodic": [cb.singular_values(weight, n, method="fast", top_k=1)[0] for n in sizes],
    }
)
assert (tops[["zero", "periodic"]] <= bound.upper).all().all()
fig, ax = plt.subplots(figsize=(6, 3.6))
for boundary in ("zero", "periodic"):
    style = BOUNDARY_STYLES[boundary]
    ax.plot(tops["n"], tops[boundary], marker="o", **style)
ax.axhline(bound.upper, color=MODEL_COLORS["bound"], linewidth=1.2,
           label=f"certified bound {bound.upper:.6f}")
ax.set_xscale("log", base=2)
ax.set_xticks(sizes, labels=[str(n) for n in sizes])
ax.minorticks_off()
ax.set_xlabel("input size n (n x n)")
ax.set_ylabel(r"$\sigma_{\max}$")
ax.set_title("Spectral norm of Conv2d(16, 16, 3), seed 0: exact values and the bound")
ax.legend()
fig.tight_layout()
save_figure(fig, "boundary_sigma_max_bound")
plt.show()
tops.assign(gap_zero=(bound.upper - tops["zero"]) / tops["zero"]).round(6)

# %% [markdown]
# ## How the exact zero-padded $\sigma_{\max}$ converges
#
# `top_k=1` runs single-vector Golub-Kahan (Lanczos) from a smooth start and stops when
# the top Ritz pair's residual is below `rtol / 4`: some singular value then lies
# within the residual of the estimate. The value itself converges much sooner (its
# error falls like the residual squared over a gap), but the top values of a
# zero-padded layer come in tight clusters, and a single start vector cannot tell a
# cluster it has not resolved from an isolated value, so the gap is not known. The
# figure is the newest `measurements/targets/history-*.json` (written by
# `scripts/lanczos_history.py`): the n = 256 target layer run on to a much smaller
# residual, whose final estimate is the reference for every earlier one. The plateau
# is such a cluster: two top values closer than the plateau's height look like one
# until Lanczos resolves them, the residual first falling as if the value were
# isolated, then rising again while the second value emerges. The table gives the
# gaps between the top values at small sizes, certified by block Lanczos.

# %% Figure: value error and residual against the Lanczos step
HISTORY = Path("..") / "measurements" / "targets"
runs = {p: json.loads(p.read_text()) for p in HISTORY.glob("history-*.json")}
if not runs:
    raise FileNotFoundError(f"no history-*.json in {HISTORY}: run "
                            "`python scripts/lanczos_history.py`")
source = max(runs, key=lambda p: runs[p]["finished"])
run = runs[source]
checks = pd.DataFrame(run["history"])
err = checks["error"].abs()
fig, ax = plt.subplots(figsize=(6.4, 3.8))
ax.semilogy(checks["step"][err > 0], err[err > 0], marker=".", color=MODEL_COLORS["exact"],
            label="value: |estimate - reference| / reference")
ax.semilogy(checks["step"], checks["residual"], color=MODEL_COLORS["bound"],
            label="Ritz pair's residual / estimate")
ax.axhline(run["rtol"], color="0.4", linewidth=0.8, linestyle=":")
ax.text(checks["step"].iloc[-1], run["rtol"], f"rtol {run['rtol']:g}", ha="right",
        va="bottom", fontsize=8, color="0.3")
for step, text in ((run["value_within_rtol_step"], "value within rtol"),
                   (run["rule_stop_step"], "the residual rule stops")):
    if step is not None:
        ax.axvline(step, color="0.4", linewidth=0.8, linestyle="--")
        ax.text(step + 12, ax.get_ylim()[0] * 3, f"{text} ({step})", rotation=90,
                va="bottom", ha="left", fontsize=8, color="0.3")
layer = run["layer"]
ax.set_xlabel("Lanczos step (one product with A and one with A^T)")
ax.set_ylabel("relative size")
ax.set_title(f"Exact sigma_max, Conv2d({layer['cin']}, {layer['cout']}, 3) seed 0, zero "
             f"padding, n = {layer['n']}")
ax.legend(loc="upper right", fontsize=8)
fig.tight_layout()
save_figure(fig, "boundary_lanczos_convergence")
plt.show()
display(Markdown(
    f"`{source.name}`: commit `{run['commit']}`, {run['threads']} threads, reference "
    f"{run['reference']['value']:.13f} after {run['reference']['steps']} steps. The rule "
    f"at rtol {run['rtol']:g} stops at step {run['rule_stop_step']}; the value was within "
    f"rtol from step {run['value_within_rtol_step']}."))
pd.DataFrame([{"n": int(n), **{f"gap to value {i + 2}": g
                               for i, g in enumerate(v["relative_gaps"])}}
              for n, v in run["gaps"].items()])

# %% [markdown]
# ## Reproducibility check
#
# The smallest stored cells are recomputed here from their parameters and seeds and
# must match the stored spectra.

# %% Recompute the smallest stored cells
small = grid.cells[grid.cells["cin"] * grid.cells["n"] ** 2 <= 256]
for row in small.itertuples():
    w = cb.pytorch_default(row.cout, row.cin, (row.kh, row.kw), seed=row.seed)
    np.testing.assert_allclose(
        row.zero, cb.singular_values(w, row.n, method="explicit", boundary="zero"), rtol=1e-10
    )
    np.testing.assert_allclose(row.periodic, cb.singular_values(w, row.n), rtol=1e-10)
print(f"{len(small)} stored cells recomputed and matched")
