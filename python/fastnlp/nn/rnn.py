"""Recurrent layers with explicit forward / backward: RNN (Elman), LSTM, GRU (stacked with
num_layers) and the BiRNN wrapper. Batch first: x is (B, T, D); ``lengths`` (B) lets sequences end
early (states frozen, outputs zero past each length). Weights per layer follow PyTorch's names and
layout (W_ih (G*H, D), W_hh (G*H, H), b_ih, b_hh (G*H)), so torch.nn weights copy over directly.
"""

from __future__ import annotations

from typing import Any, Optional, Tuple, Type, Union

import numpy as np

from .. import ops
from .._device import array_module
from ..ops._util import Array, zeros
from .module import Module, Parameter


class RNNLayer(Module):
    """One layer in one direction. Caches its input, lengths, initial states and the kernel's
    workspace for backward.

    Parameters
    ----------
    cell : {"elman", "lstm", "gru"}
    input_dim, hidden_dim : int
        D and H.
    bias : bool
        Whether to have b_ih and b_hh.
    reverse : bool
        Read each sequence backwards within its own length.
    forget_bias : float, optional
        LSTM: the forget gate's initial bias.
    dtype : dtype
        float32 (default) or float64.
    rng : numpy.random.Generator, optional
        The initialization's randomness.
    """

    def __init__(self, cell: str, input_dim: int, hidden_dim: int, bias: bool = True, reverse: bool = False,
                 forget_bias: Optional[float] = None, dtype: "np.typing.DTypeLike" = np.float32,
                 rng: Optional[np.random.Generator] = None) -> None:
        G = ops.cell_gates(cell)
        for name, v in (("input_dim", input_dim), ("hidden_dim", hidden_dim)):
            if int(v) != v or v < 1:
                raise ValueError(f"{cell}: {name} must be a positive integer, got {v!r}")
        rng = np.random.default_rng() if rng is None else rng
        self.cell, self.input_dim, self.hidden_dim, self.reverse = cell, int(input_dim), int(hidden_dim), reverse
        H, D = self.hidden_dim, self.input_dim
        bound = 1.0 / np.sqrt(H)  # PyTorch's initialization: every weight uniform in +-1/sqrt(H)
        self.W_ih = Parameter(rng.uniform(-bound, bound, (G * H, D)).astype(dtype), "W_ih")
        self.W_hh = Parameter(rng.uniform(-bound, bound, (G * H, H)).astype(dtype), "W_hh")
        self.b_ih = self.b_hh = None
        if bias:
            self.b_ih = Parameter(rng.uniform(-bound, bound, G * H).astype(dtype), "b_ih")
            self.b_hh = Parameter(rng.uniform(-bound, bound, G * H).astype(dtype), "b_hh")
            if forget_bias is not None:
                # The forget gate starts open (Gers et al. 2000; Jozefowicz et al. 2015): its two
                # biases sum to forget_bias.
                self.b_ih.value[H:2 * H] = forget_bias
                self.b_hh.value[H:2 * H] = 0
        self._cache = None
        # False for inference: the kernel then keeps no workspace, and backward is unavailable.
        self.need_workspace = True

    def _biases(self):
        return (self.b_ih.value if self.b_ih is not None else None,
                self.b_hh.value if self.b_hh is not None else None)

    def forward(self, x: Array, lengths: Optional[Array] = None, h0: Optional[Array] = None,
                c0: Optional[Array] = None) -> Tuple[Array, Array, Optional[Array]]:
        """Runs the layer over x, caching what backward needs (unless need_workspace is False).

        Parameters
        ----------
        x : array
            (B, T, D), the weights' dtype and device.
        lengths : array, optional
            (B,) integer valid length of each sequence (None: all T).
        h0, c0 : array, optional
            (B, H) initial states (None: zeros; c0 for the LSTM only).

        Returns
        -------
        out : array
            (B, T, H) every state, zero past each sequence's length.
        h_n : array
            (B, H) each sequence's last state.
        c_n : array or None
            (B, H) the LSTM's last cell state; None for the other cells.

        Raises
        ------
        TypeError, ValueError
            Arrays of another dtype, device or shape, lengths out of range (from fastnlp.ops.rnn).
        """
        b_ih, b_hh = self._biases()
        out, h_n, c_n, ws = ops.rnn(self.cell, x, self.W_ih.value, self.W_hh.value, b_ih, b_hh, lengths,
                                    h0, c0, self.reverse, need_workspace=self.need_workspace)
        self._cache = (x, lengths, h0, c0, ws) if ws is not None else None
        return out, h_n, c_n

    def backward(self, dout: Optional[Array] = None, dh_n: Optional[Array] = None, dc_n: Optional[Array] = None,
                 need_dx: bool = True) -> Tuple[Optional[Array], Optional[Array], Optional[Array]]:
        """Backpropagation through time: adds the weight gradients into the Parameters' .grad
        (allocated at the first backward).

        Parameters
        ----------
        dout : array, optional
            (B, T, H) gradient of out (None counts as zero).
        dh_n, dc_n : array, optional
            (B, H) gradients of h_n and c_n (None counts as zero).
        need_dx : bool
            Compute dx.

        Returns
        -------
        dx : array or None
            (B, T, D); None unless need_dx.
        dh0, dc0 : array or None
            (B, H) gradients of the initial states when forward was given h0 or c0 (dc0: LSTM
            only), else None.

        Raises
        ------
        RuntimeError
            No forward before, or one run with need_workspace False.
        """
        if self._cache is None:
            raise RuntimeError(f"{self.cell} layer backward: call forward first, with need_workspace True")
        x, lengths, h0, c0, ws = self._cache
        b_ih, b_hh = self._biases()
        params = {"dW_ih": self.W_ih, "dW_hh": self.W_hh, "db_ih": self.b_ih, "db_hh": self.b_hh}
        for p in params.values():
            if p is not None and p.grad is None:
                p.grad = zeros(p.value, p.value.shape)
        g = ops.rnn_backward(self.cell, x, self.W_ih.value, self.W_hh.value, ws, dout, dh_n, dc_n, b_ih,
                             b_hh, lengths, h0, c0, self.reverse, need_dx=need_dx,
                             need_dh0=h0 is not None or c0 is not None,
                             grads={k: (p.grad if p is not None else None) for k, p in params.items()},
                             accumulate=True)
        return g["dx"], g["dh0"], g["dc0"]


