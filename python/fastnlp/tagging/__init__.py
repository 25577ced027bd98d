"""SENNA-style window taggers (Collobert et al. 2011): POS, chunking and NER, shipped pretrained.

    >>> from fastnlp.tagging import load_tagger, tokenize
    >>> load_tagger("pos").tag(tokenize("The cat sat on the mat."))
    ['DT', 'NN', 'VBD', 'IN', 'DT', 'NN', '.']

Modules: features (token features, the spec of the C++ featurizer), data (CoNLL / CoNLL-U readers),
schemes (IOB1 / IOB2 / BIOES), metrics (conlleval F1, accuracy), tokenizer (PTB-style), network (the
trainable window network), tasks (each shipped model's data: train / dev / held-out parts), train
(training and the shipped models), tagger (fast inference, model files).
"""

from .tagger import PRETRAINED, Tagger, load_tagger
from .tokenizer import sentences, tokenize

__all__ = ["Tagger", "load_tagger", "PRETRAINED", "tokenize", "sentences"]
