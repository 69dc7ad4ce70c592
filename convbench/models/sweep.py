"""Many models at once (checkpoints of one network, variants): one tidy table.

:func:`sweep` reads every model, computes every layer of all of them in one batch
(here, or as tasks on a dask cluster: :mod:`convbench.distributed`, so that the layers
of all models share the workers), and returns a :class:`SweepReport`: one row per
layer per model, with a ``model`` column first, in the order of the models given and
of their graphs.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from .compute import layer_records
from .report import COLUMNS, ModelReport, TableWriter, json_ready

__all__ = ["SWEEP_COLUMNS", "SweepReport", "sweep"]

#: The columns of a sweep's table, in order.
SWEEP_COLUMNS = ("model", *COLUMNS)

#: The keyword arguments :func:`sweep` passes on to every model.
OPTIONS = ("boundary", "spectra", "threads", "fold_batchnorm")


@dataclass
class SweepReport(TableWriter):
    """Per-layer spectra of several models.

    Attributes
    ----------
    names : list of str
        One per model, in the order given.
    reports : list of ModelReport
        The models' own reports (network bounds, chain reasons), same order.
    """

    names: list[str]
    reports: list[ModelReport]
    table_columns = SWEEP_COLUMNS

    def rows(self) -> list[dict[str, Any]]:
        """Every layer of every model as a dict over :data:`SWEEP_COLUMNS`."""
        return [{"model": name, **row} for name, report in zip(self.names, self.reports,
                                                                 strict=True)
                for row in report.rows()]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: each model's :meth:`ModelReport.to_dict` under its name, and the
        rows of the table."""
        return {
            "models": [{"model": name, **report.to_dict()}
                       for name, report in zip(self.names, self.reports, strict=True)],
            "rows": [{c: json_ready(v) for c, v in row.items()} for row in self.rows()],
        }


def _default_names(models: Sequence[Any]) -> list[str]:
    """A file's path, an ONNX graph's name or a module's class, made unique with
    ``[i]`` (the model's position) where two would be equal."""
    names = []
    for i, model in enumerate(models):
        if isinstance(model, (str, os.PathLike)):
            names.append(os.fspath(model))
        elif getattr(getattr(model, "graph", None), "name", ""):
            names.append(str(model.graph.name))
        else:
            names.append(type(model).__name__ or f"model{i}")
    return [f"{n}[{i}]" if names.count(n) > 1 else n for i, n in enumerate(names)]


def sweep(
    models: Sequence[Any],
    input_shape: Any,
    *,
    client: Any = None,
    names: Sequence[str] | None = None,
    **options: Any,
) -> SweepReport:
    """Exact per-layer spectra of several models, as one table with a ``model`` column.

    Parameters
    ----------
    models : sequence
        ONNX files, parsed ONNX models or PyTorch modules (each as
        :func:`convbench.model_spectra` takes it), for example a network's checkpoints.
    input_shape : tuple of int
        The input shape shared by every model, batch and channels included.
    client : dask.distributed.Client, optional
        Compute the layers of all models as tasks on this cluster. The table (order and
        numbers; ``seconds`` aside) is the same with or without one.
    names : sequence of str, optional
        The ``model`` column, one unique name per model; default the file path, the
        ONNX graph's name or the module's class (``[i]`` added where two are equal).
    **options
        ``boundary``, ``spectra``, ``threads``, ``fold_batchnorm``: as for
        :func:`convbench.model_spectra`, the same for every model.

    Returns
    -------
    SweepReport
        ``.rows()``, ``.to_pandas()``, ``.to_csv(path)``, ``.to_json(path)``, and each
        model's own report in ``.reports``.
    """
    from . import _input_shape, _read, _report

    unknown = sorted(set(options) - set(OPTIONS))
    if unknown:
        raise TypeError(f"sweep got unknown options {unknown}; it takes {list(OPTIONS)}")
    if isinstance(models, (str, os.PathLike)) or not isinstance(models, Sequence):
        raise TypeError(f"models must be a list of models; got {type(models).__name__}")
    if not models:
        raise ValueError("models is empty")
    if names is None:
        labels = _default_names(models)
    else:
        labels = list(names) if not isinstance(names, str) else [names]
        if not all(isinstance(n, str) for n in labels):
            raise TypeError(f"names must be strings; got {names!r}")
        if len(labels) != len(models) or len(set(labels)) != len(labels):
            raise ValueError(f"names must be {len(models)} unique strings, one per model; "
                             f"got {labels}")
    boundary = options.get("boundary", "zero")
    if boundary not in ("zero", "periodic"):
        raise ValueError(f"boundary must be 'zero' or 'periodic'; got {boundary!r}")
    fold = options.get("fold_batchnorm", False)
    if fold not in (True, False):
        raise TypeError(f"fold_batchnorm must be True or False; got {fold!r}")
    shape = _input_shape(input_shape)
    read = [_read(model, shape, fold) for model in models]
    specs = [spec for model_specs, _reason, _source in read for spec in model_specs]
    records = layer_records(specs, boundary=boundary, spectra=options.get("spectra", False),
                            threads=options.get("threads"), client=client)
    reports, at = [], 0
    for model_specs, reason, source in read:
        mine = records[at : at + len(model_specs)]
        at += len(model_specs)
        reports.append(_report(mine, boundary, shape, reason, source))
    return SweepReport(names=labels, reports=reports)
