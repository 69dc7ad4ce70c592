"""convbench.results: asv results and stored spectra, real files and broken ones."""

from __future__ import annotations

import importlib.util
import json
import shutil
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from convbench.results import (
    STATUSES,
    AsvResultsError,
    find_results_dir,
    load_asv,
    load_spectra,
    machine_summary,
    save_spectra,
)

ROOT = Path(__file__).resolve().parent.parent
TOY = Path(__file__).resolve().parent / "data" / "asv_toy"
TOY_RESULTS = TOY / "results"


def toy_files(results: Path) -> list[Path]:
    return sorted(p for p in results.glob("*/*.json") if p.name != "machine.json")


@pytest.fixture
def toy_copy(tmp_path: Path) -> Path:
    """A writable copy of the committed real results of the toy asv suite."""
    target = tmp_path / "results"
    shutil.copytree(TOY_RESULTS, target)
    return target


# ---- real asv files -------------------------------------------------------------------


def check_toy_table(table: pd.DataFrame, n_files: int) -> None:
    """What the toy suite (tests/data/asv_toy/benchmarks) must produce, per results file."""
    assert table["file"].nunique() == n_files
    assert table["commit"].nunique() == n_files
    # 3 parametrised benchmarks x 8 combinations + 1 plain one, nothing dropped
    assert len(table) == n_files * (3 * 8 + 1)
    one = table[table["file"] == table["file"].iloc[0]]
    time_sum = one[one["name"] == "time_sum"].set_index(["n", "path", "flag"])
    assert time_sum.loc[(4, "fft", True), "status"] == "failed"
    assert time_sum.loc[(8, "fft", False), "status"] == "skipped"
    assert (time_sum.drop([(4, "fft", True), (8, "fft", False)])["status"] == "ok").all()
    assert time_sum["value"].isna().sum() == 2
    ok = time_sum[time_sum["status"] == "ok"]
    assert (ok["value"] > 0).all() and (ok["value"] < 1).all()
    # asv's spread statistics: quartiles around the median (asv rounds them to 5 digits)
    assert (ok["q_25"] <= ok["value"] * (1 + 1e-4)).all()
    assert (ok["q_75"] >= ok["value"] * (1 - 1e-4)).all()
    assert (ok["number"] >= 1).all() and (ok["repeat"] >= 1).all()
    # setup raises NotImplementedError for every benchmark of that combination
    skipped = one[(one["n"] == 8) & (one["path"] == "fft") & (one["flag"] == False)]  # noqa: E712
    assert set(skipped["status"]) == {"skipped"} and len(skipped) == 3
    track = one[one["name"] == "track_size"].set_index(["n", "path", "flag"])
    assert track.loc[(4, "lfa", True), "value"] == 16.0
    assert track.loc[(8, "lfa", True), "value"] == 64.0
    assert set(track["unit"]) == {"entries"}
    units = one.drop_duplicates("name").set_index("name")[["type", "unit"]]
    assert units.loc["time_sum"].tolist() == ["time", "seconds"]
    assert units.loc["peakmem_sum"].tolist() == ["peakmemory", "bytes"]
    plain = one[one["name"] == "time_plain"]
    assert len(plain) == 1 and plain["n"].isna().all() and plain["group"].isna().all()
    assert table["current"].all()


def test_committed_real_toy_results_load_into_a_tidy_table():
    table = load_asv(TOY_RESULTS)
    check_toy_table(table, n_files=2)
    # parameters come back typed, from the repr asv stores
    assert table["n"].dtype == "Int64"
    assert table["path"].dtype == "string"
    assert table["flag"].dtype == "boolean"
    assert isinstance(table["status"].dtype, pd.CategoricalDtype)
    assert tuple(table["status"].cat.categories) == STATUSES
    assert str(table["date"].dtype).startswith("datetime64") and table["date"].dt.tz is not None
    files = toy_files(TOY_RESULTS)
    raw = json.loads(files[0].read_text())
    row = table[table["file"] == f"{files[0].parent.name}/{files[0].name}"].iloc[0]
    assert row["commit"] == raw["commit_hash"]
    assert row["env"] == raw["env_name"]
    assert row["machine"] == raw["params"]["machine"]
    assert row["date"] == pd.Timestamp(raw["date"], unit="ms", tz="UTC")


