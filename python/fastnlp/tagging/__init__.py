"""SENNA-style window taggers (Collobert et al. 2011): POS, chunking and NER, shipped pretrained.

    >>> from fastnlp.tagging import load_tagger, tokenize
    >>> load_tagger("pos").tag(tokenize("The cat sat on the mat."))
    ['DT', 'NN', 'VBD', 'IN', 'DT', 'NN', '.']

Modules: features (token features, the spec of the C++ featurizer), data (CoNLL / CoNLL-U readers),
schemes (IOB1 / IOB2 / BIOES), metrics (conlleval F1, accuracy), tokenizer (PTB-style), network (the
trainable window network), tasks (each shipped model's data: train / dev / held-out parts), train
(training and the shipped models), tagger (fast inference, model files); bilstm, bilstm_tagger and
train_bilstm: the BiLSTM-CNN-CRF taggers ("pos-bilstm", "chunk-bilstm", "ner-bilstm").
"""

from .bilstm_tagger import BiLSTMTagger
from .tagger import PRETRAINED, PRETRAINED_BILSTM, Tagger, load_tagger
from .tokenizer import sentences, tokenize

__all__ = ["Tagger", "BiLSTMTagger", "load_tagger", "PRETRAINED", "PRETRAINED_BILSTM", "tokenize", "sentences"]
