"""Functional kernels on NumPy arrays (float32, or float64 for gradient checks) and, when CUDA is
available, on CuPy arrays (float32). Each returns new arrays unless an ``out=`` is given.

An output (``out=``, gradients written or added in place, updated parameters) must not share
memory with the op's inputs or its other outputs: ValueError naming both, before anything is
written. The one exception is the identical array where an op's docstring says so ("``out`` may
be x itself"): elementwise activations and row-wise softmax in place."""

from .activation import ACTIVATIONS, activation, activation_backward, hardtanh, relu, sigmoid, tanh
from .linear import linear, linear_backward
from .softmax import log_softmax, log_softmax_backward, softmax, softmax_backward, softmax_cross_entropy
from .sampled_softmax import ClassSampler, SampledSoftmaxResult, sampled_softmax
from .linear_cross_entropy import linear_cross_entropy
from .embedding import embedding, embedding_backward, embedding_backward_sparse
from .dropout import dropout, dropout_backward
from .optim import (adadelta_update, adadelta_update_sparse, adagrad_update, adagrad_update_sparse, adam_update,
                    adam_update_sparse, sgd_update, sgd_update_sparse)
from .conv import conv1d, conv1d_backward, conv_out_len
from .rnn import (CELLS, cell_gates, clip_grad_norm, elman, gru, lstm, rnn, rnn_backward, rnn_cell,
                  rnn_cell_backward, rnn_projected, rnn_workspace_size)
from .crf import crf_nll, crf_nll_backward, viterbi_decode
