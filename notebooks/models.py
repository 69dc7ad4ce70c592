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
# # The spectral norm of every layer of a whole network
#
# Per convolution of ResNet-18 and MobileNetV2, in graph order: the exact largest
# singular value of the layer as PyTorch computes it (its own zero padding and stride, on
# the input size the network really gives it), the same layer's largest singular value on
# the torus of that size, and the record's certified upper bound on the first
# (`convbench.size_bound`: the norm of the periodic layer on the smallest torus that
# embeds the zero-padded one, of size n + dilation*(k-1), certified by Cholesky
# factorisations; it holds at this input size, and it is at most the torus maximum
# `convbench.spectral_norm_bound` that holds for every size).
#
# Every number comes from the tables stored under `results/models/` by
# `make model-results` (`scripts/model_results.py`, which calls
# `convbench.model_spectra(module, input_shape, boundary="zero")`); nothing is
# recomputed here. The weights are **PyTorch's default initialisation from a fixed seed,
# not trained weights** (no pretrained weights are downloaded on this machine), so the
# figure shows what the library reports on real architectures' shapes, not the spectra of
# trained networks.

# %% Setup
import json
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from IPython.display import Markdown, display

from convbench.plotting import MODEL_COLORS, save_figure, use_style

use_style()
RESULTS = Path("..") / "results" / "models"
ARCHS = {"resnet18": "ResNet-18", "mobilenet_v2": "MobileNetV2"}

# %% Read the stored tables and their provenance
def latest(arch: str) -> tuple[pd.DataFrame, dict]:
    """The stored table of ``arch`` at its largest stored input size, and its JSON."""
    found = sorted(RESULTS.glob(f"{arch}-*.csv"), key=lambda p: int(p.stem.rsplit("-", 1)[1]))
    if not found:
        raise FileNotFoundError(f"no {arch}-*.csv in {RESULTS}: run `make model-results`")
    table = pd.read_csv(found[-1], keep_default_na=True)
    meta = json.loads((RESULTS / "provenance" / f"{found[-1].stem}.json").read_text())
    return table, meta


def kind(row: pd.Series) -> str:
    """depthwise, 1x1, strided or plain (a strided 1x1 counts as strided)."""
    taps = row["weight_shape"].split("x")[2:]
    if row["groups"] > 1 and row["weight_shape"].split("x")[1] == "1":
        return "depthwise"
    if any(s != "1" for s in str(row["stride"]).split("x")):
        return "strided"
    return "1x1" if all(t == "1" for t in taps) else "plain"


tables, metas = {}, {}
for arch in ARCHS:
    tables[arch], metas[arch] = latest(arch)
    tables[arch]["depth"] = np.arange(len(tables[arch]))
    tables[arch]["kind"] = tables[arch].apply(kind, axis=1)
pd.DataFrame(
    {
        ARCHS[a]: {
            "layers": m["layers"], "input": "x".join(map(str, m["input_shape"])),
            "seed": m["seed"], "commit": m["commit"][:8], "date": m["date"],
            "seconds": round(m["seconds_total"], 1),
            "load (1 min) before/after": f"{m['loadavg_before'][0]:.2f} / "
                                         f"{m['loadavg_after'][0]:.2f}",
            "chain": m["chain"],
        }
        for a, m in metas.items()
    }
)

# %% Checks: the bound is never below the exact sigma_max; how far apart they are
for arch, t in tables.items():
    exact, torus = t["sigma_max"], t["sigma_max_periodic"]
    assert (exact <= t["bound"] * (1 + 1e-9)).all(), arch
    gap = t["bound"] / exact - 1
    print(f"{ARCHS[arch]}: {len(t)} layers, periodic defined for {torus.notna().sum()}; "
          f"bound above the exact sigma_max by a median {np.median(gap):.2%}, at most "
          f"{gap.max():.2%} ({t.loc[gap.idxmax(), 'name']}, input "
          f"{t.loc[gap.idxmax(), 'input_size']}); periodic above zero-padded in "
          f"{(torus > exact).sum()} layers")

# %% [markdown]
# ## Figure: sigma_max against depth
#
# One column per architecture; x is the layer's index in graph order (the order of
# `model_spectra`'s table, the forward pass' order: a ResNet block's shortcut 1x1
# follows its second 3x3). The upper panels show the three values; they lie within a few
# percent of each other, so the lower panels show how far the periodic value and the
# bound lie from the exact zero-padded one, in percent. Markers tell the layer kinds
# apart: circles plain 3x3 (or 7x7) convolutions, triangles strided ones (a strided 1x1
# included), squares 1x1, diamonds depthwise. The periodic value is missing where the
# stride does not divide the input size.