def test_values_match_the_raw_file_cell_by_cell():
    path = toy_files(TOY_RESULTS)[0]
    raw = json.loads(path.read_text())
    columns = raw["result_columns"]
    entry = dict(zip(columns, raw["results"]["bench_toy.Toy.time_sum"], strict=False))
    table = load_asv(TOY_RESULTS)
    got = table[(table["file"].str.endswith(path.name)) & (table["name"] == "time_sum")]
    np.testing.assert_array_equal(
        got["value"].to_numpy(), np.array([np.nan if v is None else v for v in entry["result"]])
    )
    np.testing.assert_array_equal(
        got["q_75"].to_numpy(), np.array([np.nan if v is None else v for v in entry["stats_q_75"]])
    )
    # product order of asv: the first parameter varies slowest
    assert got["n"].tolist() == [4, 4, 4, 4, 8, 8, 8, 8]
    assert got["flag"].tolist() == [True, False] * 4


def test_machine_summary_states_where_the_numbers_come_from():
    summary = machine_summary(load_asv(TOY_RESULTS))
    assert len(summary) == 2
    assert {"machine", "cpu", "commit", "date", "env", "ok", "failed", "skipped"} <= set(
        summary.columns
    )
    assert summary["failed"].tolist() == [1, 1]  # time_sum(4, 'fft', True) raises
    assert summary["skipped"].tolist() == [3, 3]


def test_machine_filter(toy_copy):
    machine = next(p.name for p in toy_copy.iterdir() if p.is_dir())
    assert len(load_asv(toy_copy, machine=machine)) == len(load_asv(toy_copy))
    with pytest.raises(FileNotFoundError, match="no results for machine 'nowhere'"):
        load_asv(toy_copy, machine="nowhere")


@pytest.mark.skipif(importlib.util.find_spec("asv") is None, reason="asv not installed")
@pytest.mark.skipif(shutil.which("git") is None, reason="git not installed")
def test_a_live_asv_run_loads(tmp_path):
    sys.path.insert(0, str(TOY))
    try:
        from make_results import make_results
    finally:
        sys.path.remove(str(TOY))
    out = make_results(tmp_path / "results", commits=1, quick=True)
    check_toy_table(load_asv(out), n_files=1)


def test_committed_project_results_load_when_present():
    results = ROOT / "results"
    if not toy_files(results):
        pytest.skip("no committed asv results in results/ yet")
    table = load_asv(results)
    assert len(table) > 0
    assert set(table["status"].astype(str)) <= set(STATUSES)
    assert (table.loc[table["status"] == "ok", "value"].notna()).all()
    assert table.loc[table["status"] != "ok", "value"].isna().all()


def test_find_results_dir(tmp_path):
    (tmp_path / "results").mkdir()
    (tmp_path / "asv.conf.json").write_text("{}")
    (tmp_path / "notebooks").mkdir()
    assert find_results_dir(tmp_path / "notebooks") == tmp_path / "results"
    with pytest.raises(FileNotFoundError, match=r"asv\.conf\.json"):
        find_results_dir(Path("/"))


# ---- broken and missing asv files -----------------------------------------------------


def test_missing_results_dir_names_it(tmp_path):
    with pytest.raises(FileNotFoundError, match="nothing-here"):
        load_asv(tmp_path / "nothing-here")


def test_missing_benchmarks_json_names_it(toy_copy):
    (toy_copy / "benchmarks.json").unlink()
    with pytest.raises(FileNotFoundError, match=r"benchmarks\.json"):
        load_asv(toy_copy)


def test_no_result_files(toy_copy):
    for f in toy_files(toy_copy):
        f.unlink()
    with pytest.raises(FileNotFoundError, match="no asv results files"):
        load_asv(toy_copy)


def test_truncated_json_names_the_file(toy_copy):
    bad = toy_files(toy_copy)[0]
    bad.write_text(bad.read_text()[:200])
    with pytest.raises(AsvResultsError, match=bad.name) as info:
        load_asv(toy_copy)
    assert "malformed JSON" in str(info.value)
    assert isinstance(info.value, ValueError)


