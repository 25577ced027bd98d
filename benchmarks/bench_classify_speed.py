"""Sentence classifiers against PyTorch CPU: Kim's TextCNN (300-d embeddings, widths 3/4/5 x 100
maps, ReLU, max-pooling, dropout 0.5) and the LSTM acceptor (300-d, 150 hidden, last state), batch
50, on MR's sentences (Pang & Lee 2005; the real length distribution, padded per batch to its
longest sentence). The PyTorch model is the identical architecture with the same weights copied
over (fastnlp.classify.torch_mirror); before timing, the logits and one step's gradients are
checked equal. Then, in interleaved rounds at the same thread count: training (forward, backward,
SGD update with sparse-row embedding gradients on both sides) and inference (forward, no dropout),
in sentences/s over a slice of the epoch. Every timed block starts after a settle pause (--settle,
0.3 s), fastnlp's and PyTorch's alike, so that neither side's rounds start while the other's idle
thread pools (NumPy's OpenBLAS, torch's libgomp) still spin on the same cores. Writes
benchmarks/results/bench_classify_speed.{json,md}.

    python benchmarks/bench_classify_speed.py [--threads 1 2] [--batches 20] [--quick]
"""

import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import RESULTS, Run, bench_parser, fmt, fmt_x, interleaved, per_second, ratio, set_threads, table  # noqa: E402

TARGETS = {"train": 1.5, "infer": 2.0}  # issue 15: fastnlp / PyTorch sentences per second


def load_mr(data):
    """MR's sentences as lists of ids (vocabulary in order of first use, 0 kept for padding)."""
    vocab, sents = {}, []
    for name in ("rt-polarity.pos", "rt-polarity.neg"):
        with open(os.path.join(data, "classification", "mr", name), encoding="latin-1") as f:
            for line in f:
                toks = line.split()
                if toks:
                    sents.append([vocab.setdefault(t, len(vocab) + 1) for t in toks])
    return sents, len(vocab) + 1


def batches(sents, n_batches, B, rng):
    """n_batches batches of B sentences drawn in a random order: (ids (B, T) int32, lengths, labels)."""
    order = rng.permutation(len(sents))[:n_batches * B]
    out = []
    for s in range(0, len(order), B):
        chunk = [sents[i] for i in order[s:s + B]]
        lengths = np.array([len(c) for c in chunk], np.int64)
        ids = np.zeros((len(chunk), lengths.max()), np.int32)
        for i, c in enumerate(chunk):
            ids[i, :len(c)] = c
        out.append((ids, lengths, rng.integers(0, 2, len(chunk))))
    return out


def build(model, V, quick):
    from fastnlp.classify import RNNAcceptor, TextCNN

    E = 64 if quick else 300
    if model == "textcnn":
        return TextCNN(V, 2, embed_dim=E, widths=(3, 4, 5), maps=100, dropout=0.5, seed=0)
    return RNNAcceptor(V, 2, embed_dim=E, hidden=150, cell="lstm", dropout=0.5, seed=0)


def check_equal(net, mirror, torch, batch):
    """The two implementations agree (dropout off): inference logits (the LSTM's through its
    distinct-id projection), training logits, and every gradient of one step."""
    from fastnlp.classify.torch_mirror import grads_from_torch, named_gradients
    from fastnlp.nn import SoftmaxCrossEntropy

    ids, lengths, y = batch
    net.zero_grad()
    mirror.zero_grad()
    mirror.eval()
    with torch.inference_mode():
        t_infer = mirror(torch.from_numpy(ids.astype(np.int64)), torch.from_numpy(lengths)).numpy()
    infer = net.forward(ids, lengths)
    np.testing.assert_allclose(infer, t_infer, rtol=1e-4, atol=1e-5)
    loss = SoftmaxCrossEntropy()
    p, net.dropout = net.dropout, 0.0  # a training step without dropout: nothing random to match
    try:
        logits = net.forward(ids, lengths, train=True)
        loss.forward(logits, y)
        net.backward(loss.backward())
    finally:
        net.dropout = p
    t = mirror(torch.from_numpy(ids.astype(np.int64)), torch.from_numpy(lengths))
    torch.nn.functional.cross_entropy(t, torch.from_numpy(y)).backward()
    np.testing.assert_allclose(logits, t.detach().numpy(), rtol=1e-4, atol=1e-5)
    ours, theirs = named_gradients(net), grads_from_torch(net, mirror)
    worst = 0.0
    for k in ours:
        np.testing.assert_allclose(ours[k], theirs[k], rtol=1e-3, atol=1e-5, err_msg=k)
        worst = max(worst, float(np.abs(ours[k] - theirs[k]).max()))
    net.zero_grad()
    mirror.zero_grad()
    return {"infer_logits_max_abs_diff": float(np.abs(infer - t_infer).max()),
            "logits_max_abs_diff": float(np.abs(logits - t.detach().numpy()).max()), "grad_max_abs_diff": worst}


