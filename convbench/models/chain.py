"""The network view: when the product of the layers' norms bounds the whole network.

A plain chain of convolutions (bias allowed) and 1-Lipschitz activations, each feeding
only the next, has a Lipschitz constant (in the Euclidean norm) of at most the product
of its convolutions' spectral norms. The readers decide whether a model is such a chain
and say why not.
"""

from __future__ import annotations

#: ONNX operators that are 1-Lipschitz elementwise maps, or isometries of the data.
ONNX_ONE_LIPSCHITZ = frozenset(
    {"Relu", "Tanh", "Sigmoid", "Identity", "Dropout", "Softsign", "Flatten", "Reshape",
     "Squeeze", "Unsqueeze"}
)

#: PyTorch module classes that are 1-Lipschitz elementwise maps (LeakyReLU and ELU are
#: checked for their slope apart).
TORCH_ONE_LIPSCHITZ = frozenset(
    {"ReLU", "ReLU6", "Tanh", "Sigmoid", "Identity", "Dropout", "Dropout1d", "Dropout2d",
     "Dropout3d", "Hardtanh", "Softsign", "Flatten", "Unflatten"}
)
