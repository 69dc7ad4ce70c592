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
# # Run time and memory of the singular-value paths
#
# Every number here comes from the asv results committed under `results/`
# (`make bench` writes them; `convbench.results.load_asv` reads them). Nothing is
# re-measured: re-executing this notebook redraws the same figures from the same files.
# The cell after the setup states the machine, commit and environment the numbers
# were taken on.
#
# Paths: **lfa** (the paper's local summation), **fft** (numpy), **fftw** (pyFFTW),
# **explicit** (the unrolled matrix, dense SVD) and **fast** where the results have it;
# beside them the suite's peer **torch** (`torch.fft.fft2` of the padded kernel, then
# `torch.linalg.svdvals`; `benchmarks/torch_peer.py`) and **torch-cuda** where a run
# had a CUDA device. Weights: PyTorch's default `Conv2d` initialisation,
# `cin = cout = channels`, 3x3 kernel; inputs are n x n. The wide cells of real
# networks (128 to 512 channels at n = 7 to 28, the `*Wide` benchmarks) appear as more
# channel counts wherever a run has them.

# %% Setup
import itertools

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
from IPython.display import Markdown, display

from convbench.plotting import (
    PATH_COLORS,
    PATH_LABELS,
    PATH_MARKERS,
    PATHS,
    format_bytes_axis,
    save_figure,
    slope_guides,
    use_style,
)
from convbench.results import load_asv, machine_summary

use_style()
table = load_asv()
# the suite's peers, drawn beside the library's paths
PATHS = (*PATHS, "torch", "torch-cuda")
PATH_COLORS = {**PATH_COLORS, "torch": "#EE4C2C", "torch-cuda": "#8C2A17"}
PATH_MARKERS = {**PATH_MARKERS, "torch": "X", "torch-cuda": "*"}
PATH_LABELS = {**PATH_LABELS, "torch": "torch (peer)", "torch-cuda": "torch, CUDA (peer)"}

# %% Which run: machine, commit, environment
# The newest *complete* run: the tracking tier (`make track`) measures a few cells of
# every benchmark on many commits, so a run counts as complete when it measured at least
# half as many cells as the fullest run in `results/`.
runs = machine_summary(table)
complete = runs[runs["ok"] >= 0.5 * runs["ok"].max()]
latest = complete.sort_values("date").iloc[-1]
machine = latest["machine"]
run = table[table["file"] == latest["file"]]
display(
    Markdown(
        f"Figures below use the run of commit `{latest['commit'][:10]}` "
        f"(committed {latest['date']:%Y-%m-%d %H:%M} UTC) on machine **{machine}**: "
        f"{latest['cpu']}, {latest['num_cpu']} cores, "
        f"{latest['ram'] / 2**30:.0f} GiB, {latest['os']}; asv environment "
        f"`{latest['env']}`. It holds {latest['ok']} measured cells, "
        f"{latest['skipped']} skipped (predicted too slow or too large by the suite's "
        f"feasibility rule) and {latest['failed']} failed. "
        f"{len(runs)} results file(s) in `results/` in all, {len(complete)} of them complete."
    )
)
runs.drop(columns=["python", "file"])

# %% Helpers: measured cells of one benchmark
def cells(name: str, frame: pd.DataFrame = run, **where) -> pd.DataFrame:
    """Rows of benchmark ``name`` (its last name part) with status ok and the given params."""
    rows = frame[(frame["name"] == name) & (frame["status"] == "ok")]
    for key, value in where.items():
        rows = rows[rows[key] == value]
    # the parameter columns as plain numpy dtypes: seaborn's numeric legends cannot take
    # pandas' nullable Int64 (a class's rows have no missing parameter)
    plain = {c: int for c in ("n", "channels") if c in rows and rows[c].notna().all()}
    return rows.astype(plain)


def missing(what: str) -> None:
    display(Markdown(f"> **No results for {what}** in this run: the figure is left out."))


