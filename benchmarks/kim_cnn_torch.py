"""Kim's (2014) CNN-rand trained by his own procedure, in PyTorch: a check of fastnlp's TextCNN
accuracy that shares none of fastnlp's model, batching or training code.

Written from the paper and from what his conv_net_sentence.py does (not copied from it): tokens
from fastnlp's reader (his clean_str rules); the vocabulary built over all the data, the scored
part included, every word a never-shared U[-0.25, 0.25] vector of 300 (row 0 zero padding, set to
zero again after every step); each sentence padded to the longest sentence with 4 zeros on each
side; widths 3/4/5 x 100 maps (uniform Glorot-style bounds with his fan-out over the pooled
length), ReLU, max over every window; dropout 0.5 not inverted (training masks, testing scales the
output weights by 0.5); a zero output layer; dense AdaDelta (rho 0.95, eps 1e-6) on every
parameter, the embeddings included, then each output-class column clipped to norm 3; batch 50: the
data topped up to a multiple of 50 with repeats, permuted once, the last 10% of the batches held
out for validation, the other batches reshuffled each epoch; 25 epochs, the score taken at the
last epoch with the best validation accuracy (his `>=`).

    python benchmarks/kim_cnn_torch.py [--task trec] [--seed 0] [--threads 1]   # accuracy on the dev split
"""

import argparse
import os
import sys

import numpy as np

PAD, DIM, WIDTHS, MAPS, DROPOUT, BATCH, RHO, EPS, NORM = 4, 300, (3, 4, 5), 100, 0.5, 50, 0.95, 1e-6, 3.0


def train_and_score(train, test, seed=0, epochs=25, threads=1):
    """Trains on `train` (a fastnlp Dataset) by Kim's procedure; returns {"accuracy": on `test` at
    the epoch kept, "validation": that epoch's validation accuracy, "epoch": it (1-based)}."""
    import torch
    import torch.nn.functional as F

    torch.set_num_threads(threads)
    torch.manual_seed(seed)
    rng = np.random.RandomState(seed)
    vocab = {}
    for sentence in train.sentences + test.sentences:
        for w in sentence:
            vocab.setdefault(w, len(vocab) + 1)
    labels = list(train.label_names)
    length = max(len(s) for s in train.sentences + test.sentences) + 2 * PAD

    def encode(data):
        x = np.zeros((len(data), length), np.int64)
        for i, sentence in enumerate(data.sentences):
            x[i, PAD:PAD + len(sentence)] = [vocab[w] for w in sentence]
        return torch.from_numpy(x), np.array([labels.index(y) for y in data.labels])

    x_train, y_train = encode(train)
    x_test, y_test = encode(test)
    words = rng.uniform(-0.25, 0.25, (len(vocab) + 1, DIM)).astype(np.float32)
    words[0] = 0
    params = [torch.nn.Parameter(torch.from_numpy(words))]
    for h in WIDTHS:
        bound = np.sqrt(6.0 / (h * DIM + MAPS * h * DIM / (length - h + 1)))
        params += [torch.nn.Parameter(torch.from_numpy(rng.uniform(-bound, bound, (MAPS, DIM, h)).astype(np.float32))),
                   torch.nn.Parameter(torch.zeros(MAPS))]
    params += [torch.nn.Parameter(torch.zeros(MAPS * len(WIDTHS), len(labels))),
               torch.nn.Parameter(torch.zeros(len(labels)))]
    emb, convs, (w_out, b_out) = params[0], params[1:-2], params[-2:]

    def logits(x, training):
        e = emb[x].transpose(1, 2)
        f = torch.cat([F.relu(F.conv1d(e, convs[i], convs[i + 1])).amax(dim=2) for i in range(0, len(convs), 2)], 1)
        if training:
            return (f * (torch.rand_like(f) >= DROPOUT)) @ w_out + b_out
        return f @ (w_out * (1 - DROPOUT)) + b_out

    def accuracy(x, y):
        with torch.no_grad():
            return float((torch.cat([logits(x[i:i + 500], False).argmax(1) for i in range(0, len(x), 500)]).numpy()
                          == y).mean())

    n = len(x_train)
    order = np.arange(n)
    if n % BATCH:
        order = np.concatenate([order, rng.permutation(n)[:BATCH - n % BATCH]])
    order = rng.permutation(order)
    n_train = int(round(len(order) // BATCH * 0.9))
    fit_idx, val_idx = order[:n_train * BATCH], order[n_train * BATCH:]
    sq_grad = [torch.zeros_like(p) for p in params]
    sq_step = [torch.zeros_like(p) for p in params]
    best = {"validation": -1.0}
    for epoch in range(1, epochs + 1):
        for b in rng.permutation(n_train):
            batch = fit_idx[b * BATCH:(b + 1) * BATCH]
            loss = F.cross_entropy(logits(x_train[batch], True), torch.from_numpy(y_train[batch]))
            for p in params:
                p.grad = None
            loss.backward()
            with torch.no_grad():
                for p, g2, s2 in zip(params, sq_grad, sq_step):
                    g2.mul_(RHO).addcmul_(p.grad, p.grad, value=1 - RHO)
                    step = (s2 + EPS).sqrt() / (g2 + EPS).sqrt() * p.grad
                    s2.mul_(RHO).addcmul_(step, step, value=1 - RHO)
                    p.sub_(step)
                norms = w_out.square().sum(0).sqrt()
                w_out.mul_(norms.clamp(max=NORM) / (1e-7 + norms))
                emb[0] = 0
        validation = accuracy(x_train[val_idx], y_train[val_idx])
        if validation >= best["validation"]:
            best = {"validation": validation, "accuracy": accuracy(x_test, y_test), "epoch": epoch}
    return best


def main(argv=None):
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    from common import DATA

    from fastnlp.classify.data import load_task

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--task", default="trec", help="a fastnlp.classify task (its dev split or fold 0 is scored)")
    ap.add_argument("--data-dir", "--data", dest="data", default=DATA, help="the shared data folder")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--epochs", type=int, default=25)
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args(argv)
    train, test = load_task(args.task, os.path.join(args.data, "classification"))
    r = train_and_score(train, test, args.seed, args.epochs, args.threads)
    print(f"{args.task} seed {args.seed}: {r['accuracy'] * 100:.2f} on the dev split "
          f"(epoch {r['epoch']}, validation {r['validation'] * 100:.2f})")


if __name__ == "__main__":
    main()