def test_malformed_benchmarks_json_names_it(toy_copy):
    (toy_copy / "benchmarks.json").write_text("{not json")
    with pytest.raises(AsvResultsError, match=r"benchmarks\.json: malformed JSON"):
        load_asv(toy_copy)
    (toy_copy / "benchmarks.json").write_text("[]")
    with pytest.raises(AsvResultsError, match=r"not an asv benchmarks\.json"):
        load_asv(toy_copy)


def edit_first(toy_copy: Path, change) -> Path:
    path = toy_files(toy_copy)[0]
    data = json.loads(path.read_text())
    change(data)
    path.write_text(json.dumps(data))
    return path


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda d: d.update(version=1), "format version 1 is not supported"),
        (lambda d: d.pop("commit_hash"), "missing key 'commit_hash'"),
        (lambda d: d.pop("results"), "missing key 'results'"),
        (lambda d: d.update(results=[]), "'results' must be an object"),
        (lambda d: d.update(result_columns=["x"]), "lack 'result' or 'params'"),
        (
            lambda d: d["results"]["bench_toy.Toy.time_sum"][0].pop(),
            r"'bench_toy.Toy.time_sum': 7 results for 8 parameter combinations",
        ),
        (
            lambda d: d["results"].update({"bench_toy.time_plain": "oops"}),
            "'bench_toy.time_plain': malformed result entry",
        ),
        (
            lambda d: d["results"]["bench_toy.Toy.time_sum"].__setitem__(1, "oops"),
            "params must be a list of lists",
        ),
    ],
)
def test_malformed_result_file_names_file_and_problem(toy_copy, change, message):
    path = edit_first(toy_copy, change)
    with pytest.raises(AsvResultsError, match=message) as info:
        load_asv(toy_copy)
    assert path.name in str(info.value)


def test_json_array_instead_of_object(toy_copy):
    path = toy_files(toy_copy)[0]
    path.write_text("[1, 2]")
    with pytest.raises(AsvResultsError, match=f"{path.name}: expected a JSON object"):
        load_asv(toy_copy)


def test_benchmark_missing_from_description_is_kept_with_generic_names(toy_copy):
    described = json.loads((toy_copy / "benchmarks.json").read_text())
    del described["bench_toy.Toy.time_sum"]
    (toy_copy / "benchmarks.json").write_text(json.dumps(described))
    table = load_asv(toy_copy)
    old = table[table["name"] == "time_sum"]
    assert len(old) == 16  # still there, not dropped
    assert set(old["unit"]) == {"seconds"}
    assert not old["current"].any()
    assert old["param0"].notna().all() and old["n"].isna().all()


def test_whole_benchmark_failed(toy_copy):
    edit_first(toy_copy, lambda d: d["results"]["bench_toy.Toy.track_size"].__setitem__(0, None))
    table = load_asv(toy_copy)
    first = table[table["file"] == table["file"].iloc[0]]
    assert set(first.loc[first["name"] == "track_size", "status"]) == {"failed"}


# ---- stored spectra -------------------------------------------------------------------


def cell(n: int, seed: int) -> dict:
    rng = np.random.default_rng(seed)
    return {
        "params": {"n": n, "cout": 2, "cin": 2, "kh": 3, "kw": 3, "seed": seed},
        "spectra": {"zero": rng.uniform(size=2 * n * n), "periodic": rng.uniform(size=2 * n * n)},
        "seconds": {"zero": 0.5, "periodic": 0.1},
    }


def test_spectra_round_trip_with_provenance(tmp_path):
    cells = [cell(4, 0), cell(5, 1)]
    path = save_spectra(tmp_path / "s.npz", cells, study="t", description="test")
    stored = load_spectra(path)
    assert stored.spectra_names == ("zero", "periodic")
    assert stored.cells[["n", "seed"]].values.tolist() == [[4, 0], [5, 1]]
    for i, c in enumerate(cells):
        for name in ("zero", "periodic"):
            got = stored.cells.loc[i, name]
            np.testing.assert_array_equal(got, np.sort(c["spectra"][name])[::-1])
    assert stored.cells["seconds_zero"].tolist() == [0.5, 0.5]
    for key in ("created", "commit", "machine", "versions", "threads", "description"):
        assert key in stored.meta