def path_order(frame: pd.DataFrame) -> list[str]:
    return [p for p in PATHS if p in set(frame["path"])]


def band(ax, rows: pd.DataFrame, color: str, label: str, marker: str = "o") -> None:
    """Median with asv's interquartile range as a band."""
    rows = rows.sort_values("n")
    ax.plot(rows["n"], rows["value"], marker=marker, markersize=4, color=color, label=label)
    if {"q_25", "q_75"} <= set(rows.columns):
        ax.fill_between(rows["n"], rows["q_25"], rows["q_75"], color=color, alpha=0.2, lw=0)


# %% Coverage: measured, skipped and failed cells per benchmark
(
    run.groupby(["benchmark", "status"], observed=False)
    .size()
    .unstack("status")
    .rename_axis(columns=None)
)

# %% [markdown]
# ## Time against n, every path
#
# End to end (`TimeSingularValues`, one BLAS/FFTW thread): all `n·n·c` singular values.
# The grey guides grow like n² and n² log n from the first LFA point; LFA's cost is
# O(n² c³), the FFT paths' O(n² c² (c + log n)). Lines are asv's median, bands the
# interquartile range. Cells predicted over the suite's 3 s limit are timed once by
# `TimeSingularValuesLarge` (up to 45 s): those points are single samples, without a band.

# %% Figure: end-to-end time against n
e2e = cells("time_singular_values", threads="1")
if e2e.empty:
    missing("the end-to-end benchmark")
else:
    channels = sorted(e2e["channels"].unique())
    fig, axes = plt.subplots(1, len(channels), figsize=(4.2 * len(channels), 3.8), sharey=True)
    for ax, c in zip(np.atleast_1d(axes), channels, strict=True):
        sub = e2e[e2e["channels"] == c]
        for path in path_order(sub):
            band(ax, sub[sub["path"] == path], PATH_COLORS[path], PATH_LABELS[path],
                 PATH_MARKERS[path])
        first = sub[sub["path"] == "lfa"].sort_values("n")
        if len(first):
            slope_guides(ax, sub["n"], first["value"].iloc[0], labels=c == channels[0])
        ax.set(xscale="log", yscale="log", title=f"{c} channel(s) in and out",
               xlabel="input size n (n x n)")
        ax.set_xscale("log", base=2)
    np.atleast_1d(axes)[0].set_ylabel("time (s)")
    fig.legend(*np.atleast_1d(axes)[0].get_legend_handles_labels(), loc="lower center",
               ncol=7, bbox_to_anchor=(0.5, -0.08))
    fig.suptitle("All singular values of a 3x3 convolution: time against input size")
    fig.tight_layout()
    save_figure(fig, "runtime_vs_n")
    plt.show()

# %% [markdown]
# Cells without a point were skipped by the suite (predicted slower than its time limit
# or larger than the memory budget) or failed; which ones:

# %% Skipped and failed end-to-end cells
not_ok = run[(run["name"] == "time_singular_values") & (run["status"] != "ok")]
(
    not_ok.groupby(["path", "threads", "status"], observed=True)["n"]
    .agg(lambda s: ", ".join(str(v) for v in sorted(set(s))))
    .rename("n values")
    .to_frame()
)

# %% [markdown]
# ## Transform and SVD, side by side per path
#
# Each path has two steps: building the symbol (explicit: assembling the sparse matrix)
# and the SVD. The transform is `TimeTransform` (`TimeAssemble` for explicit); the SVD
# is `TimeBatchedSVD` in the layout the path hands it (LFA: contiguous blocks; FFT and
# FFTW return a transposed view of the transform, `fft-view`), and for explicit the
# dense SVD of the periodic operator (`TimeDenseSVD`). For `fast` the two steps are its
# half-plane symbol and its block factorizations with the radix ordering, with one
# thread like the rest of the suite's stage benchmarks. Shown for the channel count
# with the most paths and, among those, the most measured sizes.

