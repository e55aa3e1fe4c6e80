"""gnet: a from-scratch neural network for MNIST-style images on any Array API backend."""

__version__ = "0.1.0"
