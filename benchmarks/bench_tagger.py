"""Tagging speed and accuracy of the shipped POS tagger against peers measured in the same run
(and the speed of the chunk and NER taggers, which decode with Viterbi):
- fastnlp's tagger (C++ featurizer + fused window network + decode), 1 thread and all threads;
- the same network's forward pass written in NumPy (window gather, two matmuls, argmax), features
  included, so the ratio says what the fused C++ path buys;
- NLTK's averaged perceptron tagger trained on the same data as the shipped model (the CoNLL-2000
  training split plus EWT's PTB tags; when nltk is installed, it is not a dependency), with the same
  CoNLL-2000 development split for both accuracies.
Also the memory one loaded tagger adds to the process (resident set, before/after load_tagger).
Writes benchmarks/results/bench_tagger.{json,md}.

    python benchmarks/bench_tagger.py [--data ../shared/data] [--repeat 5] [--nltk-iterations 5]
"""

import argparse
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(__file__))
from common import machine_info, median_time, set_threads, write_results  # noqa: E402


def rss_mb():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def numpy_tag(tagger, sentences):
    """The tagger's network in NumPy: Python features, window gather, matmuls, hardtanh, argmax."""
    from fastnlp.tagging import features as feat
    from fastnlp.tagging.network import window_ids

    lookups = [None if f == "caps" else {k: i + feat.FIRST_ENTRY for i, k in enumerate(lex)}
               for f, lex in zip(tagger.families, tagger.lexicons)]
    ids, offsets = feat.featurize_ref(sentences, tagger.families, lookups)
    win = window_ids(ids, offsets, tagger.window)  # (F, N, window), the training path's NumPy gather
    parts = [table[win[f, :, j]] for j in range(tagger.window) for f, table in enumerate(tagger.tables)]
    x = np.concatenate(parts, axis=1)
    h = np.clip(x @ tagger.W1.T + tagger.b1, -1, 1)
    scores = h @ tagger.W2.T + tagger.b2
    return scores.argmax(axis=1), offsets


def main():
    import fastnlp
    from fastnlp.tagging import load_tagger
    from fastnlp.tagging.data import read_conll
    from fastnlp.tagging.train import load_task_data
    from fastnlp.tagging.metrics import accuracy

    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--data", default=os.environ.get("FASTNLP_DATA",
                                                    os.path.join(os.path.dirname(__file__), "..", "..", "shared",
                                                                 "data")))
    p.add_argument("--repeat", type=int, default=5)
    p.add_argument("--nltk-iterations", type=int, default=5)
    p.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "results"))
    args = p.parse_args()

    before = rss_mb()
    tagger = load_tagger("pos")
    tagger.tag(["warm", "up"])
    load_mb = rss_mb() - before
    sentences = read_conll(os.path.join(args.data, "tagging", "conll2000", "train.txt"), tag_column=1)
    train, dev = load_task_data("pos", args.data)  # what the shipped POS model was trained on
    batch = [s.tokens for s in sentences]  # every sentence of CoNLL-2000 train: 211,727 tokens
    n_tokens = sum(len(s) for s in batch)
    gold = [s.tags for s in dev]
    rows = []

    def row(name, seconds, acc, threads, note=""):
        rows.append({"tagger": name, "threads": threads, "seconds": seconds, "tokens_per_s": n_tokens / seconds,
                     "dev_accuracy": acc, "note": note})

    fast_acc = accuracy(gold, tagger.tag_batch([s.tokens for s in dev]))
    for threads in sorted({1, os.cpu_count() or 1}):
        set_threads(threads)
        row("fastnlp", median_time(lambda: tagger.tag_batch(batch), warmup=1, repeat=args.repeat), fast_acc,
            threads, "tokens -> tags, features included")
    set_threads(1)
    pred, offsets = numpy_tag(tagger, [s.tokens for s in dev])
    names = np.asarray(tagger.tagset, dtype=object)[pred].tolist()
    numpy_acc = accuracy(gold, [names[offsets[i]:offsets[i + 1]] for i in range(len(dev))])
    row("NumPy forward (same network)", median_time(lambda: numpy_tag(tagger, batch), warmup=1,
                                                    repeat=max(3, args.repeat // 2)), numpy_acc, 1,
        "Python features, argmax")
    try:
        from nltk.tag.perceptron import PerceptronTagger
    except ImportError:
        PerceptronTagger = None
    if PerceptronTagger is not None:
        nltk_tagger = PerceptronTagger(load=False)
        t0 = time.perf_counter()
        nltk_tagger.train([list(zip(s.tokens, s.tags)) for s in train], nr_iter=args.nltk_iterations)
        train_s = time.perf_counter() - t0
        nltk_pred = [[t for _, t in nltk_tagger.tag(s.tokens)] for s in dev]
        nltk_acc = accuracy(gold, nltk_pred)
        seconds = median_time(lambda: [nltk_tagger.tag(s) for s in batch], warmup=0, repeat=1)
        row("NLTK averaged perceptron", seconds, nltk_acc, 1,
            f"trained on the same data, {args.nltk_iterations} iterations, {train_s:.0f} s")
    # The sentence-level models decode with Viterbi: their speed on the same batch, their own dev score.
    from fastnlp.tagging.metrics import conlleval

    for task in ("chunk", "ner"):
        other = load_tagger(task)
        task_dev = load_task_data(task, args.data)[1]
        f1 = conlleval([s.tags for s in task_dev], other.tag_batch([s.tokens for s in task_dev])).f1
        row(f"fastnlp {task} (Viterbi)", median_time(lambda: other.tag_batch(batch), warmup=1, repeat=args.repeat),
            None, 1, f"dev F1 {f1:.2f}")
    fast1 = rows[0]["tokens_per_s"]
    for r in rows:
        r["fastnlp_1thread_speedup"] = fast1 / r["tokens_per_s"]
    meta = {"machine": machine_info(), "threads": "1 and all", "tokens": n_tokens, "sentences": len(batch),
            "tagger": repr(tagger), "tagger_load_rss_mb": round(load_mb, 1), "fastnlp": fastnlp.__version__,
            "note": f"POS, CoNLL-2000 train ({n_tokens} tokens) tagged; accuracy on the held-out dev split; "
                    f"loading the tagger added {load_mb:.1f} MB RSS"}
    print(write_results("bench_tagger", rows, ["tagger", "threads", "tokens_per_s", "dev_accuracy",
                                               "fastnlp_1thread_speedup", "note"], meta, args.out))


if __name__ == "__main__":
    main()