class _Stacked(Module):
    """num_layers RNNLayers, each reading the outputs of the one below."""

    cell = None

    def __init__(self, input_dim: int, hidden_dim: int, num_layers: int = 1, bias: bool = True,
                 reverse: bool = False, dtype: "np.typing.DTypeLike" = np.float32,
                 rng: Optional[np.random.Generator] = None, forget_bias: Optional[float] = None) -> None:
        if int(num_layers) != num_layers or num_layers < 1:
            raise ValueError(f"{type(self).__name__}: num_layers must be a positive integer, got {num_layers!r}")
        rng = np.random.default_rng() if rng is None else rng
        self.input_dim, self.hidden_dim, self.num_layers = input_dim, hidden_dim, int(num_layers)
        self.layers = [RNNLayer(self.cell, input_dim if k == 0 else hidden_dim, hidden_dim, bias, reverse,
                                forget_bias, dtype, rng) for k in range(self.num_layers)]
        self._had_h0 = self._had_c0 = False
        self.dh0 = self.dc0 = None

    def _run(self, x, lengths, h0, c0):
        self._check_state("h0", h0, x)
        self._check_state("c0", c0, x)
        self._had_h0, self._had_c0 = h0 is not None, c0 is not None
        hs, cs, inp = [], [], x
        for k, layer in enumerate(self.layers):
            inp, h, c = layer.forward(inp, lengths, None if h0 is None else h0[k],
                                      None if c0 is None else c0[k])
            hs.append(h)
            cs.append(c)
        xp = array_module(inp)  # NumPy or CuPy, following the input
        h_n = xp.stack(hs)
        c_n = xp.stack(cs) if self.cell == "lstm" else None
        return inp, h_n, c_n

    def _check_state(self, name, s, x):
        if s is None:
            return
        want = (self.num_layers, x.shape[0], self.hidden_dim)
        if tuple(s.shape) != want:
            raise ValueError(f"{type(self).__name__}: {name} must have shape (num_layers, B, H) = {want}, "
                             f"got {tuple(s.shape)}")

    def _back(self, dout, dh_n, dc_n):
        d = dout
        dh0s, dc0s = [], []
        for k in reversed(range(self.num_layers)):
            d, dh0, dc0 = self.layers[k].backward(d, None if dh_n is None else dh_n[k],
                                                  None if dc_n is None else dc_n[k])
            dh0s.append(dh0)
            dc0s.append(dc0)
        xp = array_module(d)
        self.dh0 = xp.stack(dh0s[::-1]) if self._had_h0 or self._had_c0 else None
        self.dc0 = xp.stack(dc0s[::-1]) if self.cell == "lstm" and (self._had_h0 or self._had_c0) else None
        return d


