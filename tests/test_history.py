"""One history per machine: results from any clone path, and from any boot of the same
machine, land in one asv environment and one machine description, so asv draws them
on one line per benchmark and parameter combination.

asv's line identity is the results' ``params``: the machine description
(``~/.asv-machine.json``, written by ``make bench-machine``), ``python`` and the
requirements of the environment. These tests build both the way ``asv run`` does
(asv's own ``Config``, ``get_environments``, ``Machine``, ``get_filename`` and ``Graph``)
for two clones at different paths and two boots, and check the committed results and
their relabelling.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _script(name: str):
    spec = importlib.util.spec_from_file_location(name, ROOT / "scripts" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


bench_machine = _script("bench_machine")
relabel_results = _script("relabel_results")
history = _script("history")

#: What asv's defaults were on two boots of the reference machine (the committed runs).
BOOTS = [
    {"machine": "vm", "os": "Linux 6.18.44-fc-v669", "arch": "x86_64", "cpu": "AMD EPYC",
     "num_cpu": "2", "ram": "25276502016"},
    {"machine": "vm", "os": "Linux 6.18.44-fc-v657", "arch": "x86_64", "cpu": "AMD EPYC",
     "num_cpu": "2", "ram": "25276510208"},
]


def committed_runs() -> list[Path]:
    return relabel_results.results_files(ROOT / "results")


def test_stable_os_drops_the_patch_level_and_build():
    assert bench_machine.stable_os("Linux 6.18.44-fc-v657") == "Linux 6.18"
    assert bench_machine.stable_os("Linux 6.18.44-fc-v669") == "Linux 6.18"
    assert bench_machine.stable_os("Linux 5.15.0-91-generic") == "Linux 5.15"
    assert bench_machine.stable_os("Darwin 23.4.0") == "Darwin 23.4"
    assert bench_machine.stable_os("Linux 6.18") == "Linux 6.18"  # idempotent
    assert bench_machine.stable_os("Debian 12 (bookworm)") == "Debian 12 (bookworm)"
    assert bench_machine.stable_os("Linux 6.19.1") != "Linux 6.18"  # a new kernel is new


def test_stable_ram_rounds_to_whole_gib():
    assert bench_machine.stable_ram("25276510208") == str(24 * 2**30)
    assert bench_machine.stable_ram("25276502016") == str(24 * 2**30)
    assert bench_machine.stable_ram(str(24 * 2**30)) == str(24 * 2**30)  # idempotent
    assert bench_machine.stable_ram(16 * 2**30 - 300_000) == str(16 * 2**30)
    assert bench_machine.stable_ram("") == ""
    assert bench_machine.stable_ram("24GB") == "24GB"  # typed by hand: kept


def test_given_fields_win(tmp_path):
    info = bench_machine.describe(BOOTS[0], machine="laptop", cpu="Intel i7-1185G7",
                                  ram="17179869184")
    assert info == {"machine": "laptop", "os": "Linux 6.18", "arch": "x86_64",
                    "cpu": "Intel i7-1185G7", "num_cpu": "2", "ram": str(16 * 2**30)}
    with pytest.raises(ValueError, match="unknown machine fields"):
        bench_machine.describe(BOOTS[0], colour="blue")


def machine_after_boot(boot: dict[str, str], machine_file: Path) -> dict[str, str]:
    """``make bench-machine`` on this boot, then what ``asv run`` loads for the machine."""
    from asv.machine import Machine

    bench_machine.register(bench_machine.describe(boot), machine_file)
    return dict(Machine.load(machine_name=boot["machine"], _path=str(machine_file)).__dict__)


def environment_of(clone: Path) -> tuple[str, str, dict[str, str]]:
    """The environment a plain ``asv run`` (and ``make bench``) uses in ``clone``."""
    from asv import config, environment

    conf = config.Config.load(str(clone / "asv.conf.json"))
    envs = list(environment.get_environments(conf, None))
    assert len(envs) == 1, [e.name for e in envs]
    return envs[0].name, envs[0].python, dict(envs[0].requirements)


def test_two_clones_and_two_boots_land_on_one_line(tmp_path):
    from asv.graph import Graph
    from asv.results import get_filename

    recorded = []
    for i, (clone, boot) in enumerate(
        zip([tmp_path / "a" / "convbench", tmp_path / "b" / "work" / "clone-2"], BOOTS,
            strict=True)
    ):
        clone.mkdir(parents=True)
        shutil.copy2(ROOT / "asv.conf.json", clone / "asv.conf.json")
        machine = machine_after_boot(boot, tmp_path / f"asv-machine-{i}.json")
        name, python, requirements = environment_of(clone)
        assert str(tmp_path) not in name and os.sep not in name
        assert not name.startswith("existing")
        # what asv run records (asv/commands/run.py): machine, python, requirements
        params = {**machine, "python": python, **requirements}
        recorded.append((
            name, params, get_filename(machine["machine"], "0" * 40, name),
            Graph("transform.TimeTransform.time_symbol", {**params, "branch": "main"}).path,
        ))
    (name_a, params_a, file_a, line_a), (name_b, params_b, file_b, line_b) = recorded
    assert name_a == name_b
    assert params_a == params_b
    assert file_a == file_b
    assert line_a == line_b
    assert params_a["os"] == "Linux 6.18" and params_a["ram"] == str(24 * 2**30)
    assert set(params_a) == set(bench_machine.FIELDS) | {"python"} | set(
        relabel_results.suite_environment()[1])


def test_asvs_own_defaults_would_split_the_boots():
    """Why the stable values exist: asv's raw description differs between the boots."""
    raw = [{k: b[k] for k in ("os", "ram")} for b in BOOTS]
    assert raw[0] != raw[1]
    assert bench_machine.stable_params(raw[0]) == bench_machine.stable_params(raw[1])


