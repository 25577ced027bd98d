"""Training of the BiLSTM-CNN-CRF taggers (fastnlp.tagging.bilstm) on the same data splits as the
window taggers (tagging/tasks.py): epochs chosen on the dev part, the held-out part scored once at
the end, never selected on.

    python -m fastnlp.tagging.train_bilstm ner -o /path/to/runs [--epochs N] [--seed S] [--resume]

writes ``<out>/<task>-bilstm.safetensors`` (the tagger, loadable with fastnlp.load_tagger(path)) and,
after every epoch, the checkpoint ``<out>/<task>-bilstm.ckpt.safetensors`` (atomically): with
``--resume`` a run continues from it exactly as if it had not stopped (the batch order and the
dropout masks of each epoch derive from (seed, epoch), the optimizer's state is saved).

Optimizer: Adam (lr 1e-3, betas 0.9 / 0.999), the loss summed over a batch's sentences and divided by
their number, gradients clipped to global norm 5, batches of 10 sentences, dropout 0.5 (Ma & Hovy's
batch size, clipping and dropout). Chosen by measurement over the first epochs of NER against plain
SGD at Ma & Hovy's learning rate 0.015 (fastnlp's SGD has no momentum): see ``OPTIMIZER_NOTE``.
"""

from __future__ import annotations

import argparse
import os
import time
from collections import Counter
from typing import Callable, Dict, List, Optional, Sequence

import numpy as np

from .. import ops, safeformat
from .._progress import progress_bar
from ..optim import SGD, Adam
from .bilstm import FIRST_ENTRY, BiLSTMCRF, Vocab
from .bilstm_tagger import DIMS, BiLSTMTagger, build_network
from .data import Sentence
from .features import normalize_word
from .metrics import accuracy, conlleval
from .tasks import TaskData, load_task_data

CHECKPOINT_FORMAT = "fastnlp.bilstm_checkpoint"
CHECKPOINT_VERSION = 1
OPTIMIZER_NOTE = "Adam lr 1e-3 (see train_bilstm.py)"

DEFAULTS = dict(word_dim=50, char_dim=30, char_filters=30, char_width=3, hidden=100, dropout=0.5,
                batch_sentences=10, optimizer="adam", lr=1e-3, clip=5.0, epochs=30, glove_words=30000,
                min_count=2, char_min_count=2)
# Per task: the number of epochs (each a pass over the task's training part; the best dev epoch is kept)
# and the GloVe words added to the training words (the word table, stored float16, stays under ~8 MB).
TASK_SETTINGS = {
    "ner": dict(epochs=30, glove_words=40000),
    "chunk": dict(epochs=30),
    "pos": dict(epochs=12),
    "upos": dict(epochs=20),
}


def _check_config(config: dict) -> dict:
    for name in DIMS + ("batch_sentences", "epochs", "glove_words", "min_count", "char_min_count"):
        v = config[name]
        if isinstance(v, bool) or not isinstance(v, int) or v < (0 if name == "glove_words" else 1):
            raise ValueError(f"train_bilstm: {name} must be a positive integer, got {v!r}")
    if config["optimizer"] not in ("adam", "sgd"):
        raise ValueError(f"train_bilstm: optimizer must be 'adam' or 'sgd', got {config['optimizer']!r}")
    for name in ("lr", "clip"):
        if not (isinstance(config[name], (int, float)) and config[name] > 0):
            raise ValueError(f"train_bilstm: {name} must be a positive number, got {config[name]!r}")
    return config


