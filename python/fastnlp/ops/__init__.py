"""Functional kernels on NumPy arrays (float32, or float64 for gradient checks) and, when CUDA is
available, on CuPy arrays (float32). Each returns new arrays unless an ``out=`` is given."""

from .activation import ACTIVATIONS, activation, activation_backward, hardtanh, relu, sigmoid, tanh
from .linear import linear, linear_backward
from .softmax import log_softmax, log_softmax_backward, softmax, softmax_backward, softmax_cross_entropy
from .sampled_softmax import ClassSampler, SampledSoftmaxResult, sampled_softmax
