"""Optimizers over fastnlp.nn Parameters: dense gradients and sparse row gradients."""

from .optimizers import SGD, AdaGrad, Optimizer