def build_vocab(train: Sequence[Sentence], pretrained_words: Sequence[str], min_count: int = 2,
                char_min_count: int = 2) -> Vocab:
    """The lexicons: normalized training words seen min_count times or having a pretrained vector
    (most frequent first), then the other pretrained words in their order; characters seen
    char_min_count times (most frequent first)."""
    counts = Counter(normalize_word(t) for s in train for t in s.tokens)
    known = set(pretrained_words)
    words = sorted((w for w, c in counts.items() if c >= min_count or w in known), key=lambda w: (-counts[w], w))
    seen = set(words)
    words += [w for w in pretrained_words if w not in seen and not seen.add(w)]
    chars = Counter(c for s in train for t in s.tokens for c in t)
    return Vocab(words, sorted((c for c, n in chars.items() if n >= char_min_count), key=lambda c: (-chars[c], c)))


def glove_vectors(limit: int, train: Sequence[Sentence]):
    """(words, {word: vector}): the `limit` most frequent GloVe words plus every GloVe word that is a
    normalized training word, normalized (the first, most frequent one kept when several merge)."""
    from ..glove import load_glove

    all_words, vectors = load_glove(None)
    wanted = {normalize_word(t) for s in train for t in s.tokens}
    top, table = [], {}
    for i, word in enumerate(all_words):
        w = normalize_word(word)
        if w in table:
            continue
        if i < limit or w in wanted:
            table[w] = np.asarray(vectors[i], np.float32)
            if i < limit:
                top.append(w)
    return top, table


def _without_epochs(value):
    return {k: v for k, v in value.items() if k != "epochs"} if isinstance(value, dict) else value


def _tag_ids(sentences, tag_id):
    return np.asarray([tag_id[t] for s in sentences for t in s.tags], np.int32)


def evaluate(net: BiLSTMCRF, vocab: Vocab, sentences: Sequence[Sentence], tagset: List[str], scheme) -> float:
    """The dev / held-out score (accuracy, or conlleval F1 for a scheme) of the network's constrained
    decode, as the shipped tagger decodes."""
    tagger = BiLSTMTagger.from_network({"tagset": tagset, "scheme": scheme, "dims": _dims(net)}, vocab, net)
    pred = tagger.tag_batch([s.tokens for s in sentences])
    gold = [s.tags for s in sentences]
    return conlleval(gold, pred).f1 if scheme else accuracy(gold, pred)


def _dims(net):
    return {k: net.sizes[k] for k in DIMS}


def _optimizer(config, net):
    make = Adam if config["optimizer"] == "adam" else SGD
    return make(net.parameters(), lr=config["lr"])


def _save_checkpoint(path, state: dict, net, best, optimizer, vocab):
    arrays = {f"param.{i}": p.value for i, p in enumerate(net.parameters())}
    if best is not None:
        arrays.update({f"best.{i}": a for i, a in enumerate(best)})
    arrays.update({f"opt.{k}": v for k, v in optimizer.state_dict().items()})
    arrays["words_utf8"], arrays["words_offsets"] = safeformat.encode_strings(vocab.words)
    arrays["chars_utf8"], arrays["chars_offsets"] = safeformat.encode_strings(vocab.chars)
    safeformat.save(path, CHECKPOINT_FORMAT, CHECKPOINT_VERSION, state, arrays)


def _load_checkpoint(path):
    state, arrays, bad = safeformat.load(path, CHECKPOINT_FORMAT, CHECKPOINT_VERSION, ("words_utf8", "chars_utf8"),
                                         "fastnlp BiLSTM training checkpoint")
    vocab = Vocab(safeformat.decode_strings(arrays["words_utf8"], arrays["words_offsets"], bad),
                  safeformat.decode_strings(arrays["chars_utf8"], arrays["chars_offsets"], bad))
    return state, arrays, vocab, bad


