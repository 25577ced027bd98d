"""Property tests over the bindings (fastnlp._C): random shapes, dtypes, strided views and output
buffers carved out of one shared buffer, so that outputs overlap inputs at random offsets.

Every call either raises a documented exception (ValueError or TypeError whose message starts
with the op's name) or succeeds, and then its outputs equal the reference kernels' (reference=True)
run on private copies of the arguments. An output overlapping an input or another output is
refused with a ValueError naming both (NumPy's may_share_memory), except the aliasing an op
documents as safe: the identical array, for elementwise ops and row-wise softmax in place.
Crafted regressions for the cases issue 13 reported come first.

Tolerance: atol + rtol * |ref| with (atol, rtol) = (1e-5, 1e-4) in float32 and (1e-12, 1e-10) in
float64, for reductions of at most a few dozen terms. Budget: FASTNLP_FUZZ_EXAMPLES (150 by
default) examples per property; a longer run:
FASTNLP_FUZZ_EXAMPLES=20000 python -m pytest tests/test_binding_fuzz.py
"""

import os

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fastnlp import _C, ops

EXAMPLES = int(os.environ.get("FASTNLP_FUZZ_EXAMPLES", "150"))
FUZZ = settings(max_examples=EXAMPLES, deadline=None, derandomize=True,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
TOL = {np.float32: (1e-5, 1e-4), np.float64: (1e-12, 1e-10)}


# ---- crafted regressions ------------------------------------------------------------------------

def test_the_reported_overlaps_are_refused_naming_both_arguments():
    x = np.ones((4, 4), np.float32)
    W = np.eye(4, dtype=np.float32)
    with pytest.raises(ValueError, match="linear_forward: y overlaps x in memory"):
        ops.linear(x, W, out=x)
    E = np.arange(12, dtype=np.float32).reshape(3, 4)
    with pytest.raises(ValueError, match="embedding_forward: y overlaps W in memory"):
        ops.embedding(E, np.array([2, 0, 1]), out=E)
    b = np.linspace(-2, 2, 9).astype(np.float32)
    before = b.copy()
    with pytest.raises(ValueError, match=r"activation_forward: y overlaps x in memory \(only the identical array"):
        ops.activation(b[:-1], "tanh", out=b[1:])
    np.testing.assert_array_equal(b, before)   # refused before a byte was written


def test_documented_in_place_calls_still_work():
    x = np.random.default_rng(0).normal(size=(5, 7)).astype(np.float32)
    for op, ref in ((ops.sigmoid, lambda a: 1 / (1 + np.exp(-a))), (ops.softmax, _np_softmax)):
        a = x.copy()
        assert op(a, out=a) is a
        np.testing.assert_allclose(a, ref(x), rtol=1e-5, atol=1e-6)
    logits = x.copy()
    targets = np.array([0, 3, 6, 1, 2])
    loss, grad = ops.softmax_cross_entropy(logits, targets, grad_out=logits)
    want = _np_softmax(x)
    want[np.arange(5), targets] -= 1
    np.testing.assert_allclose(grad, want / 5, rtol=1e-5, atol=1e-6)


@pytest.mark.gpu
def test_gpu_overlaps_are_refused_in_the_bindings_and_the_python_compositions(cp):
    """The same rule on device pointers: the bindings (activation, embedding) and the ops composed
    in Python around cuBLAS (linear, its backward)."""
    x = cp.ones((4, 4), cp.float32)
    W = cp.eye(4, dtype=cp.float32)
    with pytest.raises(ValueError, match="linear: out overlaps x in memory"):
        ops.linear(x, W, out=x)
    with pytest.raises(ValueError, match="linear_backward: dW overlaps W in memory"):
        ops.linear_backward(x, W, x.copy(), x.copy(), dW=W)
    with pytest.raises(ValueError, match="embedding_forward: y overlaps W in memory"):
        ops.embedding(W, cp.array([2, 0, 1, 3]), out=W)
    b = cp.linspace(-2, 2, 9).astype(cp.float32)
    with pytest.raises(ValueError, match="activation_forward: y overlaps x in memory"):
        ops.activation(b[:-1], "tanh", out=b[1:])
    a = b.copy()
    ops.activation(a, "tanh", out=a)   # the identical array: in place, as documented
    np.testing.assert_allclose(cp.asnumpy(a), np.tanh(cp.asnumpy(b)), rtol=1e-5, atol=1e-6)
    y = ops.linear(x, W, out=cp.empty((4, 4), cp.float32))   # a separate output still works
    np.testing.assert_allclose(cp.asnumpy(y), np.ones((4, 4)), rtol=1e-6)


def _np_softmax(a):
    e = np.exp(a - a.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def test_clip_grad_norm_refuses_integer_arrays_by_position():
    g = np.array([30, 40])
    with pytest.raises(TypeError, match=r"clip_grad_norm: grads\[1\] must be a float array, got dtype int64"):
        ops.clip_grad_norm([np.ones(2, np.float32), g, None], 1.0)
    np.testing.assert_array_equal(g, [30, 40])   # not zeroed


@pytest.mark.parametrize("weight", [None, [[0.0] * 3] * 4])
def test_rnn_backward_names_a_weight_that_is_not_an_array(weight):
    rng = np.random.default_rng(1)
    x = rng.normal(size=(2, 3, 3)).astype(np.float32)
    W_ih, W_hh = rng.normal(size=(4, 3)).astype(np.float32), rng.normal(size=(4, 4)).astype(np.float32)
    _, _, _, ws = ops.rnn("elman", x, W_ih, W_hh)
    with pytest.raises(TypeError, match=f"rnn_backward: W_ih must be a NumPy array or a GPU array, got "
                                        f"{type(weight).__name__}"):
        ops.rnn_backward("elman", x, weight, W_hh, ws, dout=np.ones((2, 3, 4), np.float32))
    with pytest.raises(TypeError, match="rnn_backward: b_hh must be a NumPy array or a GPU array, got list"):
        ops.rnn_backward("elman", x, W_ih, W_hh, ws, dout=np.ones((2, 3, 4), np.float32), b_hh=[0.0] * 4)


@pytest.mark.parametrize("ignore_index, error, message", [
    (1 << 63, ValueError, r"ignore_index must fit in int64, got 9223372036854775808"),
    (-(1 << 63) - 1, ValueError, r"ignore_index must fit in int64"),
    ("x", TypeError, r"ignore_index must be an integer, got str"),
])
def test_ignore_index_out_of_int64_gets_a_clear_message(ignore_index, error, message):
    logits = np.zeros((2, 3), np.float32)
    with pytest.raises(error, match="softmax_cross_entropy: " + message):
        ops.softmax_cross_entropy(logits, np.array([0, 1]), ignore_index=ignore_index)
    loss, _ = ops.softmax_cross_entropy(logits, np.array([0, 1]), ignore_index=np.int64(-(1 << 63)))
    assert np.isclose(loss, np.log(3))


HUGE = np.broadcast_to(np.float32(1), (1 << 20, 1 << 20))   # 4 TB if an output of its shape were made


@pytest.mark.parametrize("call", [
    lambda: ops.activation(HUGE, "relu"),
    lambda: ops.softmax(HUGE),
    lambda: ops.log_softmax(HUGE),
    lambda: ops.linear(HUGE, np.ones((3, 1 << 20), np.float32)),
    lambda: ops.softmax_cross_entropy(HUGE, np.zeros(1 << 20, np.int64)),
    lambda: ops.embedding(np.ones((4, 3), np.float32), np.broadcast_to(np.int64(0), (1 << 20, 1 << 20))),
])
def test_a_zero_stride_input_gets_the_contiguity_error_before_any_allocation(call):
    with pytest.raises(ValueError, match=r"must be C-contiguous \(use numpy.ascontiguousarray\), got a strided view"):
        call()


# ---- the ops under test: arguments, roles and how to call them ----------------------------------
# Each argument: (name, role, kind, shape) with role 'in' | 'out' | 'inout' and kind 'f' (the
# op's float dtype) or 'i' (ids); shapes use the sizes B, D, H, V drawn per example.

ACTS = ("identity", "sigmoid", "tanh", "hardtanh", "relu")


class Op:
    def __init__(self, name, args, call, same_ok=(), ids_range="V"):
        self.name, self.args, self.call, self.same_ok, self.ids_range = name, args, call, set(same_ok), ids_range


OPS = [
    Op("activation_forward", [("x", "in", "f", "BD"), ("y", "out", "f", "BD")],
       lambda a, ref, k: _C.activation_forward(a["x"], a["y"], ACTS[k % 5], reference=ref), same_ok={("y", "x")}),
    Op("activation_backward", [("y", "in", "f", "BD"), ("dy", "in", "f", "BD"), ("dx", "out", "f", "BD")],
       lambda a, ref, k: _C.activation_backward(a["y"], a["dy"], a["dx"], ACTS[k % 5], reference=ref),
       same_ok={("dx", "dy")}),
    Op("softmax_forward", [("x", "in", "f", "BD"), ("y", "out", "f", "BD")],
       lambda a, ref, k: _C.softmax_forward(a["x"], a["y"], reference=ref), same_ok={("y", "x")}),
    Op("log_softmax_forward", [("x", "in", "f", "BD"), ("y", "out", "f", "BD")],
       lambda a, ref, k: _C.log_softmax_forward(a["x"], a["y"], reference=ref), same_ok={("y", "x")}),
    Op("softmax_backward", [("y", "in", "f", "BD"), ("dy", "in", "f", "BD"), ("dx", "out", "f", "BD")],
       lambda a, ref, k: _C.softmax_backward(a["y"], a["dy"], a["dx"], reference=ref), same_ok={("dx", "dy")}),
    Op("linear_forward", [("x", "in", "f", "BD"), ("W", "in", "f", "HD"), ("b", "in", "f", "H"),
                          ("y", "out", "f", "BH")],
       lambda a, ref, k: _C.linear_forward(a["x"], a["W"], a["b"], a["y"], ACTS[k % 5], reference=ref)),
    Op("linear_backward", [("x", "in", "f", "BD"), ("W", "in", "f", "HD"), ("y", "in", "f", "BH"),
                           ("dy", "in", "f", "BH"), ("dx", "out", "f", "BD"), ("dW", "inout", "f", "HD"),
                           ("db", "inout", "f", "H")],
       lambda a, ref, k: _C.linear_backward(a["x"], a["W"], a["y"], a["dy"], a["dx"], a["dW"], a["db"],
                                            "identity", k % 2 == 1, reference=ref)),
    Op("embedding_forward", [("W", "in", "f", "VD"), ("ids", "in", "i", "B"), ("y", "out", "f", "BD")],
       lambda a, ref, k: _C.embedding_forward(a["W"], a["ids"], a["y"], reference=ref)),
    Op("embedding_backward_dense", [("ids", "in", "i", "B"), ("dy", "in", "f", "BD"), ("dW", "inout", "f", "VD")],
       lambda a, ref, k: _C.embedding_backward_dense(a["ids"], a["dy"], a["dW"], reference=ref)),
    Op("sgd_update", [("p", "inout", "f", "BD"), ("g", "in", "f", "BD")],
       lambda a, ref, k: _C.sgd_update(a["p"], a["g"], 0.1, 0.01 * (k % 2), reference=ref)),
    Op("adagrad_update", [("p", "inout", "f", "BD"), ("g", "in", "f", "BD"), ("acc", "inout", "f", "BD")],
       lambda a, ref, k: _C.adagrad_update(a["p"], a["g"], a["acc"], 0.1, 1e-3, 0.0, reference=ref)),
    Op("sgd_update_sparse", [("P", "inout", "f", "VD"), ("ids", "in", "i", "B"), ("rows", "in", "f", "BD")],
       lambda a, ref, k: _C.sgd_update_sparse(a["P"], a["ids"], a["rows"], 0.1, 0.0, reference=ref)),
    Op("softmax_cross_entropy", [("logits", "in", "f", "BD"), ("targets", "in", "i", "B"),
                                 ("losses", "out", "f", "B"), ("dlogits", "out", "f", "BD")],
       lambda a, ref, k: _C.softmax_cross_entropy(a["logits"], a["targets"], a["losses"], a["dlogits"], -100,
                                                  reference=ref),
       same_ok={("dlogits", "logits")}, ids_range="D"),
]


def _shape(spec, sizes):
    return tuple(sizes[c] for c in spec)


def _values(rng, n, dtype, name):
    v = rng.uniform(-1.0, 1.0, n)
    if name == "acc":
        v = np.abs(v)   # an AdaGrad accumulator is a sum of squares
    return v.astype(dtype)


def _run_reference(op, args, k):
    """The op's reference kernel on private copies (aliases kept: one copy per distinct array);
    returns the copies of its outputs, or the exception it raised."""
    copies, by_id = {}, {}
    for name, a in args.items():
        if id(a) not in by_id:
            by_id[id(a)] = a.copy()
        copies[name] = by_id[id(a)]
    result = op.call(copies, True, k)
    return result, {name: copies[name] for name, role, _, _ in op.args if role != "in"}


def _check_same(op, got, want, dtype, what):
    atol, rtol = TOL[dtype]
    np.testing.assert_allclose(got, want, atol=atol, rtol=rtol, equal_nan=True, err_msg=f"{op.name}: {what}")


@st.composite
def overlapping_calls(draw):
    """An op, sizes, and its arguments: float ones are views of one shared buffer at drawn offsets
    (or, for the documented in-place pairs, sometimes the identical array); ids are valid."""
    op = draw(st.sampled_from(OPS), label="op")
    sizes = {c: draw(st.sampled_from([1, 2, 3, 5, 8, 9]), label=c) for c in "BDHV"}
    dtype = draw(st.sampled_from([np.float32, np.float64]), label="dtype")
    floats = [(n, _shape(s, sizes)) for n, _, kind, s in op.args if kind == "f"]
    total = sum(int(np.prod(shape)) for _, shape in floats)
    rng = np.random.default_rng(draw(st.integers(0, 2 ** 32 - 1), label="seed"))
    buf = _values(rng, total, dtype, "")
    args = {}
    for name, role, kind, spec in op.args:
        shape = _shape(spec, sizes)
        n = int(np.prod(shape))
        if kind == "i":
            high = sizes[op.ids_range]
            args[name] = rng.integers(0, high, size=shape).astype(draw(st.sampled_from([np.int32, np.int64])))
            continue
        alias = [i for o, i in op.same_ok if o == name and i in args and args[i].shape == shape]
        if alias and draw(st.booleans(), label=f"{name} is {alias[0]}"):
            args[name] = args[alias[0]]
            continue
        off = draw(st.integers(0, total - n), label=f"{name} offset")
        view = buf[off:off + n].reshape(shape)
        if name == "acc":
            view[...] = np.abs(view)
        args[name] = view
    return op, args, dtype, draw(st.integers(0, 9), label="k")


def _identical(a, b):
    """The same memory seen the same way (the same array, or another view of exactly it)."""
    return (a.__array_interface__["data"][0] == b.__array_interface__["data"][0] and a.shape == b.shape
            and a.strides == b.strides and a.dtype == b.dtype)


def _overlaps(op, args):
    """Every (output, other) pair sharing memory that the op does not document as safe."""
    bad = []
    for name, role, _, _ in op.args:
        if role == "in":
            continue
        for other, _, _, _ in op.args:
            if other == name or not np.may_share_memory(args[name], args[other]):
                continue
            if _identical(args[name], args[other]) and (name, other) in op.same_ok:
                continue
            bad.append(f"{name} overlaps {other}")
    return bad


@FUZZ
@given(call=overlapping_calls())
def test_overlapping_outputs_are_refused_or_the_result_is_the_references(call):
    op, args, dtype, k = call
    bad = _overlaps(op, args)
    before = {name: a.copy() for name, a in args.items()}
    if bad:
        with pytest.raises(ValueError, match=f"{op.name}: ({'|'.join(bad)}) in memory"):
            op.call(args, False, k)
        for name, a in args.items():   # refused before anything was written
            np.testing.assert_array_equal(a, before[name], err_msg=f"{op.name} wrote {name} and then refused")
        return
    ref_result, want = _run_reference(op, args, k)   # on copies, before the call changes anything
    result = op.call(args, False, k)
    if ref_result is not None:
        _check_same(op, np.float64(result), np.float64(ref_result), dtype, "returned value")
    for name, w in want.items():
        _check_same(op, args[name], w, dtype, name)


# ---- random shapes, strides and dtypes -----------------------------------------------------------

DAMAGE = ("none", "dtype", "strided", "shape", "ndim", "empty", "readonly")


@st.composite
def damaged_calls(draw):
    """An op with fresh arguments, one of them damaged: another dtype, a strided view, a wrong
    size, another ndim, empty, read-only."""
    op = draw(st.sampled_from(OPS), label="op")
    sizes = {c: draw(st.sampled_from([1, 2, 3, 7, 8, 9, 16, 17]), label=c) for c in "BDHV"}
    dtype = draw(st.sampled_from([np.float32, np.float64]), label="dtype")
    rng = np.random.default_rng(draw(st.integers(0, 2 ** 32 - 1), label="seed"))
    args = {}
    for name, role, kind, spec in op.args:
        shape = _shape(spec, sizes)
        if kind == "i":
            args[name] = rng.integers(0, sizes[op.ids_range], size=shape).astype(np.int64)
        else:
            args[name] = _values(rng, int(np.prod(shape)), dtype, name).reshape(shape)
    victim = draw(st.sampled_from([n for n, _, _, _ in op.args]), label="victim")
    damage = draw(st.sampled_from(DAMAGE), label="damage")
    a = args[victim]
    if damage == "dtype":
        a = a.astype(draw(st.sampled_from([np.float16, np.float32, np.float64, np.int32, np.int64, np.uint8,
                                           np.complex64, bool]), label="new dtype"))
    elif damage == "strided":
        big = np.repeat(a[..., None], 2, axis=-1) if a.ndim else a
        a = big[..., 0] if a.ndim else a        # every other element of a bigger array
    elif damage == "shape" and a.ndim:
        a = np.resize(a, a.shape[:-1] + (a.shape[-1] + draw(st.sampled_from([-1, 1, 5]), label="delta"),))
    elif damage == "ndim":
        a = a[None] if draw(st.booleans(), label="add") or a.ndim == 0 else a.reshape(-1)[:1].reshape(())
    elif damage == "empty":
        a = a.reshape(-1)[:0]
    elif damage == "readonly":
        a = a.copy()
        a.flags.writeable = False
    args[victim] = a
    return op, args, dtype, victim, damage


@FUZZ
@given(call=damaged_calls())
def test_damaged_arguments_get_a_documented_error_or_the_references_result(call):
    op, args, dtype, victim, damage = call
    before = {name: a.copy() for name, a in args.items()}
    try:
        result = op.call(args, False, 0)
    except (ValueError, TypeError) as e:
        assert damage != "none", f"{op.name}: refused valid arguments: {e}"
        assert str(e).startswith(op.name + ": "), f"the error does not name the op {op.name}: {e}"
        assert any(name in str(e) for name, _, _, _ in op.args), f"{op.name}: the error names no argument: {e}"
        for name, a in args.items():
            np.testing.assert_array_equal(a, before[name], err_msg=f"{op.name} wrote {name} and then refused")
        return
    # Accepted: the damage left a valid call (a size-1 axis strided, the same dtype, ...).
    ref_result, want = _run_reference(op, before, 0)
    if ref_result is not None:
        _check_same(op, np.float64(result), np.float64(ref_result), dtype, "returned value")
    for name, w in want.items():
        _check_same(op, args[name], w, dtype, name)
