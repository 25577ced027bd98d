"""Layers with explicit forward / backward (no autograd). Each layer owns its Parameters (value
and gradient) and caches what its backward needs."""

from .module import Module, Parameter
from .layers import Activation, HardTanh, Linear, ReLU, Sequential, Sigmoid, Tanh, glorot_uniform
from .embedding import Embedding
from .dropout import Dropout
from .loss import SoftmaxCrossEntropy
from .conv import Conv1d
from .rnn import GRU, LSTM, RNN, BiRNN, RNNLayer