def train_bilstm(task: str, data: TaskData, config: dict, checkpoint: Optional[str] = None, resume: bool = False,
                 pretrained: Optional[tuple] = None, seed: int = 0, log: Callable[[str], None] = print,
                 progress: bool = True):
    """Trains a BiLSTM-CNN-CRF on `data` and returns (tagger, dev score, history) with the best dev epoch's
    parameters; the held-out part is not touched here.

    Parameters
    ----------
    task : str
        "pos" / "upos" (scored by accuracy, no scheme) or "chunk" / "ner" (IOB2, conlleval F1).
    data : TaskData
        train, dev (selection) and heldout sentences.
    config : dict
        DEFAULTS with overrides.
    checkpoint : str, optional
        Written atomically after every epoch.
    resume : bool
        Continue from `checkpoint` (which must exist) where it stopped.
    pretrained : (list of str, dict), optional
        GloVe words to add to the vocabulary and the vectors to initialize the word table from.
    seed : int
        Initialization, batch order and dropout.
    log : callable
        Receives one line per epoch.
    progress : bool
        A tqdm bar (tokens, loss, tokens/s, ETA) on stderr.

    Returns
    -------
    tagger : BiLSTMTagger
    best : float
    history : list of dict

    Raises
    ------
    ValueError
        A bad config value (named), a checkpoint of another task or configuration.
    FileNotFoundError
        resume without a checkpoint file.
    """
    config = _check_config(dict(DEFAULTS, **config))
    scheme = "IOB2" if task in ("chunk", "ner") else None
    tagset = sorted({t for part in (data.train, data.dev) for s in part for t in s.tags})
    tag_id = {t: i for i, t in enumerate(tagset)}
    state = {"task": task, "seed": seed, "config": config, "tagset": tagset, "epoch": 0, "history": [],
             "best": None, "best_epoch": None}
    if resume:
        if checkpoint is None or not os.path.exists(checkpoint):
            raise FileNotFoundError(f"train_bilstm: resume=True but there is no checkpoint at {checkpoint!r}")
        saved, arrays, vocab, bad = _load_checkpoint(checkpoint)
        # The number of epochs may grow on resume (continue a finished run); nothing else may change.
        for key in ("task", "seed", "config", "tagset"):
            if _without_epochs(saved.get(key)) != _without_epochs(state[key]):
                raise ValueError(f"train_bilstm: the checkpoint {checkpoint} was written for {key} "
                                 f"{saved.get(key)!r:.200}, this run has {state[key]!r:.200}")
        state.update({k: saved[k] for k in ("epoch", "history", "best", "best_epoch")})
    else:
        words = pretrained[0] if pretrained else []
        vocab = build_vocab(data.train, words, config["min_count"], config["char_min_count"])
    net = build_network({k: config[k] for k in DIMS}, vocab.num_words, vocab.num_chars, len(tagset),
                        config["dropout"], seed)
    optimizer = _optimizer(config, net)
    best_params = None
    if resume:
        for i, p in enumerate(net.parameters()):
            p.value[...] = arrays[f"param.{i}"]
        if state["best"] is not None:
            best_params = [np.array(arrays[f"best.{i}"]) for i in range(len(net.parameters()))]
        optimizer.load_state_dict({k[4:]: v for k, v in arrays.items() if k.startswith("opt.")})
        log(f"{task}: resuming after epoch {state['epoch']} from {checkpoint}")
    elif pretrained:
        table = net.words.W.value
        rows = [i for i, w in enumerate(vocab.words) if w in pretrained[1]]
        table[np.asarray(rows, np.int64) + FIRST_ENTRY] = np.stack([pretrained[1][vocab.words[i]] for i in rows])
        log(f"{task}: {len(vocab.words)} words ({len(rows)} with GloVe vectors), {len(vocab.chars)} characters, "
            f"{len(tagset)} tags, {len(data.train)} training sentences")
    dense = [p for p in net.parameters() if p is not net.words.W]
    n_tokens = sum(len(s.tokens) for s in data.train)
    epochs = config["epochs"]
    bar = progress_bar((epochs - state["epoch"]) * n_tokens, f"{task}-bilstm", unit="tok", enabled=progress)
    try:
        for epoch in range(state["epoch"], epochs):
            t0, total, count = time.perf_counter(), 0.0, 0
            bar.set_description_str(f"{task}-bilstm epoch {epoch + 1}/{epochs}", refresh=False)
            order = np.random.default_rng([seed, epoch]).permutation(len(data.train))
            net.reseed_dropout(np.random.default_rng([seed, epoch, 1]))
            for i in range(0, len(order), config["batch_sentences"]):
                chosen = [data.train[j] for j in order[i:i + config["batch_sentences"]]]
                batch = vocab.encode([s.tokens for s in chosen])
                total += net.loss(batch, _tag_ids(chosen, tag_id), train=True, scale=1.0 / len(chosen))
                grads = [p.grad for p in dense]
                if net.words.W.sparse_grad is not None:
                    grads.append(net.words.W.sparse_grad[1])
                ops.clip_grad_norm(grads, config["clip"])
                optimizer.step()
                net.zero_grad()
                count += len(batch.words)
                bar.set_postfix_str(f"loss/sent {total / (i + len(chosen)):.3f}", refresh=False)
                bar.update(len(batch.words))
            seconds = time.perf_counter() - t0
            score = evaluate(net, vocab, data.dev, tagset, scheme)
            state["history"].append({"epoch": epoch + 1, "loss": total / len(order), "dev": round(score, 2),
                                     "seconds": round(seconds, 1), "tokens_per_s": round(count / seconds)})
            if state["best"] is None or score > state["best"]:
                state["best"], state["best_epoch"] = score, epoch + 1
                best_params = [p.value.copy() for p in net.parameters()]
            state["epoch"] = epoch + 1
            if checkpoint is not None:
                _save_checkpoint(checkpoint, state, net, best_params, optimizer, vocab)
            with bar.external_write_mode():
                log(f"{task}: epoch {epoch + 1}: loss/sentence {total / len(order):.3f} dev {score:.2f} "
                    f"(best {state['best']:.2f} at {state['best_epoch']}; {seconds:.0f} s, "
                    f"{count / seconds:.0f} tok/s)")
    finally:
        bar.close()
    if best_params is None:
        raise ValueError(f"train_bilstm: no epoch was trained (the checkpoint already holds {state['epoch']} "
                         f"of {epochs}: give a larger --epochs to continue)")
    for p, a in zip(net.parameters(), best_params):
        p.value[...] = a
    header = {"task": task, "tagset": tagset, "scheme": scheme, "dims": _dims(net), "config": config,
              "seed": seed, "history": state["history"]}
    return BiLSTMTagger.from_network(header, vocab, net), state["best"], state["history"]


