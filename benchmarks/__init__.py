"""The convbench asv suite: one module per question, a shared grid and skip rule."""

import importlib as _importlib
import importlib.util as _util

# asv forks every cell from one process that imported the suite (asv.conf.json's
# "forkserver"), so what is imported here is imported once per run, not once per cell.
# The optional peers' modules are the slow ones: torch takes about 2 s to import and
# pyFFTW 0.6 s, which every torch and fftw cell paid again when each cell imported them.
# A module that is missing or broken is left alone: its cells skip with the reason.
for _name in ("pyfftw", "torch"):
    if _util.find_spec(_name) is not None:
        try:
            _importlib.import_module(_name)
        except Exception:  # the cells that need it report why they skip
            pass