# %% Figure: transform vs SVD time per path
svd_layout_of = {"lfa": "lfa", "fft": "fft-view", "fftw": "fft-view", "fast": "fast",
                 "torch": "torch"}
steps = []
for path in PATHS:
    if path == "explicit":
        transform = cells("time_assemble", boundary="periodic")
        svd = cells("time_dense_svd", boundary="periodic")
    elif path in svd_layout_of:
        transform = cells("time_symbol", path=path)
        svd = cells("time_svd", layout=svd_layout_of[path])
    else:
        continue
    for step, rows in (("transform", transform), ("SVD", svd)):
        steps.append(rows.assign(path=path, step=step)[["path", "step", "n", "channels",
                                                       "value", "q_25", "q_75"]])
steps = pd.concat(steps) if steps else pd.DataFrame()
if steps.empty:
    missing("the transform and SVD benchmarks")
else:
    # the channel count with the most paths, then the most measured cells
    coverage = steps.groupby("channels").agg(paths=("path", "nunique"), cells=("n", "size"))
    c = coverage.sort_values(["paths", "cells"], ascending=False).index[0]
    sub = steps[steps["channels"] == c]
    present = path_order(sub)
    fig, axes = plt.subplots(1, len(present), figsize=(3.6 * len(present), 3.6),
                             sharey=True)
    for ax, path in zip(np.atleast_1d(axes), present, strict=True):
        for step, style in (("transform", "-"), ("SVD", "--")):
            rows = sub[(sub["path"] == path) & (sub["step"] == step)].sort_values("n")
            ax.plot(rows["n"], rows["value"], linestyle=style, marker=PATH_MARKERS[path],
                    markersize=4, color=PATH_COLORS[path], label=step)
        ax.set(xscale="log", yscale="log", title=PATH_LABELS[path], xlabel="input size n")
        ax.set_xscale("log", base=2)
        ax.legend(loc="upper left")
    np.atleast_1d(axes)[0].set_ylabel("time (s)")
    fig.suptitle(f"Where the time goes: transform (solid) and SVD (dashed), {c} channels")
    fig.tight_layout()
    save_figure(fig, "runtime_transform_vs_svd")
    plt.show()

# %% Share of the SVD in transform + SVD, per path and n
if not steps.empty:
    wide = steps.pivot_table(index=["path", "channels", "n"], columns="step", values="value")
    wide = wide.dropna()
    display((wide["SVD"] / (wide["SVD"] + wide["transform"])).unstack("n").round(2))

# %% [markdown]
# ## Memory layout and the SVD
#
# The same symbol values handed to the batched SVD in three layouts (`TimeBatchedSVD`):
# contiguous `(n, n, c, c)` blocks as LFA writes them, the transposed view FFT returns,
# and that view copied to contiguous first (the copy timed on its own, `TimeLayoutCopy`,
# and added here).

# %% Figure: SVD time by layout
# (the fast path's own step, layout "fast", and the torch peer's are other
# computations: they are in the transform-and-SVD figure above)
svd = cells("time_svd")
svd = svd[~svd["layout"].isin(["fast", "torch"])] if not svd.empty else svd
copy = cells("time_copy")
if svd.empty:
    missing("the layout benchmark")
