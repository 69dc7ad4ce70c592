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
# # The field's sigma_max bounds and estimates, against exact values
#
# People who train Lipschitz-constrained or robust networks use a published bound or
# estimate of each layer's largest singular value. Here every method of
# `convbench.sigma_max_estimates` is compared with the **exact** `sigma_max` of the layer
# as the network computes it (its own zero padding and stride, at the input size the
# network gives it), on every convolution of ResNet-18 and MobileNetV2 at 224 x 224.
#
# Every number comes from the newest file under `measurements/estimates/`, written by
# `scripts/estimates_table.py` (one thread, seeded PyTorch-style weights: **not trained
# weights**); nothing is recomputed here. A method's `kind` says what its value is for
# the zero-padded layer: `exact`, a certified `upper bound`, or an `estimate` (no
# guarantee either way; the periodic value and the reshaped-matrix norm are values of
# other operators).

# %% Setup
import json
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from IPython.display import Markdown, display

from convbench.plotting import save_figure, use_style

use_style()
MEASURED = Path("..") / "measurements" / "estimates"
NETWORKS = {"resnet18": "ResNet-18", "mobilenet_v2": "MobileNetV2"}

# %% Read the newest measurement
found = {p: json.loads(p.read_text()) for p in MEASURED.glob("estimates-*.json")}
if not found:
    raise FileNotFoundError(f"no estimates-*.json in {MEASURED}: run "
                            "`python scripts/estimates_table.py`")
source = max(found, key=lambda p: found[p]["finished"])  # the newest run
record = found[source]
rows = pd.DataFrame(record["rows"])
rows["value"] = rows["value"].astype(float)
rows["relative_gap"] = rows["relative_gap"].astype(float)
blas = "; ".join(f"{i.get('internal_api')} {i.get('architecture')}"
                 for i in record["threadpoolctl"] if i.get("user_api") == "blas")
layers = rows.groupby("network")["layer"].nunique().sum()
display(Markdown(
    f"`{source.name}`: commit `{record['commit']}`, {record['cpu_count']} cores, one thread "
    f"({blas}), {record['seconds'] / 60:.1f} min, {layers} layers, weights "
    f"{record['weights']}; 1-minute load median "
    f"{np.median([x[0] for x in record['load']]):.2f}."
))

# %% Checks: every upper bound holds, power iteration never exceeds the exact value
bounds = rows[(rows["kind"] == "upper bound") & rows["applies"]]
assert (bounds["relative_gap"] >= 0).all(), bounds[bounds["relative_gap"] < 0]
power = rows[rows["method"] == "power"]
assert (power["relative_gap"] <= 1e-12).all()
print(f"{len(bounds)} upper-bound rows, all at or above the exact value; "
      f"{len(power)} power-iteration rows, none above it")

# %% [markdown]
# ## The leaderboard: gap against time
#
# One small point per layer and method: x is the method's time on that layer (one
# thread), y how far its value lies from the exact zero-padded `sigma_max`, in percent
# (log scale). The large labelled point is the method's median over the layers. Left:
# the certified upper bounds of the layer; right: the estimates, whose value may lie on
# either side (hollow points lie below the exact value). Only layers with a spatial
# kernel are drawn: on a 1x1 convolution the operator is one matrix applied at every
# pixel, and every method but the sampled ones is exact there. Gaps under 1e-4 % (exact
# to rounding) are drawn on the floor line. The grey band is the exact value's own time
# per layer.

# %% Figure: gap against time per method
FLOOR = 1e-4  # percent
methods = [m for m in rows["method"].unique() if m != "exact"]
colors = dict(zip(methods, plt.cm.tab10(np.linspace(0, 1, 10))[:len(methods)], strict=True))
rows["spatial"] = [int(np.prod(shape[2:])) > 1 for shape in rows["weight_shape"]]
applied = rows[rows["applies"] & rows["relative_gap"].notna() & rows["spatial"]]
exact_time = rows[(rows["method"] == "exact") & rows["spatial"]]["seconds"]
spatial_layers = rows[rows["spatial"]].groupby("network")["layer"].nunique().sum()
fig, axes = plt.subplots(1, 2, figsize=(12, 5.2), sharex=True, sharey=True)
for ax, kind in zip(axes, ["upper bound", "estimate"], strict=True):
    ax.axvspan(exact_time.quantile(0.1), exact_time.quantile(0.9), color="0.9", zorder=0,
               label="exact value's time (10-90%)")
    ax.axhline(FLOOR, color="0.6", lw=0.8, ls=":")
    for i, method in enumerate(methods):
        t = applied[(applied["method"] == method) & (applied["kind"] == kind)]
        if t.empty:
            continue
        gap = (100 * t["relative_gap"].abs()).clip(lower=FLOOR)
        below = t["relative_gap"] < 0
        ax.scatter(t.loc[~below, "seconds"], gap[~below], s=10, alpha=0.45,
                   color=colors[method])
        ax.scatter(t.loc[below, "seconds"], gap[below], s=10, alpha=0.6,
                   facecolors="none", edgecolors=colors[method])
        x, y = t["seconds"].median(), gap.median()
        ax.scatter([x], [y], s=90, color=colors[method], edgecolors="black", zorder=3,
                   label=method)
        ax.annotate(method, (x, y), xytext=(7, 4 if i % 2 else -11), textcoords="offset points",
                    fontsize=8, weight="bold")
    ax.set(xscale="log", yscale="log", xlabel="seconds per layer (one thread)",
           title={"upper bound": "certified upper bounds of the zero-padded layer",
                  "estimate": "estimates (no guarantee either way)"}[kind])
    ax.legend(fontsize=7, loc="upper right")
axes[0].set_ylabel("|value / exact - 1| (%)")
fig.suptitle(f"sigma_max against the exact value: the {spatial_layers} spatial convolutions "
             "of ResNet-18 and MobileNetV2 at 224 x 224, seeded weights")
fig.tight_layout()
save_figure(fig, "estimates_leaderboard")
plt.show()

# %% Table: median and worst gap, median time, per method, on the spatial layers
summary = (rows[rows["applies"] & rows["spatial"]].groupby(["method", "kind"])
           .agg(layers=("layer", "size"), median_gap=("relative_gap", "median"),
                worst_gap=("relative_gap", lambda g: g.abs().max()),
                median_seconds=("seconds", "median"))
           .sort_values("median_seconds").reset_index())
display(summary)

# %% [markdown]
# ## The whole-model table
#
# Papers print, per network, the product of the layers' values. **It is a product of
# layer values**: it bounds the network's Lipschitz constant only where the model is a
# plain chain of convolutions and 1-Lipschitz maps, which neither network is (residual
# additions, batch norm). It shows how the per-layer gaps compound over depth. A method
# that does not apply to some layer has no product.

# %% Table: product of per-layer values against the product of exact values
products = []
for network, label in NETWORKS.items():
    t = rows[rows["network"] == network]
    exact_log = np.log(t[t["method"] == "exact"]["value"]).sum()
    for method, g in t.groupby("method", sort=False):
        complete = bool(g["applies"].all())
        log = np.log(g["value"]).sum() if complete else np.nan
        products.append({"network": label, "method": method, "kind": g["kind"].iloc[0],
                         "layers": len(g), "log10 product": log / np.log(10),
                         "product / exact product": np.exp(log - exact_log)})
display(pd.DataFrame(products))