# ---- the shipped models: one command reproduces each from ../shared/data --------------------------

def describe(task: str) -> Dict[str, str]:
    """training_data, license and the names the header gives, shared with the window taggers (train.TASKS)."""
    from .train import GLOVE, POS_CORPORA, TASKS

    spec = TASKS[task]
    if task == "pos":
        corpora = spec["corpora"]
        data = "; ".join(POS_CORPORA[c] + (f" (taken {corpora.count(c)} times)" if corpora.count(c) > 1 else "")
                         for c in dict.fromkeys(corpora))
    else:
        data = spec["data"]
    return {"training_data": data, "license": spec["license"], "embeddings": GLOVE}


def train_task(task: str, data_dir: str, out_dir: str, epochs: Optional[int] = None, seed: int = 0,
               resume: bool = False, log: Callable[[str], None] = print, progress: bool = True,
               **overrides) -> BiLSTMTagger:
    """Trains the shipped BiLSTM tagger of `task` from the data folder, saves it to
    ``<out_dir>/<task>-bilstm.safetensors`` and returns it (the saved file read back, scored once on the
    held-out part, the score written into its header).

    Parameters
    ----------
    task : {"pos", "chunk", "ner", "upos"}
    data_dir : str
        The shared data folder (with tagging/).
    out_dir : str
        Where the model and the checkpoint go.
    epochs : int, optional
        Overrides the task's number of epochs.
    seed : int
    resume : bool
        Continue from ``<out_dir>/<task>-bilstm.ckpt.safetensors``.
    log : callable
    progress : bool
    **overrides
        Other config values (hidden, lr, optimizer, ...).

    Returns
    -------
    BiLSTMTagger

    Raises
    ------
    ValueError
        An unknown task.
    """
    if task not in TASK_SETTINGS:
        raise ValueError(f"train_bilstm: task must be one of {list(TASK_SETTINGS)}, got {task!r}")
    config = dict(DEFAULTS, **TASK_SETTINGS[task], **overrides, **({} if epochs is None else {"epochs": epochs}))
    data = load_task_data(task, data_dir)
    pretrained = None if resume else glove_vectors(config["glove_words"], data.train)
    os.makedirs(out_dir, exist_ok=True)
    base = os.path.join(out_dir, f"{task}-bilstm")
    tagger, best, history = train_bilstm(task, data, config, base + ".ckpt.safetensors", resume, pretrained, seed,
                                         log, progress)
    metric = "f1" if tagger.scheme else "accuracy"
    best_epoch = max(history, key=lambda h: h["dev"])["epoch"]
    tagger.header.update(describe(task), **{
        "dev_" + metric: round(best, 2), "dev_set": data.dev_name,
        "selection": f"the epoch with the best dev score ({best_epoch} of {len(history)})",
        "optimizer": OPTIMIZER_NOTE})
    path = base + ".safetensors"
    tagger.save(path)
    shipped = BiLSTMTagger.load(path)   # score what the file holds (float16 word table)
    gold = [s.tags for s in data.heldout]
    pred = shipped.tag_batch([s.tokens for s in data.heldout])
    held = conlleval(gold, pred).f1 if tagger.scheme else accuracy(gold, pred)
    tagger.header.update({"heldout_" + metric: round(held, 2), "heldout_set": data.heldout_name})
    tagger.save(path)
    log(f"{task}: dev {metric} {best:.2f} (epoch {best_epoch}), held-out {metric} {held:.2f} ({data.heldout_name}; "
        f"never selected on) -> {path} ({os.path.getsize(path) / 1e6:.1f} MB)")
    return BiLSTMTagger.load(path)


