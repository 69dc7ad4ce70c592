"""convbench: exact singular values of convolutional layers, several ways.

The public face re-exports focused modules:

- :mod:`convbench.layer`: :class:`Conv`, the layer validated once (every kind:
  strided, dilated, grouped, padded, transposed; 1-D, 2-D, 3-D);
- :mod:`convbench.registry`: every method of :func:`singular_values`, declared once;
- :mod:`convbench.weights`: layouts, seeded generators;
- :mod:`convbench.symbols`: the transform step (``lfa``, ``fft``, ``fftw``);
- :mod:`convbench.svd`: the batched SVD step;
- :mod:`convbench.vectors`: singular vectors (:func:`singular_triplets`,
  :func:`block_factors`); :mod:`convbench.clip`: the projection onto a spectral-norm
  bound (:func:`clip`);
- :mod:`convbench.explicit`: the sparse unrolled operator;
- :mod:`convbench.budget`: memory budget and the shared feasibility rule;
- :mod:`convbench.spectrum`: :func:`singular_values` over every path.
- :mod:`convbench.fast`: the ``fast`` path; :mod:`convbench.stream`: :func:`summarize`.
- :mod:`convbench.operators`: matrix-free operators, extreme singular values;
  :mod:`convbench.bounds`: a certified bound on ``sigma_max``;
  :mod:`convbench.boundary`: approximate zero-padding spectra (:func:`approximate`);
  :mod:`convbench.estimates`: the field's bounds and estimates of ``sigma_max`` against
  the exact value (:func:`sigma_max_estimates`).
- :mod:`convbench.models`: :func:`model_spectra`, every convolution of an ONNX model or
  a PyTorch module; :func:`sweep`, several models as one table.
- :mod:`convbench.distributed`: ``client=`` of :func:`summarize`, :func:`model_spectra`
  and :func:`sweep`, on a dask.distributed cluster (imported only when used).
"""

from .boundary import approximate
from .bounds import NormBound, spectral_norm_bound
from .budget import BudgetError, feasibility, memory_budget
from .clip import ClipReport, clip
from .embedding import SizeBound, size_bound
from .estimates import ESTIMATE_COLUMNS, ESTIMATE_METHODS, sigma_max_estimates
from .explicit import unrolled
from .extremes import smallest_singular_values
from .krylov import ConvergenceWarning
from .layer import Conv, as_layer
from .models import LayerRecord, ModelReport, SweepReport, model_spectra, sweep
from .spectrum import METHODS, singular_values
from .stream import Summary, summarize
from .symbols import FFTWPlan, symbol
from .vectors import BlockFactors, Triplets, block_factors, singular_triplets
from .weights import he_normal, pytorch_default

__version__ = "0.1.0"

__all__ = [
    "ESTIMATE_COLUMNS",
    "ESTIMATE_METHODS",
    "METHODS",
    "BlockFactors",
    "BudgetError",
    "ClipReport",
    "Conv",
    "ConvergenceWarning",
    "FFTWPlan",
    "LayerRecord",
    "ModelReport",
    "NormBound",
    "SizeBound",
    "Summary",
    "SweepReport",
    "Triplets",
    "__version__",
    "approximate",
    "as_layer",
    "block_factors",
    "clip",
    "feasibility",
    "he_normal",
    "memory_budget",
    "model_spectra",
    "pytorch_default",
    "sigma_max_estimates",
    "singular_triplets",
    "singular_values",
    "size_bound",
    "smallest_singular_values",
    "spectral_norm_bound",
    "summarize",
    "sweep",
    "symbol",
    "unrolled",
]