def test_make_bench_runs_in_the_plain_asv_environment():
    out = subprocess.run(["make", "-n", "bench", "MACHINE=probe"], cwd=ROOT,
                         capture_output=True, text=True, check=True).stdout
    runs = [line for line in out.splitlines() if "asv run" in line]
    assert runs, out
    for line in runs:
        assert "--python" not in line and " -E " not in line and "--environment" not in line


def test_committed_runs_share_one_environment_and_machine_description():
    files = committed_runs()
    assert len(files) >= 2
    tool, requirements = relabel_results.suite_environment()
    by_machine: dict[str, list[dict]] = {}
    for path in files:
        data = json.loads(path.read_text())
        name = data["env_name"]
        assert os.sep not in name and not name.startswith("existing"), path.name
        assert name == relabel_results.env_name(tool, data["python"], requirements)
        assert relabel_results.target_path(path, data) == path
        params = data["params"]
        assert params["os"] == bench_machine.stable_os(params["os"])
        assert params["ram"] == bench_machine.stable_ram(params["ram"])
        by_machine.setdefault(path.parent.name, []).append(params)
    for machine, params in by_machine.items():
        assert all(p == params[0] for p in params), f"{machine}: runs on several lines"
        described = json.loads((ROOT / "results" / machine / "machine.json").read_text())
        for field in bench_machine.FIELDS:
            assert described[field] == params[0][field]


def original_of(data: dict) -> dict:
    """A relabelled file as it was before its last relabel, from the note it carries."""
    *earlier, note = data[relabel_results.NOTE_KEY]
    original = {k: v for k, v in data.items() if k != relabel_results.NOTE_KEY}
    if earlier:
        original[relabel_results.NOTE_KEY] = earlier
    original["params"] = dict(original["params"])
    for label, (old, _new) in note["changed"].items():
        if label.startswith("params."):
            original["params"][label.removeprefix("params.")] = old
        else:
            original[label] = old
    return original, note


