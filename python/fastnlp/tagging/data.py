"""Readers for the tagging corpora: CoNLL column files (CoNLL-2000 chunking, CoNLL-2003 NER) and CoNLL-U
(Universal Dependencies), each giving a list of Sentence(tokens, tags); and the train/dev holdout for
corpora shipped without a development split (CoNLL-2000).

Files are read as strict UTF-8 (a leading byte-order mark is dropped): a line that does not decode is a
ValueError naming the file and line, instead of a silently replaced character; pass `encoding` for
files in another encoding.
"""

import random
from typing import List, NamedTuple


class Sentence(NamedTuple):
    """One sentence: its tokens and one tag per token."""
    tokens: List[str]
    tags: List[str]


# Penn Treebank escapes of brackets, as CoNLL-2000 writes them in the word column.
PTB_BRACKETS = {"-LRB-": "(", "-RRB-": ")", "-LSB-": "[", "-RSB-": "]", "-LCB-": "{", "-RCB-": "}"}


def _check_max_sentences(max_sentences, op):
    if max_sentences is not None and (not isinstance(max_sentences, int) or max_sentences < 0):
        raise ValueError(f"{op}: max_sentences must be None or an int >= 0, got {max_sentences!r}")


def _lines(path, encoding):
    """(line number from 1, text without the line break) of the file, decoded line by line so a
    decoding error can name its line."""
    with open(path, "rb") as f:
        for number, raw in enumerate(f, 1):
            try:
                line = raw.decode(encoding)
            except UnicodeDecodeError as e:
                raise ValueError(f"{path}:{number}: not valid {encoding} ({e.reason} at byte {e.start} of "
                                 f"the line); pass encoding= for files in another encoding") from None
            if number == 1 and line.startswith("\ufeff"):
                line = line[1:]
            yield number, line.rstrip("\r\n")


def read_conll(path, tag_column=-1, word_column=0, max_sentences=None, unescape_brackets=True,
               unescape_backslash=True, encoding="utf-8"):
    """Sentences of a CoNLL column file: one token per line, columns separated by whitespace, a blank
    line after each sentence (CoNLL-2000: `word POS chunk`; CoNLL-2003: `word POS chunk NER`).

    tag_column, word_column: column indices (negative counts from the end): CoNLL-2000 POS is 1, its
    chunk tags -1; CoNLL-2003 NER is -1. `-DOCSTART-` lines are document marks, not sentences, and are
    skipped (one also ends a sentence it interrupts); runs of blank lines count as one; a last sentence
    without a blank line after it is kept. Every token line must have as many columns as the first one
    does: ValueError naming the file and line otherwise. max_sentences: stop after that many sentences.
    unescape_brackets: map -LRB- -RRB- -LSB- -RSB- -LCB- -RCB- in the word column to ( ) [ ] { }, the
    bracket tokens raw text and the tokenizer give. unescape_backslash: drop the backslash of the
    treebank's \\/ and \\* escapes in the word column (CoNLL-2000's "1\\/2" -> "1/2").
    """
    _check_max_sentences(max_sentences, "read_conll")
    sentences = []
    if max_sentences == 0:
        return sentences
    for item in _conll_items(path, tag_column, word_column, unescape_brackets, unescape_backslash, encoding):
        if isinstance(item, Sentence):
            sentences.append(item)
            if len(sentences) == max_sentences:
                break
    return sentences


def read_conll_documents(path, tag_column=-1, word_column=0, unescape_brackets=True, unescape_backslash=True,
                         encoding="utf-8"):
    """The documents of a CoNLL column file, as read_conll reads its sentences: a list of (name,
    sentences), a document starting at each `-DOCSTART-` line and named by the text after it
    (`-DOCSTART- wsj_0058`), or by its number from 0 when there is none (CoNLL-2003's
    `-DOCSTART- -X- -X- O`). Sentences before the first mark form a document of their own.
    Documents are what held-out splits should be carved from, so no text is on both sides."""
    documents = []
    for item in _conll_items(path, tag_column, word_column, unescape_brackets, unescape_backslash, encoding):
        if isinstance(item, Sentence):
            if not documents:
                documents.append(("0", []))
            documents[-1][1].append(item)
        else:
            documents.append((item or str(len(documents)), []))
    return [(name, sents) for name, sents in documents if sents]


def _conll_items(path, tag_column, word_column, unescape_brackets, unescape_backslash, encoding):
    """Yields each Sentence of a CoNLL column file, and at each `-DOCSTART-` line the document's name
    (the second field when it is not CoNLL-2003's `-X-`, else "")."""
    for name, value in (("tag_column", tag_column), ("word_column", word_column)):
        if not isinstance(value, int):
            raise TypeError(f"read_conll: {name} must be an int, got {type(value).__name__}")
    tokens, tags = [], []
    n_columns = None
    for number, line in _lines(path, encoding):
        fields = line.split()
        doc_start = bool(fields) and fields[0] == "-DOCSTART-"
        if doc_start or not fields:
            if tokens:
                yield Sentence(tokens, tags)
                tokens, tags = [], []
            if doc_start:
                yield fields[1] if len(fields) > 1 and fields[1] != "-X-" else ""
            continue
        if n_columns is None:
            n_columns = len(fields)
            for name, value in (("tag_column", tag_column), ("word_column", word_column)):
                if not -n_columns <= value < n_columns:
                    raise ValueError(f"read_conll: {name}={value} is out of range for {path}, whose "
                                     f"first token line (line {number}) has {n_columns} columns")
        elif len(fields) != n_columns:
            raise ValueError(f"{path}:{number}: expected {n_columns} columns like the first token line, "
                             f"got {len(fields)}: {line!r}")
        word = fields[word_column]
        if unescape_brackets:
            word = PTB_BRACKETS.get(word, word)
        if unescape_backslash and "\\" in word:
            word = word.replace("\\/", "/").replace("\\*", "*")
        tokens.append(word)
        tags.append(fields[tag_column])
    if tokens:
        yield Sentence(tokens, tags)