class RNN(_Stacked):
    """Elman RNN, h' = tanh(W_ih x + b_ih + W_hh h + b_hh), num_layers stacked (forward returns
    the top layer's states and every layer's last ones; backward leaves h0's gradient in self.dh0).

    Parameters
    ----------
    input_dim, hidden_dim : int
        D and H.
    num_layers : int
        Layers stacked, each reading the outputs of the one below.
    bias : bool
        Whether to have b_ih and b_hh.
    reverse : bool
        Read each sequence backwards within its own length.
    dtype : dtype
        float32 (default) or float64.
    rng : numpy.random.Generator, optional
        The initialization's randomness (uniform in +-1/sqrt(H), as torch.nn).
    forget_bias : float, optional
        LSTM only: the forget gate's initial bias (None keeps the uniform initialization).
    """

    cell = "elman"

    def forward(self, x: Array, lengths: Optional[Array] = None, h0: Optional[Array] = None) -> Tuple[Array, Array]:
        """Runs the stacked layers over x, caching what backward needs.

        Parameters
        ----------
        x : array
            (B, T, input_dim), the weights' dtype and device.
        lengths : array, optional
            (B,) integer valid length of each sequence (None: all T).
        h0 : array, optional
            (num_layers, B, H) initial states (None: zeros).

        Returns
        -------
        out : array
            (B, T, H) the top layer's states, zero past each sequence's length.
        h_n : array
            (num_layers, B, H) each layer's last states.

        Raises
        ------
        ValueError
            h0 of another shape; TypeError or ValueError from fastnlp.ops.rnn for other bad arrays.
        """
        out, h_n, _ = self._run(x, lengths, h0, None)
        return out, h_n

    def backward(self, dout: Optional[Array] = None, dh_n: Optional[Array] = None) -> Array:
        """Backpropagation through time through every layer, top to bottom; adds the weight
        gradients into the Parameters' .grad and leaves the gradient of h0 (when forward was given
        one) in ``self.dh0``.

        Parameters
        ----------
        dout : array, optional
            (B, T, H) gradient of out (None counts as zero).
        dh_n : array, optional
            (num_layers, B, H) gradient of h_n (None counts as zero).

        Returns
        -------
        array
            dx, (B, T, input_dim).

        Raises
        ------
        RuntimeError
            No forward before.
        """
        return self._back(dout, dh_n, None)


class GRU(RNN):
    """GRU (PyTorch's variant: the reset gate multiplies W_hn h + b_hn), num_layers stacked.
    Same interface as RNN.

    Parameters
    ----------
    input_dim, hidden_dim, num_layers, bias, reverse, dtype, rng
        As for RNN.
    """

    cell = "gru"