def test_spectra_are_never_overwritten_silently(tmp_path):
    path = save_spectra(tmp_path / "s.npz", [cell(4, 0)], study="t", description="first")
    with pytest.raises(FileExistsError, match="not overwritten"):
        save_spectra(path, [cell(4, 1)], study="t", description="second")
    assert load_spectra(path).meta["description"] == "first"
    save_spectra(path, [cell(4, 1)], study="t", description="second", overwrite=True)
    assert load_spectra(path).meta["description"] == "second"


def test_spectra_bad_input(tmp_path):
    with pytest.raises(ValueError, match=r"\.npz"):
        save_spectra(tmp_path / "s.txt", [cell(4, 0)], study="t", description="")
    with pytest.raises(ValueError, match="must not be empty"):
        save_spectra(tmp_path / "s.npz", [], study="t", description="")
    mixed = [cell(4, 0), {**cell(4, 1), "spectra": {"zero": np.ones(3)}}]
    with pytest.raises(ValueError, match="cell 1 stores spectra"):
        save_spectra(tmp_path / "s.npz", mixed, study="t", description="")


def test_broken_spectra_files_name_the_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="make spectra"):
        load_spectra(tmp_path / "missing.npz")
    garbage = tmp_path / "garbage.npz"
    garbage.write_bytes(b"not a zip file")
    with pytest.raises(ValueError, match=r"garbage\.npz"):
        load_spectra(garbage)
    no_meta = tmp_path / "no_meta.npz"
    np.savez(no_meta, x=np.ones(3))
    with pytest.raises(ValueError, match=r"no_meta\.npz has no 'meta'"):
        load_spectra(no_meta)
    bad_meta = tmp_path / "bad_meta.npz"
    np.savez(bad_meta, meta=np.array("{oops"))
    with pytest.raises(ValueError, match=r"bad_meta\.npz: metadata is not valid JSON"):
        load_spectra(bad_meta)
    other = tmp_path / "other.npz"
    np.savez(other, meta=np.array(json.dumps({"format": "something/9"})))
    with pytest.raises(ValueError, match=r"other\.npz: unknown format 'something/9'"):
        load_spectra(other)
    good = save_spectra(tmp_path / "good.npz", [cell(4, 0)], study="t", description="")
    with np.load(good) as data:
        kept = {k: data[k] for k in data.files if not k.endswith("__zero")}
    partial = tmp_path / "partial.npz"
    np.savez(partial, **kept)
    with pytest.raises(ValueError, match=r"partial.npz: array 'c0000__zero' .* missing"):
        load_spectra(partial)


def test_committed_spectra_load_and_match_their_parameters():
    import convbench as cb

    files = sorted((ROOT / "results" / "spectra").glob("*.npz"))
    if not files:
        pytest.skip("no stored spectra yet (make spectra)")
    for path in files:
        stored = load_spectra(path)
        assert stored.meta["commit"] and stored.meta["machine"]["node"]
        for _, row in stored.cells.iterrows():
            size = row["n"] * row["m"] * min(row["cout"], row["cin"])
            for name in stored.spectra_names:
                values = row[name]
                assert values.shape == (size,), path.name
                assert np.all(np.diff(values) <= 0) and values[-1] >= 0, path.name
        # the smallest cell is recomputed from its stored parameters and seed, where that is
        # cheap (the paper's file holds one 16384 x 16384 dense SVD: 17 minutes)
        row = stored.cells.loc[(stored.cells["n"] ** 2 * stored.cells["cin"]).idxmin()]
        if row["n"] * row["m"] * row["cin"] > 4096:
            continue
        assert row["init"] == "pytorch_default"
        w = cb.pytorch_default(row["cout"], row["cin"], (row["kh"], row["kw"]), seed=row["seed"])
        shape = (row["n"], row["m"])
        zero = cb.singular_values(w, shape, method="explicit", boundary="zero")
        np.testing.assert_allclose(row["zero"], zero, rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(row["periodic"], cb.singular_values(w, shape), rtol=1e-10)