def timers(net, mirror, torch, data, lr=0.01):
    from fastnlp import optim
    from fastnlp.nn import SoftmaxCrossEntropy

    opt = optim.SGD(net.parameters(), lr=lr)
    loss = SoftmaxCrossEntropy()
    t_opt = torch.optim.SGD([p for p in mirror.parameters() if p.requires_grad], lr=lr)
    t_data = [(torch.from_numpy(ids.astype(np.int64)), torch.from_numpy(lengths), torch.from_numpy(y))
              for ids, lengths, y in data]

    def f_train():
        for ids, lengths, y in data:
            opt.zero_grad()
            loss.forward(net.forward(ids, lengths, train=True), y)
            net.backward(loss.backward())
            opt.step()

    def f_infer():
        for ids, lengths, _ in data:
            net.forward(ids, lengths)

    def t_train():
        mirror.train()
        for ids, lengths, y in t_data:
            t_opt.zero_grad()
            torch.nn.functional.cross_entropy(mirror(ids, lengths), y).backward()
            t_opt.step()

    def t_infer():
        mirror.eval()
        with torch.inference_mode():
            for ids, lengths, _ in t_data:
                mirror(ids, lengths)

    return {"train": (f_train, t_train), "infer": (f_infer, t_infer)}


def main(argv=None):
    import torch

    import fastnlp
    from fastnlp.classify.torch_mirror import to_torch

    ap = bench_parser(__doc__, "64-d embeddings, 3 batches, 2 rounds", data=True,
                      rounds=5, repeat=1, warmup=1, settle=0.3)
    ap.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--models", nargs="+", default=["textcnn", "lstm"], choices=["textcnn", "lstm"])
    ap.add_argument("--batches", type=int, default=20, help="batches of 50 in the timed slice of an epoch")
    args = ap.parse_args(argv)
    if args.quick:
        args.batches, args.rounds, args.warmup, args.settle = 3, 2, 1, 0.05
    B = 50
    run = Run("bench_classify_speed", args, threads=args.threads, quick=args.quick)
    sents, V = load_mr(args.data)
    rng = np.random.default_rng(0)
    data = batches(sents, args.batches, B, rng)
    n_sent = sum(len(d[1]) for d in data)
    rows = []
    for model in args.models:
        for threads in args.threads:
            set_threads(threads, torch, strict=not args.quick)
            net = build(model, V, args.quick)
            mirror = to_torch(net)
            check = check_equal(net, mirror, torch, data[0])
            for pass_, (f, t) in timers(net, mirror, torch, data).items():
                r = interleaved({"fastnlp": f, "torch": t}, rounds=args.rounds, repeat=args.repeat,
                                warmup=args.warmup, settle=args.settle)
                row = {"model": model, "threads": threads, "pass": pass_, "sentences": n_sent,
                       "fastnlp_sps": per_second(r["fastnlp"], n_sent), "torch_sps": per_second(r["torch"], n_sent),
                       "speedup": ratio(r["torch"], r["fastnlp"]), "target": TARGETS[pass_], **check}
                rows.append(row)
                print(f"{model:8s} {threads} thr {pass_:5s} fastnlp {fmt(row['fastnlp_sps'])} sent/s  torch "
                      f"{fmt(row['torch_sps'])} sent/s  speedup {fmt_x(row['speedup'])}", flush=True)
    E = 64 if args.quick else 300
    md = (table(rows, [("model", "model"), ("threads", "threads"), ("pass", "pass"),
                       ("fastnlp sent/s", "fastnlp_sps"), ("PyTorch sent/s", "torch_sps"),
                       ("fastnlp / PyTorch", lambda r: fmt_x(r["speedup"])), ("target", lambda r: f"{r['target']}x")])
          + f"\n\nMR sentences ({n_sent} per pass: {args.batches} batches of {B}, padded to each batch's longest), "
            f"{E}-d embeddings over a {V:,}-word vocabulary; TextCNN widths 3/4/5 x 100 maps, max-pooling, dropout 0.5; "
            "LSTM 150 hidden, last state, dropout 0.5. Training = forward + backward + SGD step (sparse embedding "
            f"gradients on both sides); inference = forward without dropout. Median over {args.rounds} interleaved "
            f"rounds (lowest-highest round), each round timing fastnlp then PyTorch with a {args.settle} s pause before "
            "each, so that neither starts while the other's idle thread pools (OpenBLAS, libgomp) still spin; "
            "inference logits, training logits and one step's gradients checked equal before timing. The LSTM's "
            "inference projects each distinct word of a batch once (RNNAcceptor.project_distinct). "
            f"torch {torch.__version__}, fastnlp {fastnlp.__version__}.")
    print(run.write(rows, md, out_dir=args.out or RESULTS))


if __name__ == "__main__":
    main()