class LSTM(_Stacked):
    """LSTM with gates i, f, g, o, num_layers stacked (forward returns (h_n, c_n) as torch.nn;
    backward leaves the gradients of h0 / c0 in self.dh0 / self.dc0).

    Parameters
    ----------
    input_dim, hidden_dim, num_layers, bias, reverse, dtype, rng
        As for RNN.
    forget_bias : float, optional
        The forget gate's initial bias (default 1.0; None keeps the uniform initialization).
    """

    cell = "lstm"

    def __init__(self, input_dim: int, hidden_dim: int, num_layers: int = 1, bias: bool = True, reverse: bool = False,
                 forget_bias: Optional[float] = 1.0, dtype: "np.typing.DTypeLike" = np.float32,
                 rng: Optional[np.random.Generator] = None) -> None:
        super().__init__(input_dim, hidden_dim, num_layers, bias, reverse, dtype, rng, forget_bias)

    def forward(self, x: Array, lengths: Optional[Array] = None, h0: Optional[Array] = None,
                c0: Optional[Array] = None) -> Tuple[Array, Tuple[Array, Array]]:
        """Runs the stacked layers over x, caching what backward needs.

        Parameters
        ----------
        x : array
            (B, T, input_dim), the weights' dtype and device.
        lengths : array, optional
            (B,) integer valid length of each sequence (None: all T).
        h0, c0 : array, optional
            (num_layers, B, H) initial hidden and cell states (None: zeros).

        Returns
        -------
        out : array
            (B, T, H) the top layer's hidden states, zero past each sequence's length.
        (h_n, c_n) : tuple of array
            (num_layers, B, H) each layer's last hidden and cell states.

        Raises
        ------
        ValueError
            h0 or c0 of another shape; TypeError or ValueError from fastnlp.ops.rnn for other bad arrays.
        """
        out, h_n, c_n = self._run(x, lengths, h0, c0)
        return out, (h_n, c_n)

    def backward(self, dout: Optional[Array] = None, dh_n: Optional[Array] = None,
                 dc_n: Optional[Array] = None) -> Array:
        """Backpropagation through time through every layer, top to bottom; adds the weight
        gradients into the Parameters' .grad and leaves the gradients of h0 and c0 (when forward
        was given either) in ``self.dh0`` and ``self.dc0``.

        Parameters
        ----------
        dout : array, optional
            (B, T, H) gradient of out (None counts as zero).
        dh_n, dc_n : array, optional
            (num_layers, B, H) gradients of h_n and c_n (None counts as zero).

        Returns
        -------
        array
            dx, (B, T, input_dim).

        Raises
        ------
        RuntimeError
            No forward before.
        """
        return self._back(dout, dh_n, dc_n)