else:
    with_copy = svd[svd["layout"] == "fft-copy"].merge(
        copy[["n", "channels", "value"]], on=["n", "channels"], suffixes=("", "_copy")
    )
    with_copy = with_copy.assign(layout="fft-copy + copy",
                                 value=with_copy["value"] + with_copy["value_copy"])
    both = pd.concat([svd, with_copy], ignore_index=True)
    base = both[both["layout"] == "lfa"][["n", "channels", "value"]]
    ratio = both.merge(base, on=["n", "channels"], suffixes=("", "_lfa"))
    ratio["ratio"] = ratio["value"] / ratio["value_lfa"]
    layout_colors = {"lfa": PATH_COLORS["lfa"], "fft-view": PATH_COLORS["fft"],
                     "fft-copy": "#F0B85A", "fft-copy + copy": "#8C5A00"}
    g = sns.relplot(data=ratio, x="n", y="ratio", hue="layout", palette=layout_colors,
                    style="layout", markers=True, dashes=False, col="channels", kind="line",
                    height=3.2, aspect=1.1)
    g.set(xscale="log")
    for ax in g.axes.flat:
        ax.set_xscale("log", base=2)
        ax.axhline(1, color="0.4", linewidth=0.8)
    g.set_axis_labels("input size n", "SVD time / SVD time of LFA layout")
    g.set_titles(col_template="{col_name} channels")
    g.figure.suptitle("Does the symbol's memory layout change the batched SVD's time?",
                      y=1.04)
    save_figure(g.figure, "runtime_svd_layout")
    plt.show()

# %% Median ratio to the LFA layout, per layout and channel count
if not svd.empty:
    display(ratio.groupby(["layout", "channels"])["ratio"].median().unstack().round(2))

# %% [markdown]
# ## LFA against FFT: speed-up against n
#
# Ratio of end-to-end times, `time(fft) / time(lfa)` (and FFTW), one thread. Above 1, LFA
# is faster. The paper reports up to 1.44x for n ≥ 1024 (dotted reference line).

# %% Figure: speed-up of LFA over FFT
if e2e.empty:
    missing("the end-to-end benchmark")
else:
    wide = e2e.pivot_table(index=["channels", "n"], columns="path", values="value")
    others = [p for p in ("fft", "fftw") if p in wide and "lfa" in wide]
    speed = pd.concat(
        [(wide[p] / wide["lfa"]).rename("speedup").reset_index().assign(versus=p)
         for p in others]
    ).dropna()
    g = sns.relplot(data=speed, x="n", y="speedup", hue="channels", style="channels",
                    markers=True, dashes=False, col="versus", kind="line", height=3.4,
                    aspect=1.2, palette="viridis")
    for ax in g.axes.flat:
        ax.set_xscale("log", base=2)
        ax.axhline(1, color="0.4", linewidth=0.8)
        paper = ax.hlines(1.44, 1024, max(speed["n"].max(), 1024), color="k",
                          linestyles=":", label="paper: 1.44x at n ≥ 1024")
        ax.legend(handles=[paper], loc="best", fontsize=8)
    g.set_axis_labels("input size n", "speed-up of LFA (time ratio)")
    g.set_titles(col_template="time({col_name}) / time(lfa)")
    g.figure.suptitle("LFA against the FFT paths, end to end, one thread", y=1.04)
    save_figure(g.figure, "runtime_lfa_speedup")
    plt.show()

# %% Speed-up table (rows: channels, columns: n)
if not e2e.empty:
    display(speed.pivot_table(index=["versus", "channels"], columns="n", values="speedup")
            .round(2))

# %% [markdown]
# ## The fast path against LFA and FFT
#
# `time(lfa) / time(fast)`, `time(fft) / time(fast)` and, where the run has the peer,
# `time(torch) / time(fast)` from the same end-to-end cells
# (one thread, every side delivering the whole spectrum sorted descending). The fast
# path's targets are 30x at c = 1, n = 4096; 4x at c = 4, n = 1024; 2.5x at c = 16, n = 256;
# 2x at c = 64, n = 64 (`scripts/fast_targets.py` measures them interleaved).

# %% Fast path speed-up table (rows: reference path and channels, columns: n)
if e2e.empty or "fast" not in set(e2e["path"]):
    missing("the fast path")
else:
    wide = e2e.pivot_table(index=["channels", "n"], columns="path", values="value")
    fast_speed = pd.concat(
        [(wide[p] / wide["fast"]).rename("speedup").reset_index().assign(versus=p)
         for p in ("lfa", "fft", "torch") if p in wide]
    ).dropna()
    display(fast_speed.pivot_table(index=["versus", "channels"], columns="n",
                                   values="speedup").round(1))

