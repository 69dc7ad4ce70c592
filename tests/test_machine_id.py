"""One machine name per kind of hardware (scripts/machine_id.py): hosts of different speed
never share a line, a name given by hand is checked, a stored calibration is kept."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from scripts_loader import load_script

ROOT = Path(__file__).resolve().parent.parent
machine_id = load_script("machine_id")

FINGER = {"cpu": "AMD EPYC", "flags": "2a4027", "num_cpu": 2, "ram_gib": 24,
          "blas": "openblas-haswell"}
CAL = {"svd": 0.0105, "gemm": 0.0074, "fft": 0.0084}


def slower(factor: float) -> dict[str, float]:
    return {k: v * factor for k, v in CAL.items()}


def test_the_name_comes_from_the_hardware_not_the_host():
    assert machine_id.base_name(FINGER) == "amd-epyc-2c-24g-openblas-haswell-2a4027"
    intel = {**FINGER, "cpu": "Intel(R) Xeon(R) Platinum 8375C CPU @ 2.90GHz"}
    assert machine_id.base_name(intel).startswith("intel-xeon-platinum-8375c-2c-")


def test_the_same_hardware_takes_the_stored_name(tmp_path):
    name, _ = machine_id.choose(tmp_path, tmp_path, FINGER, CAL)
    machine_id.record(tmp_path, name, FINGER, CAL)
    again, how = machine_id.choose(tmp_path, tmp_path, FINGER, slower(1.1))
    assert again == name and "within" in how


def test_a_host_of_another_speed_gets_a_new_name(tmp_path):
    # the committed runs' two hosts: both "AMD EPYC", LAPACK twice as slow on one
    name, _ = machine_id.choose(tmp_path, tmp_path, FINGER, CAL)
    machine_id.record(tmp_path, name, FINGER, CAL)
    other, how = machine_id.choose(tmp_path, tmp_path, FINGER, slower(2.0))
    assert other == f"{name}-2" and "apart" in how
    machine_id.record(tmp_path, other, FINGER, slower(2.0))
    assert machine_id.choose(tmp_path, tmp_path, FINGER, slower(2.1))[0] == other
    assert machine_id.choose(tmp_path, tmp_path, FINGER, CAL)[0] == name


def test_a_name_given_by_hand_that_does_not_match_is_refused(tmp_path):
    machine_id.record(tmp_path, "laptop", FINGER, CAL)
    assert machine_id.choose(tmp_path, tmp_path, FINGER, CAL, given="laptop")[0] == "laptop"
    with pytest.raises(ValueError, match=r"machine 'laptop' does not match this hardware: "
                       r"this machine runs the calibration 100% apart"):
        machine_id.choose(tmp_path, tmp_path, FINGER, slower(2.0), given="laptop")
    with pytest.raises(ValueError, match="its num_cpu is 2, this machine's is 8"):
        machine_id.choose(tmp_path, tmp_path, {**FINGER, "num_cpu": 8}, CAL, given="laptop")


def test_a_stored_calibration_is_never_replaced(tmp_path):
    path = machine_id.record(tmp_path, "m", FINGER, CAL)
    before = path.read_text()
    assert machine_id.record(tmp_path, "m", FINGER, slower(3.0)) is None
    assert path.read_text() == before


def test_a_broken_calibration_file_is_named(tmp_path):
    (tmp_path / "m.json").write_text(json.dumps([1, 2]))
    with pytest.raises(ValueError, match=r"m.json: not a calibration file"):
        machine_id.choose(tmp_path, tmp_path, FINGER, CAL, given="m")


def test_difference_is_symmetric_and_zero_for_equal_runs():
    assert machine_id.difference(CAL, CAL) == 0
    assert machine_id.difference(CAL, slower(1.5)) == pytest.approx(0.5)
    assert machine_id.difference(slower(1.5), CAL) == pytest.approx(0.5)


def test_this_machine_calibrates():
    cal = machine_id.calibrate(repeats=2)
    assert set(cal) == {"svd", "gemm", "fft"} and all(v > 0 for v in cal.values())
    finger = machine_id.fingerprint()
    assert set(machine_id.IDENTITY) <= set(finger)


def test_a_stored_calibration_names_its_clock_and_an_older_one_is_read_by_its_own(tmp_path):
    """The process's clock counts OpenBLAS's idle threads spinning after a call; files
    stored before the thread's clock was used are compared with the process's."""
    path = machine_id.record(tmp_path, "new", FINGER, CAL)
    assert json.loads(path.read_text())["clock"] == machine_id.CLOCK == "thread"
    old = {"fingerprint": FINGER, "calibration": slower(1.8)}  # no clock: the process's
    (tmp_path / "old.json").write_text(json.dumps(old))
    assert machine_id.mismatch(old, FINGER, CAL, legacy=slower(1.8)) is None
    assert machine_id.mismatch(old, FINGER, CAL, legacy=CAL) is not None
    assert machine_id.choose(tmp_path, tmp_path, FINGER, CAL, given="old",
                             legacy=slower(1.8))[0] == "old"
    stored = machine_id.load(tmp_path, "new")
    assert machine_id.mismatch(stored, FINGER, CAL, legacy=slower(1.8)) is None


def test_calibrate_gives_both_clocks_and_the_thread_is_within_the_process():
    thread, process = machine_id.calibrate(repeats=3, both=True)
    assert set(thread) == set(process) == {"svd", "gemm", "fft"}
    assert all(0 < thread[k] <= process[k] * 1.05 for k in thread)