class BiRNN(Module):
    """Bidirectional wrapper: per layer, one rnn_class (RNN, LSTM or GRU) reads the sequences forward
    and one reads each sequence backwards within its own length; their outputs are concatenated to
    (B, T, 2H) and feed the next layer.

    forward(x, lengths=None, h0=None[, c0=None]) -> (out (B, T, 2H), h_n) with h_n (and c_n for the
    LSTM, returned as (h_n, c_n)) of shape (2*num_layers, B, H), ordered layer 0 forward, layer 0
    backward, layer 1 forward, ... as in torch.nn with bidirectional=True.
    backward(dout=None, dh_n=None[, dc_n=None]) -> dx.

    Parameters
    ----------
    rnn_class : {RNN, GRU, LSTM}
        The layer class of each direction.
    input_dim, hidden_dim : int
        D and H (per direction).
    num_layers : int
        Bidirectional layers stacked.
    **kwargs
        Passed to rnn_class (bias, dtype, rng, forget_bias; not reverse).

    Raises
    ------
    TypeError, ValueError
        Another rnn_class, a num_layers that is not a positive integer.
    """

    def __init__(self, rnn_class: Type[Any], input_dim: int, hidden_dim: int, num_layers: int = 1,
                 **kwargs: Any) -> None:
        if rnn_class not in (RNN, GRU, LSTM):
            raise TypeError(f"BiRNN: rnn_class must be fastnlp.nn.RNN, GRU or LSTM, got {rnn_class!r}")
        if int(num_layers) != num_layers or num_layers < 1:
            raise ValueError(f"BiRNN: num_layers must be a positive integer, got {num_layers!r}")
        kwargs.pop("reverse", None)
        self.rnn_class, self.hidden_dim, self.num_layers = rnn_class, hidden_dim, int(num_layers)
        self.is_lstm = rnn_class is LSTM
        self.forward_layers = [rnn_class(input_dim if k == 0 else 2 * hidden_dim, hidden_dim, 1, reverse=False,
                                         **kwargs) for k in range(self.num_layers)]
        self.backward_layers = [rnn_class(input_dim if k == 0 else 2 * hidden_dim, hidden_dim, 1, reverse=True,
                                          **kwargs) for k in range(self.num_layers)]
        self.dh0 = self.dc0 = None

    def forward(self, x: Array, lengths: Optional[Array] = None, h0: Optional[Array] = None,
                c0: Optional[Array] = None) -> Tuple[Array, Union[Array, Tuple[Array, Array]]]:
        """Runs both directions of every layer, each layer reading the one below's concatenated
        outputs, caching what backward needs.

        Parameters
        ----------
        x : array
            (B, T, input_dim), the weights' dtype and device.
        lengths : array, optional
            (B,) integer valid length of each sequence (None: all T); the backward direction reads
            each sequence from its own last position.
        h0, c0 : array, optional
            (2*num_layers, B, H) initial states in torch.nn's order (None: zeros; c0 for the LSTM
            only).

        Returns
        -------
        out : array
            (B, T, 2H): the top layer's forward states, then its backward states.
        h_n : array or (h_n, c_n)
            (2*num_layers, B, H) last states (for the LSTM, the pair of hidden and cell states).

        Raises
        ------
        ValueError
            c0 for a cell that is not an LSTM, h0 or c0 of another shape; TypeError or ValueError
            from fastnlp.ops.rnn for other bad arrays.
        """
        if not self.is_lstm and c0 is not None:
            raise ValueError("BiRNN: c0 is only for LSTM")
        want = (2 * self.num_layers, x.shape[0], self.hidden_dim)
        for name, s in (("h0", h0), ("c0", c0)):
            if s is not None and tuple(s.shape) != want:
                raise ValueError(f"BiRNN: {name} must have shape (2*num_layers, B, H) = {want}, got {tuple(s.shape)}")
        xp = array_module(x)  # NumPy or CuPy, following the input
        hs, cs, inp = [], [], x
        for k in range(self.num_layers):
            outs = []
            for j, rnn in enumerate((self.forward_layers[k], self.backward_layers[k])):
                s = slice(2 * k + j, 2 * k + j + 1)
                if self.is_lstm:
                    o, (h, c) = rnn.forward(inp, lengths, None if h0 is None else h0[s],
                                            None if c0 is None else c0[s])
                    cs.append(c[0])
                else:
                    o, h = rnn.forward(inp, lengths, None if h0 is None else h0[s])
                hs.append(h[0])
                outs.append(o)
            inp = xp.concatenate(outs, axis=2)
        h_n = xp.stack(hs)
        return (inp, (h_n, xp.stack(cs))) if self.is_lstm else (inp, h_n)

    def backward(self, dout: Optional[Array] = None, dh_n: Optional[Array] = None,
                 dc_n: Optional[Array] = None) -> Array:
        """Backpropagation through time through both directions of every layer; adds the weight
        gradients into the Parameters' .grad and leaves the gradients of h0 / c0 (when forward was
        given them) in ``self.dh0`` / ``self.dc0``.

        Parameters
        ----------
        dout : array, optional
            (B, T, 2H) gradient of out (None counts as zero).
        dh_n, dc_n : array, optional
            (2*num_layers, B, H) gradients of the last states (dc_n: LSTM only; None counts as zero).

        Returns
        -------
        array
            dx, (B, T, input_dim).

        Raises
        ------
        RuntimeError
            No forward before.
        """
        H = self.hidden_dim
        d = dout
        dh0s, dc0s = [None] * (2 * self.num_layers), [None] * (2 * self.num_layers)
        for k in reversed(range(self.num_layers)):
            dx = None
            for j, rnn in enumerate((self.forward_layers[k], self.backward_layers[k])):
                s = slice(2 * k + j, 2 * k + j + 1)
                dj = None if d is None else array_module(d).ascontiguousarray(d[:, :, j * H:(j + 1) * H])
                if self.is_lstm:
                    dxj = rnn.backward(dj, None if dh_n is None else dh_n[s], None if dc_n is None else dc_n[s])
                    dc0s[2 * k + j] = rnn.dc0
                else:
                    dxj = rnn.backward(dj, None if dh_n is None else dh_n[s])
                dh0s[2 * k + j] = rnn.dh0
                dx = dxj if dx is None else dx + dxj
            d = dx
        xp = array_module(d)
        self.dh0 = xp.concatenate(dh0s) if dh0s[0] is not None else None
        self.dc0 = xp.concatenate(dc0s) if self.is_lstm and dc0s[0] is not None else None
        return d
