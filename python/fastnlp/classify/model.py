"""Classifier: one API (fit / predict / predict_proba / evaluate / save / load) over TextCNN, the
RNN acceptors and the bag-of-n-gram maxent / MLP. Training: shuffled minibatches, a choice of
optimizer, max-norm on the output layer, the best epoch on a selection split kept, a progress bar,
and periodic atomic checkpoints from which `resume=True` continues exactly."""

from __future__ import annotations

import hashlib
import numbers
from typing import Any
import json
import os
import sys
import time

import numpy as np

from .. import nn, ops, optim, safeformat
from .._progress import progress_bar
from ..nn.module import load_parameter_arrays, parameter_arrays
from ..plots import TrainingCurveMixin
from . import bow
from . import networks as N
from ._checkpoint import flatten, load_optimizer_state, optimizer_state, unflatten
from .data import Dataset, split_dev, tokenize
from .vocab import (PAD, UNK, Vocabulary, batches, bucketed_batches, check_oov_scale, embedding_table,
                    load_pretrained, pad_batch, vector_size)

FORMAT, CHECKPOINT_FORMAT, VERSION = "fastnlp-classifier", "fastnlp-classifier-checkpoint", 1
# The sequence models' settings for fit(..., vectors=...): what the embedding table is built from
# (vocab.embedding_table). README's classification section says how they were chosen.
VECTOR_DEFAULTS = {
    "random_dims": 0,       # random columns after the pretrained ones: embed_dim = the vectors' size + this;
                            # "fill": as many as bring the table to embed_dim (none if the vectors are as wide)
    "oov_scale": 0.25,      # words the vectors lack start U[-oov_scale, oov_scale]; "match": the vectors' variance
}
# model -> overrides of VECTOR_DEFAULTS. TextCNN: GloVe 6B 50-d filling the first 50 of its 300 columns,
# random U[-0.25, 0.25] the other 250 (as CNN-rand's), won on the selection splits (SST-2: 10% of
# train.txt's trees; MR: 10% of fold 0's training part; means over seeds 0-2): SST-2 83.48 against
# 82.66 for the 50-d table alone and 81.99 for CNN-rand, MR 77.53 against 77.05 and 74.72 (README).
MODEL_VECTOR_DEFAULTS = {"cnn": {"random_dims": "fill"}}
_EVAL_BATCH = 500


def _as_dataset(data, what):
    if isinstance(data, Dataset):
        return data
    if isinstance(data, tuple) and len(data) == 2:
        sentences, labels = data
        return Dataset([tokenize(s) if isinstance(s, str) else list(s) for s in sentences], list(labels))
    raise TypeError(f"{what} must be a Dataset or a (sentences, labels) pair, got {type(data).__name__}")


def _fingerprint(data):
    h = hashlib.sha256()
    for s, y in zip(data.sentences, data.labels):
        h.update(("\x1f".join(s) + "\x1e" + str(y) + "\x1d").encode("utf-8"))
    return h.hexdigest()


class _Progress:
    """A tqdm bar over the examples of all epochs: epoch, running loss and accuracy, sentences/s,
    ETA; epoch summaries written above it. Nothing when the stream is None."""

    def __init__(self, stream, total_examples):
        self.stream, self.done = stream, 0
        self.bar = progress_bar(total_examples, "train", unit="sent", enabled=stream is not None, file=stream,
                                bar_format="{desc} {percentage:3.0f}%|{bar}| {n_fmt}/{total_fmt} "
                                           "{rate_fmt} ETA {remaining}{postfix}")

    def update(self, epoch, epochs, seen, n, loss, acc):
        self.bar.set_description_str(f"epoch {epoch + 1}/{epochs}", refresh=False)
        self.bar.set_postfix_str(f"loss {loss:.4f} acc {acc * 100:.2f}%", refresh=False)
        self.bar.update(self.done - self.bar.n)

    def message(self, text):
        if self.stream is not None:
            self.bar.write(text, file=self.stream)

    def close(self):
        self.bar.close()