def test_relabelled_runs_are_their_originals_with_labels_changed():
    tool, requirements = relabel_results.suite_environment()
    relabelled = 0
    for path in committed_runs():
        data = json.loads(path.read_text())
        if relabel_results.NOTE_KEY not in data:
            continue
        relabelled += 1
        original, note = original_of(data)
        again, changes = relabel_results.relabel(
            original, tool, requirements, python=data["python"], when=note["date"])
        assert again == data
        assert changes == note["changed"]
        # the timings, samples and statistics are the original's, untouched
        assert again["results"] is original["results"]
        assert set(changes) <= {"env_name", "python", "params.python", "params.os",
                                "params.ram"}
    assert relabelled >= 1


def test_relabel_is_idempotent_and_changes_nothing_else():
    tool, requirements = relabel_results.suite_environment()
    data = json.loads(committed_runs()[0].read_text())
    same, changes = relabel_results.relabel(data, tool, requirements)
    assert same is data and changes == {}
    tampered = json.loads(json.dumps(data))
    first = next(iter(tampered["results"]))
    tampered["results"][first] = None
    with pytest.raises(relabel_results.RelabelError, match="'results'"):
        relabel_results.check_only_labels(data, tampered)
    tampered = {**data, "params": {**data["params"], "numpy": "==1.26"}}
    with pytest.raises(relabel_results.RelabelError, match="numpy"):
        relabel_results.check_only_labels(data, tampered)


def test_relabel_refuses_another_environment_and_an_unknown_python():
    tool, requirements = relabel_results.suite_environment()
    data = json.loads(committed_runs()[0].read_text())
    other = {**data, "requirements": {**requirements, "numpy": "==1.26"}}
    with pytest.raises(relabel_results.RelabelError, match="another environment"):
        relabel_results.relabel(other, tool, requirements)
    by_path = {**data, "python": "/somewhere/.venv/bin/python"}
    with pytest.raises(relabel_results.RelabelError, match="--python"):
        relabel_results.relabel(by_path, tool, requirements)
    fixed, changes = relabel_results.relabel(by_path, tool, requirements, python="3.11")
    assert fixed["python"] == "3.11" and changes["python"][0] == "/somewhere/.venv/bin/python"


def test_relabel_script_never_replaces_a_file(tmp_path):
    """A run of the old label beside one of the new name: refused without --force."""
    source = next(path for path in committed_runs()
                  if relabel_results.NOTE_KEY in json.loads(path.read_text()))
    data = json.loads(source.read_text())
    original, _ = original_of(data)
    machine = tmp_path / "results" / source.parent.name
    machine.mkdir(parents=True)
    old = machine / "00000000-existing-py_x_bin_python.json"
    old.write_text(json.dumps(original))
    (machine / source.name).write_text("{}")
    code = relabel_results.main(["--results", str(tmp_path / "results"), "--python", "3.11"])
    assert code == 1
    assert old.is_file() and (machine / source.name).read_text() == "{}"


def test_history_orders_runs_by_the_branch():
    runs = [history.Run(c, "env", Path(f"{c}.json")) for c in ("c3", "c1", "c2")]
    ordered = history.in_history_order(runs, ["c1", "c2", "c3"])
    assert [r.commit for r in ordered] == ["c1", "c2", "c3"]
    with pytest.raises(ValueError, match="not on the branch"):
        history.in_history_order(runs, ["c1", "c2"])


def test_history_of_the_committed_runs():
    runs = history.stored_runs(ROOT / "results", "vm")
    ordered = history.in_history_order(runs, history.branch_order("HEAD"))
    assert len({r.commit for r in ordered}) >= 2


def test_durations_of_the_committed_runs():
    for run in history.stored_runs(ROOT / "results", "vm"):
        d = history.duration(run.path)
        # the default runs took half an hour or more; every cell is counted once
        assert 10 * 60 < d["seconds"] < 6 * 3600, (run.path.name, d)
        data = json.loads(run.path.read_text())
        cells = 0
        for entry in data["results"].values():
            record = dict(zip(data["result_columns"], entry, strict=False))
            values = record["result"]
            cells += len(values) if isinstance(values, list) else 1
        assert d["ok"] + d["skipped"] + d["failed"] == cells