# %% [markdown]
# ## Peak memory against n
#
# `PeakMemSingularValues`: asv's peak resident memory of the benchmark process while it
# computes all singular values, which includes the interpreter and the loaded
# libraries (the flat part at small n).

# %% Figure: peak memory against n
mem = cells("peakmem_singular_values")
if mem.empty:
    missing("the peak-memory benchmark")
else:
    channels = sorted(mem["channels"].unique())
    fig, axes = plt.subplots(1, len(channels), figsize=(4.2 * len(channels), 3.6),
                             sharey=True)
    for ax, c in zip(np.atleast_1d(axes), channels, strict=True):
        sub = mem[mem["channels"] == c]
        for path in path_order(sub):
            rows = sub[sub["path"] == path].sort_values("n")
            ax.plot(rows["n"], rows["value"], marker=PATH_MARKERS[path], markersize=4,
                    color=PATH_COLORS[path], label=PATH_LABELS[path])
        ax.set(xscale="log", yscale="log", title=f"{c} channel(s) in and out",
               xlabel="input size n")
        ax.set_xscale("log", base=2)
        format_bytes_axis(ax)
    np.atleast_1d(axes)[0].set_ylabel("peak resident memory")
    fig.legend(*np.atleast_1d(axes)[0].get_legend_handles_labels(), loc="lower center",
               ncol=5, bbox_to_anchor=(0.5, -0.08))
    fig.suptitle("Peak memory of all singular values against input size")
    fig.tight_layout()
    save_figure(fig, "memory_vs_n")
    plt.show()

# %% [markdown]
# ## Layer kinds
#
# `TimeLayerKinds`: every path on the kinds of layer real networks have, each with the
# same number of input points per channel (4096: 64 x 64 in 2-D, 16³ in 3-D, 4096 in
# 1-D), so a group of bars compares layers with as many singular values (a stride-2 layer
# has a quarter of them). Periodic boundary, one thread; `explicit` is the dense SVD.

# %% Figure: layer kinds, every path
kinds = cells("time_singular_values", group="TimeLayerKinds")
if kinds.empty:
    missing("the layer kinds")
else:
    pts = 4096 if (kinds["points"] == 4096).any() else kinds["points"].min()
    sub = kinds[kinds["points"] == pts]
    kind_order = [k for k in ("stride1", "stride2", "depthwise", "dilation2", "1d", "3d")
                  if k in set(sub["kind"])]
    paths = path_order(sub)
    fig, axes = plt.subplots(1, sub["channels"].nunique(), figsize=(11, 3.8), sharey=True)
    for ax, (c, per) in zip(np.atleast_1d(axes), sub.groupby("channels"), strict=True):
        width = 0.8 / max(len(paths), 1)
        for i, path in enumerate(paths):
            rows = per[per["path"] == path].set_index("kind").reindex(kind_order)
            ax.bar(np.arange(len(kind_order)) + (i - (len(paths) - 1) / 2) * width,
                   rows["value"], width, color=PATH_COLORS[path], label=PATH_LABELS[path])
        ax.set_xticks(np.arange(len(kind_order)), kind_order)
        ax.set(yscale="log", title=f"{c} channels, {pts} input points per channel")
    np.atleast_1d(axes)[0].set_ylabel("time (s)")
    fig.legend(*np.atleast_1d(axes)[0].get_legend_handles_labels(), loc="lower center",
               ncol=len(paths), bbox_to_anchor=(0.5, -0.08))
    fig.suptitle("All singular values of each layer kind, per path (one thread)")
    fig.tight_layout()
    save_figure(fig, "runtime_layer_kinds")
    plt.show()

