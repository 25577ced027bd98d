"""Times the GPU path of the sequence ops (fastnlp.ops.conv1d / fastnlp.ops.rnn on CuPy arrays: cuBLAS
through CuPy plus fastnlp's fused unfold / pooling / gate kernels) against the same computation
written in plain CuPy (the same products, the gate math and pooling as CuPy elementwise
expressions), at the shapes of benchmarks/bench_sequence.py. Each case is warmed up, then timed
with CUDA events around every call; the table reports medians and the ratio CuPy / fastnlp measured
in the same run on the same GPU. Writes benchmarks/results/bench_sequence_cuda.{json,md}.

    python benchmarks/bench_sequence_cuda.py [--repeat 30] [--quick]
"""

import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(__file__))
from bench_cuda import run_gpu_benchmark  # noqa: E402
from common import bench_parser  # noqa: E402

from fastnlp import ops  # noqa: E402

F32 = np.float32


def cp_sigmoid(cp, v):
    return 1 / (1 + cp.exp(-v))


def cp_rnn_forward(cp, cell, x, W_ih, W_hh, b_ih, b_hh):
    """Plain CuPy, all sequences full length: returns (out, cache) with what the backward needs."""
    B, T, D = x.shape
    H = W_hh.shape[1]
    proj = (x.reshape(B * T, D) @ W_ih.T + b_ih).reshape(B, T, -1)
    h = cp.zeros((B, H), cp.float32)
    c = cp.zeros((B, H), cp.float32)
    out = cp.empty((B, T, H), cp.float32)
    saved = []
    for t in range(T):
        r = h @ W_hh.T + b_hh
        a = proj[:, t]
        if cell == "lstm":
            z = a + r
            i, f, g, o = cp_sigmoid(cp, z[:, :H]), cp_sigmoid(cp, z[:, H:2 * H]), cp.tanh(z[:, 2 * H:3 * H]), \
                cp_sigmoid(cp, z[:, 3 * H:])
            saved.append((h, c, i, f, g, o))
            c = f * c + i * g
            h = o * cp.tanh(c)
            saved[-1] += (c,)
        else:  # gru
            rr = cp_sigmoid(cp, a[:, :H] + r[:, :H])
            zz = cp_sigmoid(cp, a[:, H:2 * H] + r[:, H:2 * H])
            hl = r[:, 2 * H:]
            n = cp.tanh(a[:, 2 * H:] + rr * hl)
            saved.append((h, rr, zz, n, hl))
            h = (1 - zz) * n + zz * h
        out[:, t] = h
    return out, saved


def cp_rnn_backward(cp, cell, x, W_ih, W_hh, saved, dout):
    B, T, D = x.shape
    H = W_hh.shape[1]
    dh = cp.zeros((B, H), cp.float32)
    dc = cp.zeros((B, H), cp.float32)
    G = W_hh.shape[0] // H
    d_in = cp.empty((B, T, G * H), cp.float32)
    d_rec = cp.empty((B, T, G * H), cp.float32)
    hs = cp.empty((B, T, H), cp.float32)
    for t in reversed(range(T)):
        dht = dh + dout[:, t]
        if cell == "lstm":
            hp, cp_, i, f, g, o, cn = saved[t]
            tc = cp.tanh(cn)
            dcc = dc + dht * o * (1 - tc * tc)
            da = cp.concatenate([dcc * g * i * (1 - i), dcc * cp_ * f * (1 - f), dcc * i * (1 - g * g),
                                 dht * tc * o * (1 - o)], axis=1)
            dc = dcc * f
            d_in[:, t] = da
            d_rec[:, t] = da
            dh = da @ W_hh
        else:
            hp, rr, zz, n, hl = saved[t]
            dn = dht * (1 - zz) * (1 - n * n)
            dzz = dht * (hp - n) * zz * (1 - zz)
            dr = dn * hl * rr * (1 - rr)
            d_in[:, t] = cp.concatenate([dr, dzz, dn], axis=1)
            d_rec[:, t] = cp.concatenate([dr, dzz, dn * rr], axis=1)
            dh = d_rec[:, t] @ W_hh + dht * zz
        hs[:, t] = hp
    di, dr_ = d_in.reshape(B * T, -1), d_rec.reshape(B * T, -1)
    return (di @ W_ih, di.T @ x.reshape(B * T, D), dr_.T @ hs.reshape(B * T, H), di.sum(0), dr_.sum(0))