def read_conllu(path, tag_field="upos", max_sentences=None, encoding="utf-8"):
    """Sentences of a CoNLL-U file (Universal Dependencies) with the tags of `tag_field`: "upos" (the
    universal POS tags) or "xpos" (the treebank's own, e.g. Penn Treebank tags for English EWT).

    Tokens are the syntactic words: multi-word token ranges ("1-2 don't") are skipped, their words
    ("do", "n't") kept, and empty nodes ("8.1") skipped. A word whose tag is missing ("_") is a
    ValueError naming the file and sentence, not a silently dropped sentence: a treebank without XPOS
    must be read with tag_field="upos". Needs the optional `conllu` package (pip install conllu).
    """
    _check_tag_field(tag_field)
    _check_max_sentences(max_sentences, "read_conllu")
    conllu = _import_conllu()
    sentences = []
    if max_sentences == 0:
        return sentences
    for item in _conllu_items(conllu, path, tag_field, encoding):
        if isinstance(item, Sentence):
            sentences.append(item)
            if len(sentences) == max_sentences:
                break
    return sentences


def read_conllu_documents(path, tag_field="upos", encoding="utf-8"):
    """The documents of a CoNLL-U file, as read_conllu reads its sentences: a list of (name,
    sentences), a document starting at each `# newdoc` comment and named by its id (or numbered
    from 0). Sentences before the first mark form a document of their own."""
    _check_tag_field(tag_field)
    conllu = _import_conllu()
    documents = []
    for item in _conllu_items(conllu, path, tag_field, encoding):
        if isinstance(item, Sentence):
            if not documents:
                documents.append(("0", []))
            documents[-1][1].append(item)
        else:
            documents.append((item or str(len(documents)), []))
    return documents


def _check_tag_field(tag_field):
    if tag_field not in ("upos", "xpos"):
        raise ValueError(f"read_conllu: tag_field must be 'upos' or 'xpos', got {tag_field!r}")


def _import_conllu():
    try:
        import conllu
    except ImportError:
        raise ImportError("read_conllu needs the optional 'conllu' package: pip install conllu") from None
    return conllu


def _conllu_items(conllu, path, tag_field, encoding):
    """Yields each Sentence of a CoNLL-U file, preceded at each `# newdoc` comment by the document's
    id ("" when it has none)."""
    with open(path, encoding=encoding) as f:
        try:
            for index, token_list in enumerate(conllu.parse_incr(f)):
                meta = token_list.metadata
                if "newdoc id" in meta or "newdoc" in meta:
                    yield meta.get("newdoc id") or ""
                tokens, tags = [], []
                for token in token_list:
                    if not isinstance(token["id"], int):   # (1, "-", 2) range or (8, ".", 1) empty node
                        continue
                    tag = token.get(tag_field)          # absent from a line with too few columns
                    if tag is None or tag == "_":
                        sent_id = meta.get("sent_id", "?")
                        raise ValueError(f"{path}: sentence {index} (sent_id {sent_id}) word {token['id']} "
                                         f"{token['form']!r} has no {tag_field} tag")
                    tokens.append(token["form"])
                    tags.append(tag)
                yield Sentence(tokens, tags)
        except conllu.exceptions.ParseException as e:
            raise ValueError(f"{path}: not valid CoNLL-U: {e}") from None
        except UnicodeDecodeError as e:
            raise ValueError(f"{path}: not valid {encoding} ({e.reason}); pass encoding= for files in "
                             f"another encoding") from None


def split_train_dev(sentences, dev_fraction=0.1, seed=None):
    """(train, dev): a deterministic holdout of int(len(sentences) * dev_fraction) sentences.

    seed=None (default) holds out the LAST sentences, a contiguous block: for CoNLL-2000 (WSJ sections
    15-18 in order) the dev sentences then come from whole documents that train never sees. An int seed
    instead picks dev sentences at random with random.Random(seed) (the same split on every platform).
    Both parts keep the corpus order. ValueError when either part would be empty.
    """
    sentences = list(sentences)
    if not isinstance(dev_fraction, (int, float)) or not 0 < dev_fraction < 1:
        raise ValueError(f"split_train_dev: dev_fraction must be in (0, 1), got {dev_fraction!r}")
    n_dev = int(len(sentences) * dev_fraction)
    if n_dev == 0 or n_dev == len(sentences):
        raise ValueError(f"split_train_dev: {len(sentences)} sentences with dev_fraction={dev_fraction} "
                         f"leave an empty train or dev part")
    if seed is None:
        return sentences[:-n_dev], sentences[-n_dev:]
    dev_index = set(random.Random(seed).sample(range(len(sentences)), n_dev))
    train = [s for i, s in enumerate(sentences) if i not in dev_index]
    dev = [s for i, s in enumerate(sentences) if i in dev_index]
    return train, dev
