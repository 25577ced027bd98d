"""RNN language model against PyTorch CPU: Zaremba et al.'s small LSTM LM (2 x 200, 10k-word PTB
vocabulary, batch 20, 20-step BPTT, full softmax) in fastnlp and the identical model in PyTorch
(fastnlp.lm.torch_mirror: weights copied; one segment's loss, next state and every gradient
checked equal first). Then, in interleaved rounds at the same thread count, in words/s:
training over a slice of the PTB training epoch (forward, backward, clipping to norm 5, SGD; state
carried across segments) and evaluation over a slice of PTB valid (batch 10, 50-step segments,
forward + per-token loss, no gradient: the output layer fused, ops.linear_cross_entropy). A
cProfile of fastnlp's training and evaluation steps splits their time into the output layer (GEMMs
+ softmax), the recurrent kernels, the update and the Python around them.
Writes benchmarks/results/lm.{json,md}.

    python benchmarks/bench_lm.py [--threads 1 2] [--steps 30] [--quick]
"""

import cProfile
import os
import pstats
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import RESULTS, Run, bench_parser, fmt, fmt_x, interleaved, per_second, ratio, set_threads, table  # noqa: E402

TARGETS = {"train": 1.2, "eval": 1.5}  # issue 16: fastnlp / PyTorch words per second
B_TRAIN, T_TRAIN, B_EVAL, T_EVAL = 20, 20, 10, 50


def check_equal(lm, m, torch, x, y):
    """One training segment on both sides (dropout off, as in the small model): loss, state and
    gradients equal. Returns the largest differences seen."""
    from fastnlp.lm.torch_mirror import torch_grads

    loss, state = lm.loss_and_grad(x, y, None, scale=x.shape[1])
    m.zero_grad()
    logits, tstate = m(torch.from_numpy(x))
    tloss = torch.nn.functional.cross_entropy(logits, torch.from_numpy(y).reshape(-1))
    (tloss * x.shape[1]).backward()
    np.testing.assert_allclose(loss, tloss.item(), rtol=1e-5)
    np.testing.assert_allclose(state[0], tstate[0].detach().numpy(), rtol=1e-4, atol=1e-5)
    worst = 0.0
    for p, g in zip(lm.parameters(), torch_grads(m, lm)):
        ours = np.zeros_like(p.value) if p.grad is None else p.grad.copy()
        if p.sparse_grad is not None:
            np.add.at(ours, *p.sparse_grad)
        np.testing.assert_allclose(ours, g, rtol=1e-3, atol=1e-5, err_msg=p.name)
        worst = max(worst, float(np.abs(ours - g).max()))
    m.zero_grad()
    return {"loss_abs_diff": abs(loss - tloss.item()), "grad_max_abs_diff": worst}


def timers(lm, m, torch, train, valid, steps, eval_steps, lr=1.0, max_norm=5.0):
    from fastnlp import ops, optim

    opt = optim.SGD(lm.parameters(), lr=lr)
    t_opt = torch.optim.SGD(m.parameters(), lr=lr)
    segs = [(train[:, i:i + T_TRAIN], train[:, i + 1:i + 1 + T_TRAIN]) for i in range(0, steps * T_TRAIN, T_TRAIN)]
    t_segs = [(torch.from_numpy(x), torch.from_numpy(y).reshape(-1)) for x, y in segs]
    evs = [(valid[:, i:i + T_EVAL], valid[:, i + 1:i + 1 + T_EVAL]) for i in range(0, eval_steps * T_EVAL, T_EVAL)]
    t_evs = [(torch.from_numpy(x), torch.from_numpy(y).reshape(-1)) for x, y in evs]

    def f_train():
        state = None
        for x, y in segs:
            _, state = lm.loss_and_grad(x, y, state, scale=T_TRAIN)
            ops.clip_grad_norm(lm.parameters(), max_norm)
            opt.step()

    def t_train():
        state = None
        m.train()
        for x, y in t_segs:
            t_opt.zero_grad()
            logits, state = m(x, state)
            state = tuple(s.detach() for s in state)
            (torch.nn.functional.cross_entropy(logits, y) * T_TRAIN).backward()
            torch.nn.utils.clip_grad_norm_(m.parameters(), max_norm)
            t_opt.step()

    def f_eval():
        state = None
        for x, y in evs:
            top, state = lm.forward(x, state)
            lm._nll_sum(top, y)

    def t_eval():
        m.eval()
        state = None
        with torch.inference_mode():
            for x, y in t_evs:
                logits, state = m(x, state)
                torch.nn.functional.cross_entropy(logits, y, reduction="sum").item()

    return {"train": (f_train, t_train, steps * B_TRAIN * T_TRAIN),
            "eval": (f_eval, t_eval, eval_steps * B_EVAL * T_EVAL)}, {"train": f_train, "eval": f_eval}


