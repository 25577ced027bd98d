"""Optimizers over fastnlp.nn Parameters: dense gradients and sparse row gradients; each one's
state_dict() / load_state_dict() saves and restores its state for resuming training."""

from .optimizers import SGD, AdaDelta, AdaGrad, Adam, Optimizer