def cases(cp, rng, quick):
    """Yields (name, fastnlp_fn, cupy_fn)."""

    def randn(*shape, s=1.0):
        return cp.asarray((rng.standard_normal(shape) * s).astype(F32))

    # ---- conv + max-pool (B=64, T=50, D=300, k=3, H=100), and a larger batch
    for B, T, D, K, H in ([(64, 50, 300, 3, 100)] + ([] if quick else [(512, 50, 300, 3, 100)])):
        x, W, b = randn(B, T, D), randn(H, K * D, s=0.05), randn(H)
        T_out = T - K + 1

        def cp_conv_max(x=x, W=W, b=b, B=B, T_out=T_out):
            cols = cp.lib.stride_tricks.as_strided(x, (B, T_out, K * D), (x.strides[0], x.strides[1], x.strides[2]))
            z = cols.reshape(B * T_out, K * D) @ W.T
            z = z.reshape(B, T_out, H)
            am = z.argmax(1)
            return cp.tanh(z.max(1) + b), am

        yield (f"conv+max fwd (B={B}, T={T}, D={D}, k={K}, H={H})",
               lambda x=x, W=W, b=b: ops.conv1d(x, W, b, None, "narrow", "tanh", "max"), cp_conv_max)
        pooled, argmax = ops.conv1d(x, W, b, None, "narrow", "tanh", "max")
        dy = randn(B, H)

        def cp_conv_max_bwd(x=x, W=W, B=B, T_out=T_out, pooled=pooled, argmax=argmax, dy=dy):
            g = dy * (1 - pooled * pooled)
            dz = cp.zeros((B, T_out, H), cp.float32)
            dz[cp.arange(B)[:, None], argmax, cp.arange(H)[None, :]] = g
            cols = cp.lib.stride_tricks.as_strided(x, (B, T_out, K * D), (x.strides[0], x.strides[1], x.strides[2]))
            dz2 = dz.reshape(-1, H)
            dW = dz2.T @ cols.reshape(-1, K * D)
            dcols = (dz2 @ W).reshape(B, T_out, K, D)
            dx = cp.zeros_like(x)
            for j in range(K):
                dx[:, j:j + T_out] += dcols[:, :, j]
            return dx, dW, g.sum(0)

        yield (f"conv+max bwd (B={B}, T={T}, D={D}, k={K}, H={H})",
               lambda x=x, W=W, dy=dy, p=pooled, a=argmax: ops.conv1d_backward(
                   x, W, dy, None, "narrow", "tanh", "max", pooled=p, argmax=a), cp_conv_max_bwd)

    # ---- LSTM / GRU (B=32, T=50, D=100, H=256) and latency (B=1, T=100)
    shapes = [(32, 50, 100, 256)] + ([] if quick else [(1, 100, 100, 256), (128, 50, 300, 512)])
    for cell, G in (("lstm", 4), ("gru", 3)):
        for B, T, D, H in shapes:
            s = 1 / np.sqrt(H)
            x = randn(B, T, D)
            W_ih, W_hh = randn(G * H, D, s=s), randn(G * H, H, s=s)
            b_ih, b_hh = randn(G * H, s=s), randn(G * H, s=s)
            dout = randn(B, T, H)
            tag = f"{cell} (B={B}, T={T}, D={D}, H={H})"

            def f_fwd(cell=cell, x=x, W_ih=W_ih, W_hh=W_hh, b_ih=b_ih, b_hh=b_hh):
                return ops.rnn(cell, x, W_ih, W_hh, b_ih, b_hh, need_workspace=False)

            def c_fwd(cell=cell, x=x, W_ih=W_ih, W_hh=W_hh, b_ih=b_ih, b_hh=b_hh):
                return cp_rnn_forward(cp, cell, x, W_ih, W_hh, b_ih, b_hh)

            def f_both(cell=cell, x=x, W_ih=W_ih, W_hh=W_hh, b_ih=b_ih, b_hh=b_hh, dout=dout):
                _, _, _, ws = ops.rnn(cell, x, W_ih, W_hh, b_ih, b_hh)
                return ops.rnn_backward(cell, x, W_ih, W_hh, ws, dout, b_ih=b_ih, b_hh=b_hh, need_dh0=False)

            def c_both(cell=cell, x=x, W_ih=W_ih, W_hh=W_hh, b_ih=b_ih, b_hh=b_hh, dout=dout):
                _, saved = cp_rnn_forward(cp, cell, x, W_ih, W_hh, b_ih, b_hh)
                return cp_rnn_backward(cp, cell, x, W_ih, W_hh, saved, dout)

            yield f"{tag} fwd", f_fwd, c_fwd
            yield f"{tag} fwd+bwd", f_both, c_both


def main(argv=None):
    args = bench_parser(__doc__, "fewer shapes, 2 rounds", repeat=10, rounds=5, warmup=3).parse_args(argv)

    run_gpu_benchmark("bench_sequence_cuda", cases, args,
                      note="the RNN times include the per-step Python loop (kernel launches) on both sides.")

if __name__ == "__main__":
    main()