def profile(f):
    """Shares of a fastnlp pass's time: the output layer, the recurrent kernels, the update
    (clipping, SGD), the embedding, and everything else (Python, NumPy glue)."""
    pr = cProfile.Profile()
    pr.enable()
    f()
    pr.disable()
    st = pstats.Stats(pr).stats
    groups = {"output layer (linear + softmax)": ("linear_forward", "linear_backward", "softmax_cross_entropy",
                                                  "sampled_softmax", "linear_cross_entropy"),
              "recurrent kernels": ("rnn_forward", "rnn_backward"),
              "update (clip + SGD)": ("clip_grad_norm", "sgd_update", "sgd_update_sparse"),
              "embedding": ("embedding_forward", "embedding_backward_sparse", "embedding_backward_dense")}
    total = sum(v[2] for v in st.values())   # tottime of every function: the whole run once
    shares = {k: 0.0 for k in groups}
    for (_, _, name), v in st.items():
        for k, names in groups.items():
            if name in names or any(name == f"<built-in method fastnlp._C.{n}>" for n in names):
                shares[k] += v[3] if name == "clip_grad_norm" else v[2]
                break
    shares["Python and other"] = max(total - sum(shares.values()), 0.0)
    return {k: v / total for k, v in shares.items()}


def main(argv=None):
    import torch

    import fastnlp
    from fastnlp.lm import RNNLanguageModel, Vocabulary, batchify, read_tokens
    from fastnlp.lm.torch_mirror import torch_lm

    ap = bench_parser(__doc__, "4 training / 2 evaluation segments, 2 rounds, 1 thread", data=True,
                      rounds=5, warmup=1, settle=0.3)
    ap.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--steps", type=int, default=30, help="training segments (20 x 20 words) in the timed slice")
    ap.add_argument("--eval-steps", type=int, default=10, help="evaluation segments (10 x 50 words) timed")
    args = ap.parse_args(argv)
    if args.quick:
        args.steps, args.eval_steps, args.rounds, args.settle, args.threads = 4, 2, 2, 0.05, [1]
    run = Run("lm", args, threads=args.threads, quick=args.quick)
    ptb = os.path.join(args.data, "lm", "ptb")
    tokens = read_tokens(os.path.join(ptb, "ptb.train.txt"))
    vocab = Vocabulary.build(tokens)
    train = batchify(vocab.encode(tokens), B_TRAIN)
    valid = batchify(vocab.encode(read_tokens(os.path.join(ptb, "ptb.valid.txt"))), B_EVAL)
    rows, shares = [], {}
    for threads in args.threads:
        set_threads(threads, torch, strict=not args.quick)
        lm = RNNLanguageModel(vocab, hidden=200, layers=2, init_scale=0.1, seed=0)
        m = torch_lm(lm)
        check = check_equal(lm, m, torch, train[:, :T_TRAIN], train[:, 1:T_TRAIN + 1])
        fns, passes = timers(lm, m, torch, train, valid, args.steps, args.eval_steps)
        for pass_, (f, t, words) in fns.items():
            r = interleaved({"fastnlp": f, "torch": t}, rounds=args.rounds, repeat=1, warmup=args.warmup,
                            settle=args.settle)
            row = {"threads": threads, "pass": pass_, "words": words, "fastnlp_wps": per_second(r["fastnlp"], words),
                   "torch_wps": per_second(r["torch"], words), "speedup": ratio(r["torch"], r["fastnlp"]),
                   "target": TARGETS[pass_], **check}
            rows.append(row)
            print(f"{threads} thr {pass_:5s} fastnlp {fmt(row['fastnlp_wps'])} words/s  torch "
                  f"{fmt(row['torch_wps'])} words/s  speedup {fmt_x(row['speedup'])}", flush=True)
        for pass_, f in passes.items():
            shares[f"{threads}/{pass_}"] = profile(f)
            print(f"{threads} thr fastnlp {pass_} time: "
                  + ", ".join(f"{k} {v:.0%}" for k, v in shares[f"{threads}/{pass_}"].items()), flush=True)
    md = (table(rows, [("threads", "threads"), ("pass", "pass"), ("fastnlp words/s", "fastnlp_wps"),
                       ("PyTorch words/s", "torch_wps"), ("fastnlp / PyTorch", lambda r: fmt_x(r["speedup"])),
                       ("target", lambda r: f"{r['target']}x")])
          + f"\n\nZaremba small LSTM LM (2 x 200, PTB vocabulary {len(vocab):,}, full softmax). Training: "
            f"{args.steps} segments of {B_TRAIN} streams x {T_TRAIN} steps (forward, backward, clip 5, SGD; fastnlp "
            f"sparse embedding rows, PyTorch dense); evaluation: {args.eval_steps} segments of {B_EVAL} x {T_EVAL} "
            f"on PTB valid. Median over {args.rounds} interleaved rounds; loss, state and gradients checked equal "
            f"before timing; evaluation's output layer is fused (ops.linear_cross_entropy: no logits stored). "
            f"fastnlp time by part (threads/pass): "
            + "; ".join(f"{t}: " + ", ".join(f"{k} {v:.0%}" for k, v in s.items()) for t, s in shares.items())
            + f". torch {torch.__version__}, fastnlp {fastnlp.__version__}.")
    print(run.write(rows, md, out_dir=args.out or RESULTS, profile=shares))


if __name__ == "__main__":
    main()
