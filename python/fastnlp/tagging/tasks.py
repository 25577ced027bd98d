"""The data of each shipped tagger: which corpora it learns from, how their tag conventions are made
to agree, and three disjoint parts of it: `train`, `dev` (model selection: the best epoch, and the
choice between configurations) and `heldout` (reported, never selected on).

Held-out text is carved by document where the corpus marks documents, so no document is on both sides:
- WSJ gold POS sample (wsj_0058-0199): documents 0, 10, 20, ... (in file order) are dev, documents 5,
  15, 25, ... held out, the other 80% train.
- CoNLL-2000 (WSJ sections 15-18 in order, no document marks): the last 10% of its sentences are held
  out, the 10% before them dev (contiguous blocks, so whole articles).
- CoNLL-2003: train's documents 0, 10, 20, ... are dev; valid is held out.
- UD English-EWT: train's documents (`# newdoc` marks) 0, 10, 20, ... are dev; EWT dev is held out.
"""

import os
from typing import List, NamedTuple

from .data import Sentence, read_conll, read_conll_documents, read_conllu, read_conllu_documents

WSJ_SAMPLE = ("gold Penn Treebank POS tags of WSJ files wsj_0058-0199 (NLTK's Penn Treebank sample, LDC 1995, "
              "non-commercial research use)")


class TaskData(NamedTuple):
    train: List[Sentence]
    dev: List[Sentence]          # model selection
    heldout: List[Sentence]      # reported only
    dev_name: str
    heldout_name: str


def every_tenth(documents, *offsets):
    """The sentences of documents offset, offset + 10, ... for each offset, then those of all other
    documents: one list per offset, then the rest."""
    parts = [[] for _ in range(len(offsets) + 1)]
    for i, (_, sentences) in enumerate(documents):
        k = i % 10
        parts[offsets.index(k) if k in offsets else -1].extend(sentences)
    return parts


# EWT's PTB tags (XPOS) follow the UD English guidelines, which differ from the WSJ treebank's: EWT
# tags prepositional "to" IN where the treebank tags every "to" TO (the largest error class a mixed
# model made on WSJ text), writes bracket tags -LRB- -RRB- where the WSJ files write ( ), and has tags
# the WSJ tagset lacks. Mapped to the WSJ conventions; sentences with GW (pieces of a word split by a
# typo, which the treebank never splits) are dropped.
EWT_TO_WSJ_TAGS = {"-LRB-": "(", "-RRB-": ")", "HYPH": ":", "NFP": ":", "ADD": "NN", "AFX": "JJ"}


def ewt_to_wsj_conventions(sentences):
    out = []
    for s in sentences:
        if "GW" in s.tags:
            continue
        tags = ["TO" if w.lower() == "to" and t == "IN" else EWT_TO_WSJ_TAGS.get(t, t)
                for w, t in zip(s.tokens, s.tags)]
        out.append(Sentence(s.tokens, tags))
    return out


def wsj_gold(data_dir):
    """The WSJ sample's documents, its one ambiguous tag (VBG|NN) read as its first choice."""
    docs = read_conll_documents(os.path.join(data_dir, "tagging", "wsj-sample", "train.txt"), tag_column=1)
    return [(name, [Sentence(s.tokens, [t.split("|")[0] for t in s.tags]) for s in sents]) for name, sents in docs]


def load_task_data(task, data_dir, corpora=None):
    """TaskData for one shipped task from the shared data directory. `corpora` (pos only) picks the
    training corpora: a tuple of "wsj" (gold sample), "ewt" (EWT train, harmonized), "conll2000"
    (CoNLL-2000 train's POS column, tagged by the Brill tagger); default: TASKS["pos"]["corpora"].
    A corpus named twice is taken twice (weighting the small gold sample against the larger ones)."""
    from .train import TASKS

    tagging = os.path.join(data_dir, "tagging")
    ewt = os.path.join(tagging, "ud_en_ewt")
    if task == "pos":
        corpora = TASKS["pos"]["corpora"] if corpora is None else tuple(corpora)
        unknown = set(corpora) - {"wsj", "ewt", "conll2000"}
        if unknown or not corpora:
            raise ValueError(f"load_task_data: corpora must be a non-empty subset of wsj, ewt, conll2000, "
                             f"got {corpora!r}")
        dev, heldout, train_wsj = every_tenth(wsj_gold(data_dir), 0, 5)
        train = train_wsj * corpora.count("wsj")
        if "ewt" in corpora:
            train = train + ewt_to_wsj_conventions(read_conllu(os.path.join(ewt, "en_ewt-ud-train.conllu"),
                                                               tag_field="xpos"))
        if "conll2000" in corpora:
            train = train + read_conll(os.path.join(tagging, "conll2000", "train.txt"), tag_column=1)
        return TaskData(train, dev, heldout, "WSJ gold sample, dev documents (10%)",
                        "WSJ gold sample, held-out documents (10%)")
    if task == "chunk":
        sentences = read_conll(os.path.join(tagging, "conll2000", "train.txt"), tag_column=2)
        n = len(sentences) // 10
        return TaskData(sentences[:-2 * n], sentences[-2 * n:-n], sentences[-n:],
                        "CoNLL-2000 train, the 10% before the last", "CoNLL-2000 train, last 10%")
    if task == "ner":
        docs = read_conll_documents(os.path.join(tagging, "conll2003", "train.txt"), tag_column=3)
        dev, train = every_tenth(docs, 0)
        return TaskData(train, dev, read_conll(os.path.join(tagging, "conll2003", "valid.txt"), tag_column=3),
                        "CoNLL-2003 train, every 10th document", "CoNLL-2003 valid")
    if task == "upos":
        docs = read_conllu_documents(os.path.join(ewt, "en_ewt-ud-train.conllu"), tag_field="upos")
        dev, train = every_tenth(docs, 0)
        return TaskData(train, dev, read_conllu(os.path.join(ewt, "en_ewt-ud-dev.conllu"), tag_field="upos"),
                        "UD EWT train, every 10th document", "UD EWT dev")
    raise ValueError(f"load_task_data: unknown task {task!r}; expected one of {list(TASKS)}")