# %% [markdown]
# ## Across commits
#
# Three cells of the tracking tier (`make track`) over every commit with results for this
# machine, each where a landing changed its speed on purpose: the fast path on ResNet-18
# (52e3901: a 1x1 stride-2 layer's phases no tap reads became zero columns), the fast
# path at 16 channels on a small input (73ae59d: small jobs go straight to LAPACK) and
# the exact zero-padded `sigma_max` (6c46548: Lanczos stops on the residual, slower and
# correct). The landing is marked where it is among the commits drawn. A machine name is
# one kind of hardware (`make bench-machine`), so a step here is the code's.

# %% Figure: known steps across commits
STEPS = [
    ("networks.TimeNetworkPeriodic.time_network", {"architecture": "resnet18", "path": "fast"},
     "52e3901", "fast path, ResNet-18 at 224, every layer"),
    ("end_to_end.TimeSingularValues.time_singular_values", {"path": "fast", "threads": "1", "n": 64,
                                       "channels": 16}, "73ae59d",
     "fast path, n = 64, 16 channels, one thread"),
    ("zero_padding.TimeTopOne.time_top_one", {"n": 64, "channels": 4}, "6c46548",
     "zero-padded sigma_max, n = 64, 4 channels"),
]
mine = table[(table["machine"] == machine) & (table["status"] == "ok")]
order = runs[runs["machine"] == machine].sort_values("date")["commit"].drop_duplicates()
slot = {commit: i for i, commit in enumerate(order)}
series = []
for benchmark, where, landing, title in STEPS:
    rows = mine[mine["benchmark"] == benchmark]
    for key, value in where.items():
        rows = rows[rows[key].astype(str) == str(value)] if key in rows else rows.iloc[:0]
    series.append((rows.drop_duplicates("commit").sort_values("date"), landing, title))
if sum(len(rows) >= 2 for rows, _, _ in series) == 0:
    display(Markdown(f"> Fewer than two commits of these cells on **{machine}**: no history "
                     "to draw yet (`make track RANGE=...` adds them)."))
else:
    fig, axes = plt.subplots(len(series), 1, figsize=(9, 2.6 * len(series)), sharex=True)
    for ax, (rows, landing, title) in zip(np.atleast_1d(axes), series, strict=True):
        x = rows["commit"].map(slot)
        ax.plot(x, rows["value"], marker="o", color=PATH_COLORS["fast"])
        hit = [slot[c] for c in order if c.startswith(landing)]
        for where in hit:
            ax.axvline(where, color="grey", ls="--", lw=1)
            ax.annotate(landing, (where, 1), xycoords=("data", "axes fraction"),
                        xytext=(3, -12), textcoords="offset points", fontsize=8)
        ax.set(yscale="log", ylabel="time (s)", title=title)
    ax = np.atleast_1d(axes)[-1]
    ax.set_xticks(range(len(order)), [c[:7] for c in order], rotation=60, fontsize=8)
    ax.set_xlabel("commit, in history order")
    fig.tight_layout()
    save_figure(fig, "runtime_history")
    plt.show()

# %% Whole-run speed against the previous run: the machine's drift
timed = table[(table["machine"] == machine) & (table["status"] == "ok")
              & table["name"].str.startswith("time_")]
keys = ["benchmark", *sorted(set(timed.columns) & {"path", "layout", "sort", "threads",
                                                   "boundary", "n", "channels", "exact",
                                                   "model", "kernel"})]
cell = timed[keys].astype(object).fillna("-").map(str).agg("|".join, axis=1)  # cell name
by_commit = timed.assign(cell=cell).pivot_table(index="cell", columns="commit",
                                                values="value")
order = timed.drop_duplicates("commit").sort_values("date")["commit"].tolist()
drift = []
for before, after in itertools.pairwise(order):
    ratio = (by_commit[before] / by_commit[after]).dropna()
    drift.append({"run": after[:8], "previous": before[:8], "shared cells": ratio.size,
                  "median time(previous)/time(run)": ratio.median(),
                  "q25": ratio.quantile(0.25), "q75": ratio.quantile(0.75)})
if drift:
    display(pd.DataFrame(drift).set_index("run").round(2))
