"""A tiny asv suite whose real results feed tests/test_results.py.

Regenerate tests/data/asv_toy/results with ``python tests/data/asv_toy/make_results.py``.
"""

import numpy as np


class Toy:
    params = ([4, 8], ["lfa", "fft"], [True, False])
    param_names = ["n", "path", "flag"]  # noqa: RUF012 (asv reads a list)

    def setup(self, n, path, flag):
        if n == 8 and path == "fft" and not flag:
            raise NotImplementedError("skipped on purpose")
        self.x = np.ones((n, n))

    def time_sum(self, n, path, flag):
        if n == 4 and path == "fft" and flag:
            raise RuntimeError("fails on purpose")
        self.x.sum()

    def peakmem_sum(self, n, path, flag):
        self.x.sum()

    def track_size(self, n, path, flag):
        return float(self.x.size)

    track_size.unit = "entries"


def time_plain():
    sum(range(100))