class Classifier(TrainingCurveMixin):
    """A sentence classifier: model one of fastnlp.classify.networks.NETWORKS ("cnn", "lstm",
    "gru", "maxent", "mlp"); keyword arguments override that model's defaults (networks.defaults).

        clf = Classifier("cnn", epochs=10).fit(train, vectors="vectors.bin")
        clf.evaluate(dev); clf.predict(["a gripping , funny film"]); clf.save("mr.cnn")

    Parameters
    ----------
    model : str
        "cnn", "lstm", "gru", "maxent" or "mlp".
    **config
        Overrides of the model's defaults (``networks.defaults(model)``: epochs, lr, dropout, ...),
        and ``vectors``.

    Raises
    ------
    ValueError
        An unknown model or setting, or a setting out of range (named).
    """

    def __init__(self, model: str = "cnn", **config: Any) -> None:
        base = N.defaults(model)
        if N.NETWORKS[model].input == "sequence":
            base = dict(VECTOR_DEFAULTS, **MODEL_VECTOR_DEFAULTS.get(model, {}), **base)
        unknown = sorted(set(config) - set(base) - {"vectors"})
        if unknown:
            raise ValueError(f"Classifier({model!r}): unknown option(s) {', '.join(unknown)}; "
                             f"known: {', '.join(sorted(base))}")
        self.model = model
        self.spec = N.NETWORKS[model]
        self._given = set(config)
        self.config = dict(base, **{"vectors": None, **config})
        self._check_config()
        self.labels = None
        self.vocab = None
        self.featurizer = None
        self.network = None
        self.lower = True
        self.history = []
        self.training_data = {}

    @property
    def training_history(self) -> list:
        """One dict per epoch trained ({"epoch", "loss", "train_accuracy", "selection_accuracy",
        "seconds"}); the same list as ``history``."""
        return self.history

    def _curve_title(self):
        return f"{self.model}: loss and selection accuracy"

    def _check_config(self):
        c = self.config
        for name in ("epochs", "batch_size", "min_count", "max_iter", "bucket"):
            low = 0 if name in ("epochs", "bucket") else 1
            if int(c[name]) != c[name] or c[name] < low:
                raise ValueError(f"{name} must be a {'non-negative' if low == 0 else 'positive'} "
                                 f"integer, got {c[name]!r}")
        if c["optimizer"] not in ("adadelta", "adam", "adagrad", "sgd", "lbfgs"):
            raise ValueError(f"optimizer must be one of adadelta, adam, adagrad, sgd, lbfgs, got {c['optimizer']!r}")
        if c["optimizer"] == "lbfgs" and self.spec.input != "bag":
            raise ValueError("optimizer 'lbfgs' trains the full-batch maxent / mlp models only")
        if c["max_norm"] is not None and not (c["max_norm"] > 0):
            raise ValueError(f"max_norm must be > 0 or None, got {c['max_norm']!r}")
        if c.get("clip_norm") is not None and not (c["clip_norm"] > 0):
            raise ValueError(f"clip_norm must be > 0 or None, got {c['clip_norm']!r}")
        if self.spec.input == "sequence":
            rd = c["random_dims"]
            if rd != "fill" and (isinstance(rd, bool) or not isinstance(rd, numbers.Integral) or rd < 0):
                raise ValueError(f"random_dims must be a non-negative integer or 'fill', got {rd!r}")
            check_oov_scale("", c["oov_scale"])
        if not 0 <= c["valid_fraction"] < 1:
            raise ValueError(f"valid_fraction must be in [0, 1), got {c['valid_fraction']!r}")

    # ---- inputs ----------------------------------------------------------------------------------

    def _encode(self, sentences):
        """What the network's batches are cut from: id lists (sequence) or one n-gram bag (bag)."""
        sentences = [tokenize(s, self.lower) if isinstance(s, str) else list(s) for s in sentences]
        if self.spec.input == "bag":
            return self.featurizer([bow.ngrams(s, self.config["ngrams"]) for s in sentences])
        return [self.vocab.encode(s) for s in sentences]

    def _batch(self, encoded, index):
        if self.spec.input == "bag":
            return (bow.bag_rows(encoded, index),)
        widths = self.config.get("widths") or [1]
        return pad_batch([encoded[i] for i in index], min_length=max(widths))

    def _count(self, encoded):
        return len(encoded[1]) - 1 if self.spec.input == "bag" else len(encoded)

    def _targets(self, labels, what):
        index = {name: i for i, name in enumerate(self.labels)}
        try:
            return np.array([index[y] for y in labels], np.int64)
        except KeyError as e:
            raise ValueError(f"{what}: label {e.args[0]!r} is not one of the model's labels {self.labels}") from None

    def _build(self, train_sentences, vectors, label_names):
        c = self.config
        self.labels = list(label_names)
        pretrained = None
        if self.spec.input == "bag":
            self.featurizer = bow.Featurizer([bow.ngrams(s, c["ngrams"]) for s in train_sentences])
            n_inputs = len(self.featurizer.vocab)
        else:
            self.vocab = Vocabulary.build(train_sentences, c["min_count"])
            n_inputs = len(self.vocab)
            if vectors is not None:
                kv = load_pretrained(vectors) if isinstance(vectors, (str, os.PathLike)) else vectors
                dim = vector_size(kv)
                if c["random_dims"] == "fill":   # the vectors fill the first columns of embed_dim
                    if "embed_dim" not in self._given:
                        c["embed_dim"] = max(c["embed_dim"], dim)
                    elif c["embed_dim"] < dim:
                        raise ValueError(f"embed_dim is {c['embed_dim']} but the pretrained vectors have {dim} "
                                         f"dimensions (with random_dims='fill', embed_dim must be at least theirs)")
                elif "embed_dim" not in self._given:
                    c["embed_dim"] = dim + c["random_dims"]
                elif c["embed_dim"] != dim + c["random_dims"]:
                    raise ValueError(f"embed_dim is {c['embed_dim']} but the pretrained vectors have {dim} "
                                     f"dimensions and random_dims is {c['random_dims']} (embed_dim must be "
                                     f"their sum; leave it out to take that)")
                pretrained, found = embedding_table(self.vocab, c["embed_dim"], kv, seed=c["seed"],
                                                    oov_scale=c["oov_scale"])
                self.training_data["pretrained_found"] = found
                c["vectors"] = os.fspath(vectors) if isinstance(vectors, (str, os.PathLike)) else "given"
        self.network = self.spec.build(c, n_inputs, len(self.labels), pretrained)
        if self.spec.input == "sequence":
            # A word never seen in training (id UNK) starts as a zero vector, so it adds nothing to a
            # window or a state. Kim gave each unseen word its own random, never-trained vector; one
            # shared random UNK vector, as this code had, is the same meaningless signal in every
            # sentence with an unseen word (2/3 of TREC's dev questions) and cost 1-2 points there.
            # With min_count > 1 the UNK row is trained from zero like any other word.
            for emb in self._embeddings():
                emb.W.value[UNK] = 0
                emb.W.value[PAD] = 0

    def _embeddings(self):
        return [e for e in (getattr(self.network, "embedding", None), getattr(self.network, "static_embedding", None))
                if e is not None]

    def _zero_padding_row(self):
        """Kim's set_zero after every update: the padding row stays a zero vector. Padding past a
        sentence's length never enters a window or a state, but an empty sentence (CR has a few) is
        read as one padding position, whose vector would otherwise be trained as an 'empty' word."""
        for emb in self._embeddings():
            emb.W.value[PAD] = 0

    # ---- training --------------------------------------------------------------------------------

    def _optimizer(self, params):
        c = self.config
        name = {"adadelta": "AdaDelta", "adam": "Adam", "adagrad": "AdaGrad", "sgd": "SGD"}[c["optimizer"]]
        cls = getattr(optim, name, None)
        if cls is None:
            raise ValueError(f"optimizer {c['optimizer']!r} needs fastnlp.optim.{name}, which this build lacks")
        extra = {"decay_skipped_rows": bool(c["decay_skipped_rows"])} if c["optimizer"] == "adadelta" else {}
        return cls(params, lr=c["lr"], weight_decay=c["weight_decay"], **extra)

    def _max_norm(self):
        out = getattr(self.network, "output", None)
        s = self.config["max_norm"]
        if s is None or out is None:
            return
        W = out.W.value                     # (n_classes, in_dim): one row per class
        norms = np.sqrt((W * W).sum(1, keepdims=True))
        W *= np.minimum(1.0, s / np.maximum(norms, 1e-12)).astype(W.dtype)

    def fit(self, train, dev=None, vectors=None, checkpoint=None, checkpoint_every=60.0, resume=False,
            progress=sys.stderr):
        """Trains on `train` (a Dataset, or (sentences, labels)); the epoch scoring best on `dev`
        (default: a seeded valid_fraction of train held out) is kept. vectors: "glove", a vectors
        file, or a KeyedVectors / {word: vector} (sequence models). checkpoint: a path written
        atomically every `checkpoint_every` seconds and at each epoch's end; resume=True continues
        from it exactly. progress: a stream for the status line, or None. Returns self."""
        train = _as_dataset(train, "train")
        if len(train) == 0:
            raise ValueError("train: no examples")
        c = self.config
        if dev is None and c["valid_fraction"] > 0 and len(train) >= 20:
            train, dev = split_dev(train, c["valid_fraction"], seed=c["seed"] + 1)
        elif dev is not None:
            dev = _as_dataset(dev, "dev")
        self.lower = train.name != "trec"
        label_names = train.label_names or sorted(set(train.labels))
        self.training_data = {"name": train.name, "examples": len(train), "selection": len(dev) if dev else 0,
                              "fingerprint": _fingerprint(train)}
        state = None
        if resume:
            if checkpoint is None:
                raise ValueError("resume=True needs checkpoint=PATH")
            if os.path.exists(checkpoint):
                state = self._read_checkpoint(checkpoint, self.training_data["fingerprint"])
        if state is None:
            self._build(train.sentences, vectors, label_names)
        else:
            self.labels = state["labels"]
        y = self._targets(train.labels, "train")
        X = self._encode(train.sentences)
        Xd, yd = (self._encode(dev.sentences), self._targets(dev.labels, "dev")) if dev else (None, None)
        if c["optimizer"] == "lbfgs":
            return self._fit_lbfgs(X, y, progress)
        params = self.network.parameters()
        opt = self._optimizer(params)
        rng = np.random.default_rng(c["seed"])
        start_epoch, start_batch, best, best_score, sums = 0, 0, None, -1.0, [0.0, 0, 0]
        if state is not None:
            start_epoch, start_batch, best, best_score, sums = self._restore(state, params, opt, rng)
        loss_fn = nn.SoftmaxCrossEntropy()
        n = len(y)
        lengths = [len(ids) for ids in X] if self.spec.input == "sequence" else None
        prog = _Progress(progress, n * (c["epochs"] - start_epoch) - start_batch * c["batch_size"])
        last_save = time.perf_counter()
        for epoch in range(start_epoch, c["epochs"]):
            epoch_rng = rng.bit_generator.state
            if self.spec.input == "sequence" and c["bucket"]:
                chunks = bucketed_batches(lengths, c["batch_size"], rng, c["bucket"])
            else:
                chunks = batches(n, c["batch_size"], rng)
            t0 = time.perf_counter()
            for b in range(start_batch, len(chunks)):
                idx = chunks[b]
                logits = self.network.forward(*self._batch(X, idx), train=True)
                loss = loss_fn.forward(logits, y[idx])
                self.network.backward(loss_fn.backward())
                if c.get("clip_norm") is not None:  # dense gradients and sparse embedding rows together
                    ops.clip_grad_norm(params, c["clip_norm"])
                opt.step()
                opt.zero_grad()
                self._max_norm()
                if self.spec.input == "sequence":
                    self._zero_padding_row()
                sums[0] += float(loss) * len(idx)
                sums[1] += int((logits.argmax(1) == y[idx]).sum())
                sums[2] += len(idx)
                prog.done += len(idx)
                prog.update(epoch, c["epochs"], sums[2], n, sums[0] / sums[2], sums[1] / sums[2])
                if checkpoint and time.perf_counter() - last_save >= checkpoint_every and b + 1 < len(chunks):
                    self._write_checkpoint(checkpoint, params, opt, epoch, b + 1, epoch_rng, best, best_score, sums)
                    last_save = time.perf_counter()
            start_batch = 0
            score = self._accuracy(Xd, yd) if dev else sums[1] / max(sums[2], 1)
            self.history.append({"epoch": epoch + 1, "loss": sums[0] / max(sums[2], 1),
                                 "train_accuracy": sums[1] / max(sums[2], 1),
                                 "selection_accuracy": score if dev else None,
                                 "seconds": time.perf_counter() - t0})
            prog.message(f"epoch {epoch + 1}/{c['epochs']}: loss {self.history[-1]['loss']:.4f} train acc "
                         f"{self.history[-1]['train_accuracy'] * 100:.2f}%"
                         + (f" selection acc {score * 100:.2f}%" if dev else ""))
            if dev is None or score > best_score:
                best_score, best = score, [p.value.copy() for p in params]
            sums = [0.0, 0, 0]
            if checkpoint:
                self._write_checkpoint(checkpoint, params, opt, epoch + 1, 0, rng.bit_generator.state, best,
                                       best_score, sums)
                last_save = time.perf_counter()
        prog.close()
        if best is not None:
            for p, v in zip(params, best):
                p.value[...] = v
        return self

    def _fit_lbfgs(self, X, y, progress):
        """Full-batch L-BFGS (SciPy) on mean cross-entropy + weight_decay/2 |theta|^2."""
        try:
            from scipy.optimize import minimize
        except ImportError as e:
            raise ImportError("optimizer 'lbfgs' needs SciPy: pip install 'fastnlp[lbfgs]'") from e
        c, net, loss_fn = self.config, self.network, nn.SoftmaxCrossEntropy()
        params = net.parameters()
        sizes = [p.value.size for p in params]
        n = len(y)

        def set_theta(theta):
            k = 0
            for p, s in zip(params, sizes):
                p.value[...] = theta[k:k + s].reshape(p.value.shape)
                k += s

        def fg(theta):
            set_theta(theta)
            net.zero_grad()
            total = 0.0
            for idx in batches(n, 4096):
                logits = net.forward(*self._batch(X, idx), train=False)
                total += float(loss_fn.forward(logits, y[idx])) * len(idx)
                net.backward(loss_fn.backward(scale=len(idx) / n))
            grads = []
            for p in params:
                g = np.zeros(p.value.shape, np.float64)
                if p.grad is not None:
                    g += p.grad
                if p.sparse_grad is not None:
                    np.add.at(g, np.asarray(p.sparse_grad[0]), p.sparse_grad[1])
                grads.append(g.ravel())
            net.zero_grad()
            wd = c["weight_decay"]
            return total / n + 0.5 * wd * float(theta @ theta), np.concatenate(grads) + wd * theta

        theta0 = np.concatenate([p.value.ravel() for p in params]).astype(np.float64)
        res = minimize(fg, theta0, jac=True, method="L-BFGS-B", options={"maxiter": c["max_iter"]})
        set_theta(res.x)
        self.history.append({"lbfgs_iterations": int(res.nit), "loss": float(res.fun), "message": str(res.message)})
        if progress is not None:
            progress.write(f"lbfgs: {res.nit} iterations, objective {res.fun:.4f} ({res.message})\n")
        return self

    # ---- checkpoints -----------------------------------------------------------------------------

    def _write_checkpoint(self, path, params, opt, epoch, batch, epoch_rng, best, best_score, sums):
        arrays = parameter_arrays(params)
        if best is not None:
            arrays.update({f"best.{i}": v for i, v in enumerate(best)})
        opt_state = flatten(optimizer_state(opt), "opt", arrays)
        header = self._header()
        header.update(epoch=epoch, batch=batch, epoch_rng=epoch_rng, best_score=best_score,
                      has_best=best is not None, sums=sums, optimizer_state=opt_state,
                      network_rngs=[g.bit_generator.state for g in N.generators(self.network)])
        arrays.update(self._vocab_arrays())
        safeformat.save(path, CHECKPOINT_FORMAT, VERSION, header, arrays)

    def _read_checkpoint(self, path, fingerprint):
        header, arrays, bad = safeformat.load(path, CHECKPOINT_FORMAT, VERSION, (), "classifier checkpoint")
        if header.get("model") != self.model:
            raise ValueError(f"{path}: checkpoint of a {header.get('model')!r} model, not {self.model!r}")
        if header["training_data"].get("fingerprint") != fingerprint:
            raise ValueError(f"{path}: checkpoint was made on other training data; remove it to start afresh")
        # the vectors (and the embedding size they set) were read when the checkpoint was started
        free = {"vectors"} | (set() if "embed_dim" in self._given else {"embed_dim"})
        if {k: v for k, v in header["config"].items() if k not in free} != \
                {k: v for k, v in json.loads(json.dumps(self.config)).items() if k not in free}:
            raise ValueError(f"{path}: checkpoint was made with other settings: {header['config']}")
        self.config.update({k: header["config"][k] for k in free if k in header["config"]})
        self._restore_inputs(header, arrays, bad)
        return {"header": header, "arrays": arrays, "labels": header["labels"]}

    def _restore(self, state, params, opt, rng):
        header, arrays = state["header"], state["arrays"]
        self._set_params(params, arrays, "param", ValueError)
        load_optimizer_state(opt, unflatten(header["optimizer_state"], arrays))
        for g, s in zip(N.generators(self.network), header["network_rngs"]):
            g.bit_generator.state = s
        rng.bit_generator.state = header["epoch_rng"]
        self.history = header["history"]
        best = [arrays[f"best.{i}"] for i in range(len(params))] if header["has_best"] else None
        return header["epoch"], header["batch"], best, header["best_score"], header["sums"]

    # ---- prediction ------------------------------------------------------------------------------

    def _check_fitted(self):
        if self.network is None:
            raise ValueError("Classifier: call fit() or Classifier.load() first")

    def _logits(self, encoded):
        n = self._count(encoded)
        out = [self.network.forward(*self._batch(encoded, idx), train=False) for idx in batches(n, _EVAL_BATCH)]
        return np.concatenate(out) if out else np.zeros((0, len(self.labels)), np.float32)

    def _accuracy(self, encoded, y):
        return float((self._logits(encoded).argmax(1) == y).mean()) if len(y) else float("nan")

    def predict_proba(self, sentences):
        """(n, n_classes) class probabilities; sentences: token lists, or strings (tokenized as in training)."""
        self._check_fitted()
        logits = self._logits(self._encode(sentences))
        return ops.softmax(np.ascontiguousarray(logits, np.float32)) if len(logits) else logits

    def predict(self, sentences):
        """The label name of each sentence."""
        self._check_fitted()
        return [self.labels[k] for k in self._logits(self._encode(sentences)).argmax(1)]

    def evaluate(self, data):
        """Accuracy on a Dataset or (sentences, labels)."""
        self._check_fitted()
        data = _as_dataset(data, "data")
        return self._accuracy(self._encode(data.sentences), self._targets(data.labels, "evaluate"))

    # ---- files -----------------------------------------------------------------------------------

    def _header(self):
        return {"model": self.model, "config": self.config, "labels": self.labels, "lower": self.lower,
                "training_data": self.training_data, "history": self.history}

    def _vocab_arrays(self):
        words = self.featurizer.features if self.spec.input == "bag" else self.vocab.index_to_word
        blob, offsets = safeformat.encode_strings(words)
        return {"vocab_blob": blob, "vocab_offsets": offsets}

    def _restore_inputs(self, header, arrays, bad):
        words = safeformat.decode_strings(arrays["vocab_blob"], arrays["vocab_offsets"], bad)
        self.labels, self.lower = header["labels"], bool(header["lower"])
        self.training_data = header["training_data"]
        if self.spec.input == "bag":
            self.featurizer = bow.Featurizer(features=words)
        else:
            if words[:2] != ["<pad>", "<unk>"]:
                raise bad("vocabulary does not start with <pad>, <unk>")
            self.vocab = Vocabulary(words[2:])
        pretrained = None
        if self.config.get("vectors") and self.spec.input == "sequence":
            pretrained = np.zeros((len(words), self.config["embed_dim"]), np.float32)  # overwritten below
        self.network = self.spec.build(self.config, len(words), len(self.labels), pretrained)

    def _set_params(self, params, arrays, prefix, bad):
        load_parameter_arrays(params, arrays, prefix, bad, f"a {self.model} network")

    def save(self, path):
        """Writes the model to `path` in fastnlp's safe format (atomically; never pickle)."""
        self._check_fitted()
        arrays = {f"param.{i}": p.value for i, p in enumerate(self.network.parameters())}
        arrays.update(self._vocab_arrays())
        safeformat.save(path, FORMAT, VERSION, self._header(), arrays)

    @classmethod
    def load(cls, path):
        header, arrays, bad = safeformat.load(path, FORMAT, VERSION, ("vocab_blob", "vocab_offsets"), "classifier")
        with safeformat.wrap_errors(path, bad):
            clf = cls(header["model"], **{k: v for k, v in header["config"].items()})
            labels = header["labels"]
            if not (isinstance(labels, list) and labels and all(isinstance(x, str) for x in labels)):
                raise bad("labels must be a non-empty list of strings")
            clf._restore_inputs(header, arrays, bad)
            clf.history = header.get("history", [])
            clf._set_params(clf.network.parameters(), arrays, "param", bad)
        return clf
