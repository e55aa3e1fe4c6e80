"""gnet: a from-scratch neural network for MNIST-style images on any Array API backend.

import gnet
(X, y), (X_test, y_test) = gnet.datasets.load("mnist")
net = gnet.Network([784, 128, 10], ["relu", "softmax"], device="cpu", seed=0)
net.fit(X, y, epochs=10, batch_size=128,
        optimizer=gnet.optim.SGD(learning_rate=0.1, momentum=0.9))
print(net.evaluate(X_test, y_test)["accuracy"])

result = gnet.run("configs/mnist-fast.json", device="cpu")   # what `gnet train` does
print(result.metrics["test"]["accuracy"])
"""

import logging
from types import ModuleType

from . import layers, optim, summary
from .backend import Backend, get_backend, to_numpy
from .errors import (
    ConfigError,
    DataError,
    DeviceError,
    GNetError,
    ImageError,
    ModelFileError,
    TrainingDiverged,
)
from .io import load_model as load
from .live import LiveView
from .network import Network

# Imported here, not on first use through __getattr__: the submodule gnet.run
# and the function share a name, and a lazy lookup would hand out the module
# once anything had imported it. run.py imports its dependencies when called.
from .run import RunResult, run
from .train import Callback, History

__version__ = "0.2.1"

# The library never prints: without a handler configured by the application,
# gnet's log records go nowhere.
logging.getLogger(__name__).addHandler(logging.NullHandler())


def __getattr__(name: str) -> ModuleType:
    # gnet.datasets is gnet.data, imported on first use.
    if name == "datasets":
        from . import data

        return data
    raise AttributeError(f"module 'gnet' has no attribute {name!r}")


__all__ = [
    "Backend",
    "Callback",
    "ConfigError",
    "DataError",
    "DeviceError",
    "GNetError",
    "History",
    "LiveView",
    "ImageError",
    "ModelFileError",
    "Network",
    "TrainingDiverged",
    "__version__",
    "get_backend",
    "load",
    "layers",
    "optim",
    "summary",
    "run",
    "RunResult",
    "to_numpy",
]
