"""The cases bench_ops.py times: each fastnlp kernel (forward, and forward+backward) beside the same
computation in NumPy and in PyTorch CPU, each peer at its best idiom (the fairness rules are at the
top of bench_ops.py), on shapes typical of NLP models. cases(rng, quick) yields them in the table's
order, as one generator because buffers flow down it: dropout runs on the activations' 1M arrays,
the optimizers on the embedding's rows, Adam and AdaDelta on the optimizers' parameters, all drawn
from one rng in that order.
"""

import numpy as np

from fastnlp import ops

try:
    import torch
except ImportError:  # torch is an optional peer
    torch = None

F32 = np.float32


# ---- NumPy peers, at their best idiom -------------------------------------------------------------

def np_act(x, act, out):
    if act == "sigmoid":
        np.negative(x, out=out)
        np.exp(out, out=out)
        out += 1
        return np.reciprocal(out, out=out)
    if act == "tanh":
        return np.tanh(x, out=out)
    if act == "relu":
        return np.maximum(x, 0, out=out)
    if act == "hardtanh":
        return np.clip(x, -1, 1, out=out)
    raise ValueError(act)


def np_dact(y, dy, act, out, tmp, mask):
    if act == "sigmoid":  # dy * y * (1 - y)
        np.subtract(1, y, out=tmp)
        tmp *= y
        return np.multiply(tmp, dy, out=out)
    if act == "tanh":  # dy * (1 - y^2)
        np.multiply(y, y, out=tmp)
        np.subtract(1, tmp, out=tmp)
        return np.multiply(tmp, dy, out=out)
    if act == "relu":
        np.greater(y, 0, out=mask)
        return np.multiply(dy, mask, out=out)
    if act == "hardtanh":  # |y| < 1
        np.abs(y, out=tmp)
        np.less(tmp, 1, out=mask)
        return np.multiply(dy, mask, out=out)
    raise ValueError(act)


def np_segment_sum(ids, rows):
    """(unique ids ascending, summed rows): stable sort, then one np.add.reduceat over the runs."""
    order = np.argsort(ids, kind="stable")
    s = ids[order]
    starts = np.flatnonzero(np.concatenate(([True], s[1:] != s[:-1])))
    return s[starts], np.add.reduceat(rows[order], starts, axis=0)


def t_act(z, act, out=None):
    if act == "sigmoid":
        return torch.sigmoid(z, out=out) if out is not None else torch.sigmoid(z)
    if act == "tanh":
        return torch.tanh(z, out=out) if out is not None else torch.tanh(z)
    if act == "relu":
        return torch.clamp(z, min=0, out=out) if out is not None else torch.relu(z)
    if act == "hardtanh":
        return torch.clamp(z, -1, 1, out=out) if out is not None else torch.nn.functional.hardtanh(z)
    raise ValueError(act)


def t_grad(outputs, inputs, grad=None):
    """torch's backward for a user who wants gradients, not .grad accumulation."""
    return torch.autograd.grad(outputs, inputs, grad)


def inference(fn):
    def run():
        with torch.inference_mode():
            return fn()
    return run


# ---- cases ------------------------------------------------------------------------------------