# %% Drawing helpers: one series with a marker per layer kind
MARKERS = {"plain": "o", "strided": "^", "1x1": "s", "depthwise": "D"}
SERIES = {
    "sigma_max": ("exact, zero padding (as PyTorch computes)", MODEL_COLORS["zero"], 7),
    "sigma_max_periodic": ("exact, periodic (same layer on the torus)",
                           MODEL_COLORS["periodic"], 5),
    "bound": ("certified bound on the zero-padded value", MODEL_COLORS["bound"], 3.5),
}


def series(ax, t: pd.DataFrame, y: pd.Series, column: str) -> None:
    """``y`` against depth: a thin line, then one marker shape per layer kind."""
    _, color, size = SERIES[column]
    ax.plot(t["depth"], y, color=color, lw=0.8, alpha=0.6,
            ls={"sigma_max": "-", "bound": ":"}.get(column, "-."))
    for k, marker in MARKERS.items():
        rows = t["kind"] == k
        ax.plot(t.loc[rows, "depth"], y[rows], ls="none", marker=marker, ms=size,
                color=color, mfc="none" if column == "bound" else color)


# %% Figure: per-layer sigma_max, periodic sigma_max and the certified bound
fig, axes = plt.subplots(2, 2, figsize=(11, 6.2), sharex="col",
                         gridspec_kw={"height_ratios": [2, 1], "width_ratios": [1, 2]})
for (top, low), (arch, t) in zip(axes.T, tables.items(), strict=True):
    for column in SERIES:
        series(top, t, t[column], column)
        if column != "sigma_max":
            series(low, t, 100 * (t[column] / t["sigma_max"] - 1), column)
    low.axhline(0, color=MODEL_COLORS["zero"], lw=1)
    size = "x".join(map(str, metas[arch]["input_shape"][2:]))
    top.set_title(f"{ARCHS[arch]}: {len(t)} convolutions, input {size}")
    low.set_xlabel("layer index (graph order)")
axes[0, 0].set_ylabel(r"$\sigma_{\max}$ of the layer")
axes[1, 0].set_ylabel("above exact\nzero-padded (%)")
handles = [plt.Line2D([], [], color=c, marker="o", mfc="none" if k == "bound" else c,
                      label=label) for k, (label, c, _) in SERIES.items()]
handles += [plt.Line2D([], [], color="0.4", marker=m, ls="none", label=k)
            for k, m in MARKERS.items()]
fig.legend(handles=handles, loc="lower center", ncol=4, bbox_to_anchor=(0.5, -0.08))
meta = metas["resnet18"]
fig.suptitle(f"Largest singular value of every convolution; PyTorch default initialisation "
             f"(seed {meta['seed']}, untrained), commit {meta['commit'][:8]}")
fig.tight_layout()
save_figure(fig, "models_sigma_max")
plt.show()

# %% Caption (the input size and commit from the stored provenance)
sizes = {"x".join(map(str, m["input_shape"][2:])) for m in metas.values()}
commits = {m["commit"][:8] for m in metas.values()}
display(Markdown(
    f"*Caption.* Per convolution of ResNet-18 (left) and MobileNetV2 (right), network "
    f"input {' and '.join(sorted(sizes))}, computed at commit {', '.join(sorted(commits))}: "
    "the exact largest singular value of the layer as PyTorch computes it (zero padding; "
    "green), of the same layer on the torus (pink; missing where the stride does not "
    "divide the layer's input size), and the certified upper bound on the first (dark "
    "blue, open). Weights are PyTorch's default initialisation from "
    f"`torch.manual_seed({metas['resnet18']['seed']})`, not trained weights: none can be "
    "downloaded here. The deep layers see small inputs (7x7 in ResNet-18's last stage), "
    "where zero padding lowers $\\sigma_{\\max}$ most: there the bound lies furthest "
    "above it, and the periodic value differs most from it (above, or below for some "
    "strided layers); 1x1 layers have no padding, and their three values agree."
))

# %% [markdown]
# ## The network view
#
# The product of the layers' $\sigma_{\max}$ bounds the network's Lipschitz constant
# only where the model is a plain chain of convolutions and 1-Lipschitz maps;
# `model_spectra` says whether it is, and why not.

# %% The product of sigma_max over the chain, where the report gives it
for arch, m in metas.items():
    if m["chain"]:
        display(Markdown(f"**{ARCHS[arch]}** is a chain: product of the exact "
                         f"$\\sigma_{{\\max}}$ = {m['lipschitz_bound']:.4g}, of the bounds "
                         f"{m['lipschitz_certified']:.4g}."))
    else:
        display(Markdown(f"**{ARCHS[arch]}** is not a plain chain, so no product is "
                         f"drawn: {m['chain_reason']}"))