def main(argv: Optional[Sequence[str]] = None) -> None:
    from .._data import add_data_dir_argument, data_dir

    parser = argparse.ArgumentParser(prog="python -m fastnlp.tagging.train_bilstm",
                                     description="Train the BiLSTM-CNN-CRF taggers from the shared data.")
    parser.add_argument("task", choices=list(TASK_SETTINGS) + ["all"])
    add_data_dir_argument(parser)
    parser.add_argument("-o", "--out", required=True, help="folder for the model and its checkpoint")
    parser.add_argument("--epochs", type=int, default=None, help="default: the task's (train_bilstm.TASK_SETTINGS)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--resume", action="store_true", help="continue from the checkpoint in --out")
    parser.add_argument("--optimizer", choices=("adam", "sgd"), default=None)
    parser.add_argument("--lr", type=float, default=None)
    parser.add_argument("--hidden", type=int, default=None)
    parser.add_argument("--threads", type=int, default=2, help="fastnlp.set_num_threads (default 2)")
    parser.add_argument("--no-progress", dest="progress", action="store_false", help="no progress bar")
    args = parser.parse_args(argv)
    import fastnlp

    fastnlp.set_num_threads(args.threads)
    overrides = {k: v for k, v in (("optimizer", args.optimizer), ("lr", args.lr), ("hidden", args.hidden))
                 if v is not None}
    for task in (list(TASK_SETTINGS) if args.task == "all" else [args.task]):
        train_task(task, data_dir(args.data_dir, "tagging"), args.out, args.epochs, args.seed, args.resume,
                   progress=args.progress, **overrides)


if __name__ == "__main__":
    main()