def cases(rng, quick):
    """Yields dicts: name, kind ('fused' or 'gemm'), fastnlp, numpy, torch (or None), and check:
    None, or a pair of callables mapping the outputs of fastnlp and numpy (and torch) calls to arrays
    that must agree."""
    scale = 4 if quick else 1
    # ---- activations on 1M elements
    n = 1_000_000 // scale
    size = f"{n // 10**6}M" if n % 10**6 == 0 else f"{n // 1000}k"
    x = rng.standard_normal(n).astype(F32)
    dy = rng.standard_normal(n).astype(F32)
    out, dx = np.empty_like(x), np.empty_like(x)
    n_out, n_dx, n_tmp, n_mask = np.empty_like(x), np.empty_like(x), np.empty_like(x), np.empty(n, bool)
    if torch:
        tx, tdy, tout = torch.from_numpy(x), torch.from_numpy(dy), torch.empty(n)
        tleaf = tx.detach().clone().requires_grad_()
    for act in ("sigmoid", "tanh", "hardtanh", "relu"):
        yield dict(name=f"{act} fwd ({size})", kind="fused",
                   fastnlp=lambda a=act: ops.activation(x, a, out=out),
                   numpy=lambda a=act: np_act(x, a, n_out),
                   torch=inference(lambda a=act: t_act(tx, a, out=tout)) if torch else None, check=True)

        def f_fb(a=act):
            ops.activation(x, a, out=out)
            return ops.activation_backward(out, dy, a, out=dx)

        def n_fb(a=act):
            return np_dact(np_act(x, a, n_out), dy, a, n_dx, n_tmp, n_mask)

        def t_fb(a=act):
            return t_grad(t_act(tleaf, a), tleaf, tdy)[0]

        yield dict(name=f"{act} fwd+bwd ({size})", kind="fused", fastnlp=f_fb, numpy=n_fb,
                   torch=t_fb if torch else None, check=True)

    # ---- linear + activation, x (256, 300) -> 300
    B, D, H = 256, 300, 300
    xl = rng.standard_normal((B, D)).astype(F32)
    W = (rng.standard_normal((H, D)) * 0.05).astype(F32)
    b = (rng.standard_normal(H) * 0.1).astype(F32)
    dyl = rng.standard_normal((B, H)).astype(F32)
    yl, n_yl = np.empty((B, H), F32), np.empty((B, H), F32)
    n_dz, n_tmp2, n_mask2 = np.empty((B, H), F32), np.empty((B, H), F32), np.empty((B, H), bool)
    n_dxl, n_dW, n_db = np.empty((B, D), F32), np.empty((H, D), F32), np.empty(H, F32)
    if torch:
        txl, tW, tb, tdyl = (torch.from_numpy(v) for v in (xl, W, b, dyl))
        lx, lW, lb = (v.detach().clone().requires_grad_() for v in (txl, tW, tb))
        t_yl = torch.empty(B, H)
    dW, db = np.empty_like(W), np.empty_like(b)

    def n_linear(a):
        np.matmul(xl, W.T, out=n_yl)
        np.add(n_yl, b, out=n_yl)
        return np_act(n_yl, a, n_yl)

    for act in ("tanh", "relu", "hardtanh", "sigmoid"):
        def t_lin(a=act):
            torch.addmm(tb, txl, tW.t(), out=t_yl)
            return t_act(t_yl, a, out=t_yl)

        yield dict(name=f"linear+{act} fwd ({B}x{D}->{H})", kind="fused",
                   fastnlp=lambda a=act: ops.linear(xl, W, b, a, out=yl), numpy=lambda a=act: n_linear(a),
                   torch=inference(t_lin) if torch else None, check=True)

        def f_fb(a=act):
            ops.linear(xl, W, b, a, out=yl)
            return ops.linear_backward(xl, W, yl, dyl, a, dW=dW, db=db)

        def n_fb(a=act):
            y = n_linear(a)
            dz = np_dact(y, dyl, a, n_dz, n_tmp2, n_mask2)
            np.matmul(dz, W, out=n_dxl)
            np.matmul(dz.T, xl, out=n_dW)
            np.sum(dz, axis=0, out=n_db)
            return n_dxl, n_dW, n_db

        def t_fb(a=act):
            y = t_act(torch.nn.functional.linear(lx, lW, lb), a)
            return t_grad(y, (lx, lW, lb), tdyl)

        yield dict(name=f"linear+{act} fwd+bwd ({B}x{D}->{H})", kind="fused", fastnlp=f_fb, numpy=n_fb,
                   torch=t_fb if torch else None, check=True)

    # ---- GEMM-bound: a big identity linear, where the epilogue is negligible
    Bg, Dg, Hg = (1024, 1024, 1024) if not quick else (256, 512, 512)
    xg = rng.standard_normal((Bg, Dg)).astype(F32)
    Wg = rng.standard_normal((Hg, Dg)).astype(F32)
    bg = rng.standard_normal(Hg).astype(F32)
    yg, n_yg = np.empty((Bg, Hg), F32), np.empty((Bg, Hg), F32)
    if torch:
        txg, tWg, tbg, t_yg = torch.from_numpy(xg), torch.from_numpy(Wg), torch.from_numpy(bg), torch.empty(Bg, Hg)

    def n_gemm():
        np.matmul(xg, Wg.T, out=n_yg)
        np.add(n_yg, bg, out=n_yg)
        return n_yg

    yield dict(name=f"linear fwd ({Bg}x{Dg}->{Hg})", kind="gemm", fastnlp=lambda: ops.linear(xg, Wg, bg, out=yg),
               numpy=n_gemm, torch=inference(lambda: torch.addmm(tbg, txg, tWg.t(), out=t_yg)) if torch else None,
               check=True)

    # ---- softmax family over 50,000 classes for 128 rows
    Bs, V = 128, 50_000 // scale
    logits = (rng.standard_normal((Bs, V)) * 3).astype(F32)
    targets = rng.integers(0, V, Bs).astype(np.int64)
    ys = np.empty_like(logits)
    n_e, n_t = np.empty_like(logits), np.empty_like(logits)
    if torch:
        tl, tt, t_ys = torch.from_numpy(logits), torch.from_numpy(targets), torch.empty(Bs, V)
        ll = tl.detach().clone().requires_grad_()

    def np_softmax():
        np.subtract(logits, logits.max(1, keepdims=True), out=n_e)
        np.exp(n_e, out=n_e)
        np.divide(n_e, n_e.sum(1, keepdims=True), out=n_e)
        return n_e

    def np_log_softmax():
        np.subtract(logits, logits.max(1, keepdims=True), out=n_t)
        np.exp(n_t, out=n_e)
        np.subtract(n_t, np.log(n_e.sum(1, keepdims=True)), out=n_t)
        return n_t

    yield dict(name=f"softmax fwd ({Bs}x{V})", kind="fused", fastnlp=lambda: ops.softmax(logits, out=ys),
               numpy=np_softmax, torch=inference(lambda: torch.softmax(tl, 1, out=t_ys)) if torch else None, check=True)
    yield dict(name=f"log_softmax fwd ({Bs}x{V})", kind="fused", fastnlp=lambda: ops.log_softmax(logits, out=ys),
               numpy=np_log_softmax, torch=inference(lambda: torch.log_softmax(tl, 1, out=t_ys)) if torch else None,
               check=True)
    rows_b = np.arange(Bs)

    def n_ce():
        ls = np_log_softmax()
        loss = -ls[rows_b, targets].mean()
        np.exp(ls, out=n_e)
        n_e[rows_b, targets] -= 1
        np.divide(n_e, Bs, out=n_e)
        return n_e

    def t_ce():
        return t_grad(torch.nn.functional.cross_entropy(ll, tt), ll)[0]

    dlog = np.empty_like(logits)
    yield dict(name=f"softmax+cross-entropy fwd+bwd ({Bs}x{V})", kind="fused",
               fastnlp=lambda: ops.softmax_cross_entropy(logits, targets, grad_out=dlog)[1], numpy=n_ce,
               torch=t_ce if torch else None, check=True)

    # ---- sampled softmax: B=128, H=300, V=50k, K=512
    Hs, K = 300, 512
    h = rng.standard_normal((Bs, Hs)).astype(F32) * 0.1
    Wo = rng.standard_normal((V, Hs)).astype(F32) * 0.1
    bo = np.zeros(V, F32)
    samples = rng.integers(0, V, K).astype(np.int64)
    lq_t = np.full(Bs, np.log(K / V), F32)
    lq_s = np.full(K, np.log(K / V), F32)
    hit = samples[None, :] == targets[:, None]

    def n_sampled():
        Ws = np.take(Wo, samples, axis=0)
        Wt = np.take(Wo, targets, axis=0)
        z = np.empty((Bs, K + 1), F32)
        np.matmul(h, Ws.T, out=z[:, 1:])
        z[:, 1:] += bo[samples] - lq_s
        z[:, 0] = np.einsum("bh,bh->b", h, Wt) + bo[targets] - lq_t
        z[:, 1:][hit] = -np.inf
        z -= z.max(1, keepdims=True)
        np.exp(z, out=z)
        z /= z.sum(1, keepdims=True)
        loss = -np.log(z[:, 0]).mean()
        z[:, 0] -= 1
        z /= Bs
        dh = z[:, 1:] @ Ws + z[:, :1] * Wt
        # the sparse output-layer gradient as fastnlp returns it: rows for concat(targets, samples)
        rows = np.concatenate([z[:, :1] * h, z[:, 1:].T @ h])
        return loss, dh, rows, np.concatenate([z[:, 0], z[:, 1:].sum(0)])

    def f_sampled():
        r = ops.sampled_softmax(h, Wo, bo, targets, samples, lq_t, lq_s)
        return r.loss, r.dh, r.grad_rows, r.grad_bias

    yield dict(name=f"sampled softmax fwd+bwd (B={Bs}, H={Hs}, V={V}, K={K})", kind="fused",
               fastnlp=f_sampled, numpy=n_sampled, torch=None, check=True)

    # ---- embedding: V=100k, D=300, a batch of 256 x 50 ids (Zipf-like repeats)
    Ve, De, N = 100_000 // scale, 300, 256 * 50 // scale
    E = rng.standard_normal((Ve, De)).astype(F32)
    ids = np.minimum(rng.zipf(1.2, N) - 1, Ve - 1).astype(np.int64)
    dye = rng.standard_normal((N, De)).astype(F32)
    oute, n_oute = np.empty((N, De), F32), np.empty((N, De), F32)
    dE, n_dE = np.zeros_like(E), np.zeros_like(E)
    if torch:
        tE, tids, tdye, t_oute, t_dE = (torch.from_numpy(E), torch.from_numpy(ids), torch.from_numpy(dye),
                                        torch.empty(N, De), torch.zeros(Ve, De))
    yield dict(name=f"embedding fwd (N={N}, D={De})", kind="fused", fastnlp=lambda: ops.embedding(E, ids, out=oute),
               numpy=lambda: np.take(E, ids, axis=0, out=n_oute),
               torch=inference(lambda: torch.index_select(tE, 0, tids, out=t_oute)) if torch else None, check=True)

    def t_sparse():  # torch's sparse gradient of an embedding, with its repeated rows summed
        return torch.sparse_coo_tensor(tids[None], tdye, (Ve, De)).coalesce()

    yield dict(name=f"embedding bwd sparse (N={N}, D={De})", kind="fused",
               fastnlp=lambda: ops.embedding_backward_sparse(ids, dye), numpy=lambda: np_segment_sum(ids, dye),
               torch=inference(t_sparse) if torch else None, check="sparse")

    def n_dense():
        u, rows = np_segment_sum(ids, dye)
        n_dE[u] += rows
        return n_dE

    # Every library accumulates into its own dW across calls (not zeroed): the check compares each
    # one's first call, from zero.
    yield dict(name=f"embedding bwd dense scatter-add (N={N}, V={Ve}, D={De})", kind="fused",
               fastnlp=lambda: ops.embedding_backward(ids, dye, dE), numpy=n_dense,
               torch=inference(lambda: t_dE.index_add_(0, tids, tdye)) if torch else None, check=True)

    # ---- optimizers: dense on 1M parameters, sparse rows of the embedding above (state mutates in
    # place across calls for every library alike: each call is one step)
    npar = 1_000_000 // scale
    psize = f"{npar // 10**6}M" if npar % 10**6 == 0 else f"{npar // 1000}k"
    p = rng.standard_normal(npar).astype(F32)
    g = rng.standard_normal(npar).astype(F32) * 1e-3
    acc = np.full(npar, 0.1, F32)
    n_p, n_acc = p.copy(), acc.copy()
    t1, t2 = np.empty_like(p), np.empty_like(p)
    lr, eps, wd = 1e-4, 1e-8, 1e-6
    if torch:
        tp, tg, tacc = torch.from_numpy(p.copy()), torch.from_numpy(g), torch.from_numpy(acc.copy())

    def n_sgd():  # p -= lr * (g + wd * p)
        np.multiply(n_p, wd, out=t1)
        np.add(t1, g, out=t1)
        np.multiply(t1, lr, out=t1)
        np.subtract(n_p, t1, out=n_p)

    def n_adagrad():
        np.multiply(n_p, wd, out=t1)
        np.add(t1, g, out=t1)
        np.multiply(t1, t1, out=t2)
        np.add(n_acc, t2, out=n_acc)
        np.sqrt(n_acc, out=t2)
        np.add(t2, eps, out=t2)
        np.divide(t1, t2, out=t1)
        np.multiply(t1, lr, out=t1)
        np.subtract(n_p, t1, out=n_p)

    def t_sgd():
        tp.mul_(1 - lr * wd).add_(tg, alpha=-lr)

    def t_adagrad():  # torch.optim.Adagrad's single-tensor step, written out
        gg = tg.add(tp, alpha=wd)
        tacc.addcmul_(gg, gg)
        tp.addcdiv_(gg, tacc.sqrt().add_(eps), value=-lr)

    yield dict(name=f"sgd update ({psize})", kind="fused", fastnlp=lambda: ops.sgd_update(p, g, lr, wd),
               numpy=n_sgd, torch=inference(t_sgd) if torch else None, check=None)
    yield dict(name=f"adagrad update ({psize})", kind="fused",
               fastnlp=lambda: ops.adagrad_update(p, g, acc, lr, eps, wd), numpy=n_adagrad,
               torch=inference(t_adagrad) if torch else None, check=None)

    accE = np.full_like(E, 0.1)
    n_E, n_accE = E.copy(), accE.copy()

    def n_adagrad_sparse():
        u, rows = np_segment_sum(ids, dye)
        rows += wd * n_E[u]
        a = n_accE[u]
        a += rows * rows
        n_accE[u] = a
        n_E[u] -= lr * rows / (np.sqrt(a) + eps)

    yield dict(name=f"adagrad sparse rows (N={N}, D={De})", kind="fused",
               fastnlp=lambda: ops.adagrad_update_sparse(E, accE, ids, dye, lr, eps, wd), numpy=n_adagrad_sparse,
               torch=None, check=None)

    if not hasattr(ops, "dropout"):  # a build from before dropout/Adam/AdaDelta (compare_builds.py runs those)
        return

    # ---- dropout on the 1M activations above: forward drawing a fresh mask (p = 0.5), and the
    # backward through a given mask (checked against the peers)
    pd, keep = 0.5, F32(0.5)
    mask = np.empty(n, np.uint8)
    n_u, n_keep = np.empty(n, F32), np.empty(n, bool)
    gen = np.random.default_rng(1)
    seeds = iter(range(1, 1 << 62))

    def n_dropout():  # uniform floats, compare, multiply, scale: NumPy's fastest spelling with out=
        gen.random(n, dtype=F32, out=n_u)
        np.greater_equal(n_u, pd, out=n_keep)
        np.multiply(x, n_keep, out=n_out)
        return np.divide(n_out, keep, out=n_out)

    _, given = ops.dropout(x, pd, seed=7)

    def n_dropout_bwd():
        np.multiply(dy, given, out=n_dx)
        return np.divide(n_dx, keep, out=n_dx)

    if torch:
        t_given = torch.from_numpy(given.astype(bool))

    yield dict(name=f"dropout fwd ({size})", kind="fused",
               fastnlp=lambda: ops.dropout(x, pd, seed=next(seeds), out=out), numpy=n_dropout,
               torch=inference(lambda: torch.nn.functional.dropout(tx, pd, training=True)) if torch else None,
               check=None)
    yield dict(name=f"dropout bwd ({size})", kind="fused",
               fastnlp=lambda: ops.dropout_backward(dy, given, pd, out=dx), numpy=n_dropout_bwd,
               torch=inference(lambda: torch.ops.aten.native_dropout_backward(tdy, t_given, 1 / (1 - pd)))
               if torch else None, check=True)

    # ---- Adam and AdaDelta on the 1M parameters above (each call one step; the step count grows)
    b1, b2 = 0.9, 0.999
    m1, v1, n_m, n_v = (np.zeros(npar, F32) for _ in range(4))
    ag, adx, n_ag, n_adx = (np.zeros(npar, F32) for _ in range(4))
    steps = {"fastnlp": 0, "numpy": 0, "torch": 0}

    def f_adam():
        steps["fastnlp"] += 1
        ops.adam_update(p, g, m1, v1, steps["fastnlp"], lr, b1, b2, eps, wd)

    def n_adam():
        steps["numpy"] += 1
        t = steps["numpy"]
        np.multiply(n_p, wd, out=t1)
        np.add(t1, g, out=t1)  # g' = g + wd p
        np.multiply(n_m, b1, out=n_m)
        np.multiply(t1, 1 - b1, out=t2)
        np.add(n_m, t2, out=n_m)
        np.multiply(n_v, b2, out=n_v)
        np.multiply(t1, t1, out=t2)
        np.multiply(t2, 1 - b2, out=t2)
        np.add(n_v, t2, out=n_v)
        np.sqrt(n_v, out=t2)
        np.divide(t2, np.sqrt(1 - b2**t), out=t2)
        np.add(t2, eps, out=t2)
        np.divide(n_m, t2, out=t1)
        np.multiply(t1, lr / (1 - b1**t), out=t1)
        np.subtract(n_p, t1, out=n_p)

    def n_adadelta():
        np.multiply(n_p, wd, out=t1)
        np.add(t1, g, out=t1)
        np.multiply(n_ag, 0.95, out=n_ag)
        np.multiply(t1, t1, out=t2)
        np.multiply(t2, 0.05, out=t2)
        np.add(n_ag, t2, out=n_ag)
        np.add(n_adx, 1e-6, out=t2)
        np.sqrt(t2, out=t2)
        np.multiply(t1, t2, out=t1)
        np.add(n_ag, 1e-6, out=t2)
        np.sqrt(t2, out=t2)
        np.divide(t1, t2, out=t1)  # dx
        np.multiply(n_adx, 0.95, out=n_adx)
        np.multiply(t1, t1, out=t2)
        np.multiply(t2, 0.05, out=t2)
        np.add(n_adx, t2, out=n_adx)
        np.subtract(n_p, t1, out=n_p)

    if torch:
        tm, tv, tag, tadx = (torch.zeros(npar) for _ in range(4))

        def t_adam():  # torch.optim.Adam's single-tensor step, written out
            steps["torch"] += 1
            t = steps["torch"]
            gg = tg.add(tp, alpha=wd)
            tm.lerp_(gg, 1 - b1)
            tv.mul_(b2).addcmul_(gg, gg, value=1 - b2)
            denom = (tv.sqrt() / (1 - b2**t) ** 0.5).add_(eps)
            tp.addcdiv_(tm, denom, value=-lr / (1 - b1**t))

        def t_adadelta():  # torch.optim.Adadelta's single-tensor step, written out
            gg = tg.add(tp, alpha=wd)
            tag.mul_(0.95).addcmul_(gg, gg, value=0.05)
            std = tag.add(1e-6).sqrt_()
            delta = tadx.add(1e-6).sqrt_().div_(std).mul_(gg)
            tadx.mul_(0.95).addcmul_(delta, delta, value=0.05)
            tp.add_(delta, alpha=-1.0)

    yield dict(name=f"adam update ({psize})", kind="fused", fastnlp=f_adam, numpy=n_adam,
               torch=inference(t_adam) if torch else None, check=None)
    yield dict(name=f"adadelta update ({psize})", kind="fused",
               fastnlp=lambda: ops.adadelta_update(p, g, ag, adx, 1.0, 0.95, 1e-6, wd), numpy=n_adadelta,
               torch=inference(t_adadelta) if torch else None, check=None)

    mE, vE, n_mE, n_vE = (np.zeros_like(E) for _ in range(4))
    sparse_steps = {"fastnlp": 0, "numpy": 0}

    def f_adam_sparse():
        sparse_steps["fastnlp"] += 1
        ops.adam_update_sparse(E, mE, vE, ids, dye, sparse_steps["fastnlp"], lr, b1, b2, eps, wd)

    def n_adam_sparse():
        sparse_steps["numpy"] += 1
        t = sparse_steps["numpy"]
        u, rows = np_segment_sum(ids, dye)
        rows += wd * n_E[u]
        mu = n_mE[u] * b1 + (1 - b1) * rows
        vu = n_vE[u] * b2 + (1 - b2) * rows * rows
        n_mE[u], n_vE[u] = mu, vu
        n_E[u] -= lr / (1 - b1**t) * mu / (np.sqrt(vu) / np.sqrt(1 - b2**t) + eps)

    yield dict(name=f"adam sparse rows (N={N}, D={De})", kind="fused", fastnlp=f_adam_sparse, numpy=n_adam_sparse,
               torch=None, check=None)
