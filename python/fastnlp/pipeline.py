"""Raw text in, annotated documents out: ``fastnlp.pipeline("pos,chunk,ner")`` splits a text into
sentences and tokens that keep their character offsets, tags them with the shipped (or saved) window
taggers and returns a :class:`Doc`.

    >>> import fastnlp
    >>> nlp = fastnlp.pipeline("pos,ner")
    >>> doc = nlp("Mr. Smith went to Paris. He liked it.")
    >>> [(t.text, t.pos, t.ner) for t in doc.sents[1]]
    [('He', 'PRP', 'O'), ('liked', 'VBD', 'O'), ('it', 'PRP', 'O'), ('.', '.', 'O')]
    >>> [(e.text, e.label, e.start_char, e.end_char) for e in doc.ents]
    [('Smith', 'PER', 4, 9), ('Paris', 'LOC', 18, 23)]

A Doc holds arrays (token offsets, tag ids), not one Python object per token: Token and Span objects
are made when they are asked for. ``token.text == doc.text[token.start:token.end]`` always; the
tagger sees ``token.norm``, the token's Penn Treebank form (``"`` opening a quotation is `````).
Chunk and NER tags are IOB2; ``doc.chunks`` and ``doc.ents`` are their spans.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterable, Iterator

import numpy as np

from .tagging.schemes import chunks as _read_chunks
from .tagging.tagger import Tagger, load_tagger
from .tagging.tokenizer import sentence_spans, tokenize_texts, tokenize_with_offsets

__all__ = ["pipeline", "Pipeline", "Doc", "Token", "Span"]

# The task whose spans doc.ents / doc.chunks are.
_SPAN_TASKS = {"ents": "ner", "chunks": "chunk"}


class Token:
    """One token of a :class:`Doc`, made on demand: ``.text`` (``doc.text[start:end]``), ``.start`` and
    ``.end`` (character offsets), ``.i`` (index in the doc), ``.norm`` (the form the taggers saw) and one
    tag per task run (``.pos``, ``.chunk``, ``.ner``, ``.upos``; None for a task the pipeline did not run;
    ``token.tag(task)`` for any task name).

    Parameters
    ----------
    doc : Doc
        The document the token belongs to.
    i : int
        The token's index in `doc`.
    """

    __slots__ = ("doc", "i")

    def __init__(self, doc: Doc, i: int):
        self.doc = doc
        self.i = i

    @property
    def start(self) -> int:
        return int(self.doc._starts[self.i])

    @property
    def end(self) -> int:
        return int(self.doc._ends[self.i])

    @property
    def text(self) -> str:
        return self.doc.text[self.doc._starts[self.i]:self.doc._ends[self.i]]

    @property
    def norm(self) -> str:
        return self.doc._norms[self.i]

    def tag(self, task: str) -> str | None:
        """This token's tag from `task` ("pos", "ner", ... or a saved tagger's task), None when not run."""
        tags = self.doc._tags.get(task)
        return None if tags is None else tags[0][tags[1][self.i]]

    pos = property(lambda self: self.tag("pos"), doc="Penn Treebank POS tag, None when not run.")
    chunk = property(lambda self: self.tag("chunk"), doc="IOB2 chunk tag, None when not run.")
    ner = property(lambda self: self.tag("ner"), doc="IOB2 entity tag, None when not run.")
    upos = property(lambda self: self.tag("upos"), doc="Universal POS tag, None when not run.")

    def __len__(self) -> int:
        return self.end - self.start

    def __str__(self) -> str:
        return self.text

    def __repr__(self) -> str:
        return self.text


class Span:
    """Tokens ``start`` to ``end`` (exclusive) of a doc: a sentence, an entity or a chunk. ``.label`` (the
    entity or chunk type, "" for a sentence), ``.start_char`` / ``.end_char`` (character offsets),
    ``.text``; iterating gives its Tokens.

    Parameters
    ----------
    doc : Doc
        The document the span belongs to.
    start, end : int
        Its first token's index and one past its last token's index.
    label : str
        The entity or chunk type; "" for a sentence.
    """

    __slots__ = ("doc", "start", "end", "label")

    def __init__(self, doc: Doc, start: int, end: int, label: str = ""):
        self.doc = doc
        self.start = start
        self.end = end
        self.label = label

    @property
    def start_char(self) -> int:
        return int(self.doc._starts[self.start])

    @property
    def end_char(self) -> int:
        return int(self.doc._ends[self.end - 1])

    @property
    def text(self) -> str:
        return self.doc.text[self.start_char:self.end_char]

    def __len__(self) -> int:
        return self.end - self.start

    def __iter__(self) -> Iterator[Token]:
        doc = self.doc
        return (Token(doc, i) for i in range(self.start, self.end))

    def __getitem__(self, i: int) -> Token:
        n = self.end - self.start
        if not -n <= i < n:
            raise IndexError(f"Span: token index {i} out of range for a span of {n} tokens")
        return Token(self.doc, self.start + (i % n))

    def __repr__(self) -> str:
        return f"Span({self.text!r}, label={self.label!r})" if self.label else f"Span({self.text!r})"


class Doc:
    """An annotated text. Iterating gives its :class:`Token` objects, ``len(doc)`` is the number of
    tokens, ``doc[i]`` the i-th token; ``doc.text`` is the text as given, ``doc.sents`` its sentences,
    ``doc.ents`` / ``doc.chunks`` the entity / chunk spans (ValueError when the pipeline ran no ner /
    chunk tagger), ``doc.tasks`` the tasks run and ``doc.to_json()`` all of it as a dict.

    Docs are made by :class:`Pipeline`; the constructor is not meant for users.

    Parameters
    ----------
    text : str
        The text as given.
    norms : list of str
        Each token's Penn Treebank form (what the taggers saw).
    starts, ends : numpy.ndarray
        int64 (N,): each token's character offsets into `text`.
    sent_bounds : numpy.ndarray
        int64 (S+1,): sentence s is tokens ``sent_bounds[s]`` to ``sent_bounds[s+1]``.
    tags : dict
        task -> (tag names, int32 (N,) tag ids).
    """

    __slots__ = ("text", "_norms", "_starts", "_ends", "_sent_bounds", "_tags", "_spans")

    def __init__(self, text: str, norms: list[str], starts: np.ndarray, ends: np.ndarray,
                 sent_bounds: np.ndarray, tags: dict):
        self.text = text
        self._norms = norms
        self._starts = starts              # int64 (N,)
        self._ends = ends                  # int64 (N,)
        self._sent_bounds = sent_bounds    # int64 (S+1,): sentence s is tokens [b[s], b[s+1])
        self._tags = tags                  # task -> (tag names, int32 (N,) ids)
        self._spans = {}                   # "ents" / "chunks" -> list of (type, start, end), when read

    @property
    def tasks(self) -> tuple[str, ...]:
        return tuple(self._tags)

    def __len__(self) -> int:
        return len(self._norms)

    def __iter__(self) -> Iterator[Token]:
        return (Token(self, i) for i in range(len(self._norms)))

    def __getitem__(self, i: int) -> Token:
        n = len(self._norms)
        if not -n <= i < n:
            raise IndexError(f"Doc: token index {i} out of range for a doc of {n} tokens")
        return Token(self, i % n)

    def __repr__(self) -> str:
        return f"Doc({len(self)} tokens, {len(self._sent_bounds) - 1} sentences, tasks={list(self._tags)})"

    @property
    def sents(self) -> list[Span]:
        b = self._sent_bounds.tolist()
        return [Span(self, b[s], b[s + 1]) for s in range(len(b) - 1)]

    def _chunk_list(self, which: str) -> list[tuple[str, int, int]]:
        found = self._spans.get(which)
        if found is None:
            task = _SPAN_TASKS[which]
            if task not in self._tags:
                raise ValueError(f"Doc.{which}: the pipeline ran no {task} tagger (its tasks: "
                                 f"{', '.join(self._tags) or 'none'})")
            names, ids = self._tags[task]
            tags = [names[k] for k in ids.tolist()]
            b = self._sent_bounds.tolist()
            found = [(label, b[s] + a, b[s] + e) for s in range(len(b) - 1)
                     for label, a, e in _read_chunks(tags[b[s]:b[s + 1]], "IOB2")]
            self._spans[which] = found
        return found

    @property
    def ents(self) -> list[Span]:
        """Entity spans read from the ner tags (IOB2), in order."""
        return [Span(self, a, e, label) for label, a, e in self._chunk_list("ents")]

    @property
    def chunks(self) -> list[Span]:
        """Chunk spans read from the chunk tags (IOB2), in order."""
        return [Span(self, a, e, label) for label, a, e in self._chunk_list("chunks")]

    def to_json(self) -> dict:
        """The doc as a JSON-ready dict: ``{"text", "tokens": [{"start", "end", <task>: tag, ...}],
        "sents": [{"start", "end"}], "ents": [{"start", "end", "label"}], "chunks": [...]}`` with
        character offsets; tags, "ents" and "chunks" only for the tasks run."""
        starts, ends = self._starts.tolist(), self._ends.tolist()
        columns = [(task, [names[k] for k in ids.tolist()]) for task, (names, ids) in self._tags.items()]
        tokens = []
        for i in range(len(starts)):
            token = {"start": starts[i], "end": ends[i]}
            for task, tags in columns:
                token[task] = tags[i]
            tokens.append(token)
        b = self._sent_bounds.tolist()
        out = {"text": self.text, "tokens": tokens,
               "sents": [{"start": starts[b[s]], "end": ends[b[s + 1] - 1]} for s in range(len(b) - 1)]}
        for which, task in _SPAN_TASKS.items():
            if task in self._tags:
                out[which] = [{"start": starts[a], "end": ends[e - 1], "label": label}
                              for label, a, e in self._chunk_list(which)]
        return out


def _tokenize_doc(text: str, tokens=None):
    """(norms, starts, ends, sentence bounds, the sentences' norms) of one text, whose tokens
    (tokenize_with_offsets) may be given."""
    norms, starts, ends = tokenize_with_offsets(text) if tokens is None else tokens
    spans = sentence_spans(text)
    # Sentences are cut at whitespace, so each token lies inside one; bounds in token indices.
    bounds = np.searchsorted(starts, np.array([a for a, _ in spans] + [len(text)], dtype=np.int64))
    if len(bounds) > 1:
        bounds[0], bounds[-1] = 0, len(norms)
    b = bounds.tolist()
    return norms, starts, ends, bounds, [norms[b[s]:b[s + 1]] for s in range(len(b) - 1)]


def _whitespace_doc(text: str):
    """_tokenize_doc's parts for a text that is one sentence of whitespace-separated tokens."""
    spans = [m.span() for m in _WHITESPACE_TOKEN.finditer(text)]
    norms = [text[a:b] for a, b in spans]
    starts = np.array([a for a, _ in spans], dtype=np.int64)
    ends = np.array([b for _, b in spans], dtype=np.int64)
    bounds = np.array([0, len(norms)] if norms else [0], dtype=np.int64)
    return norms, starts, ends, bounds, [norms] if norms else []


_WHITESPACE_TOKEN = re.compile(r"\S+")
_BATCH_CHARS = 1 << 20
_CALL_TOKENS = 1 << 15


class Pipeline:
    """Taggers run over raw text: ``Pipeline(tagger, ...)`` from :class:`~fastnlp.tagging.Tagger` objects
    (or the names / paths ``load_tagger`` takes), usually made by :func:`pipeline`. Each tagger's task
    (its header's "task") names its tags on the tokens; the tasks must be distinct.

    Parameters
    ----------
    *taggers : Tagger or str
        The taggers, or names / paths for :func:`~fastnlp.tagging.load_tagger`, in the order they run.

    Raises
    ------
    ValueError
        When no tagger is given or two have the same task.
    TypeError
        When an argument is neither a Tagger nor a name or path.
    """

    def __init__(self, *taggers: Tagger | str):
        if not taggers:
            raise ValueError("Pipeline: give at least one tagger")
        loaded = []
        for k, tagger in enumerate(taggers):
            if isinstance(tagger, str):
                tagger = load_tagger(tagger)
            elif not isinstance(tagger, Tagger):
                raise TypeError(f"Pipeline: taggers[{k}] must be a Tagger or a task name or path, "
                                f"got {type(tagger).__name__}")
            loaded.append(tagger)
        tasks = [t.task or f"tagger{k}" for k, t in enumerate(loaded)]
        if len(set(tasks)) != len(tasks):
            raise ValueError(f"Pipeline: two taggers have the same task, in {tasks}")
        self.taggers = tuple(loaded)
        self._tasks = tuple(tasks)

    @property
    def tasks(self) -> tuple[str, ...]:
        """The task names, in the order the taggers run."""
        return self._tasks

    def __repr__(self) -> str:
        return f"Pipeline(tasks={list(self._tasks)})"

    def __reduce__(self):
        # By reference: each Tagger pickles as its pretrained name, its file's path or its arrays
        # (Tagger.__reduce__), never its C++ state; the tasks follow from the taggers.
        return Pipeline, self.taggers

    def __call__(self, text: str) -> Doc:
        """The annotated :class:`Doc` of `text` (a str); TypeError otherwise."""
        return self._docs([text])[0]

    def pipe(self, texts: Iterable[str], batch_size: int = 1000, n_process: int = 1) -> Iterator[Doc]:
        """Docs of `texts`, in order, tagging `batch_size` texts per tagger call. Streams: reads the next
        batch only when the previous one's docs have been taken, so memory is bounded by the batch,
        not the input.

        Parameters
        ----------
        texts : iterable of str
        batch_size : int
            Texts per batch (default 1000).
        n_process : int
            Worker processes (default 1: this one).

        Returns
        -------
        iterator of Doc

        Raises
        ------
        ValueError
            When batch_size or n_process is not a positive integer.
        TypeError
            When a text is not a str (raised when that text's batch is read).
        """
        for name, value in (("batch_size", batch_size), ("n_process", n_process)):
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
                raise ValueError(f"Pipeline.pipe: {name} must be a positive integer, got {value!r}")
        if n_process > 1:
            try:
                from ._multiprocess import pipe_parallel
            except ImportError:
                raise NotImplementedError("Pipeline.pipe: n_process > 1 is not available in this "
                                          "installation (fastnlp._multiprocess is missing)") from None
            return pipe_parallel(self, texts, batch_size, n_process)
        return self._pipe(iter(texts), int(batch_size))

    def _pipe(self, texts, batch_size):
        # A batch also ends at _BATCH_CHARS characters, so that a batch of long texts stays small.
        while True:
            batch, size = [], 0
            for text in itertools.islice(texts, batch_size):
                batch.append(text)
                size += len(text) if isinstance(text, str) else 0
                if size >= _BATCH_CHARS:
                    break
            if not batch:
                return
            yield from self._docs(batch)

    def _docs(self, texts: list[str], tokenized: bool = False) -> list[Doc]:
        """Docs of a list of texts: one tagger call per task for all their sentences. With tokenized,
        each text is one sentence of whitespace-separated tokens, taken as they are."""
        for k, text in enumerate(texts):
            if not isinstance(text, str):
                raise TypeError(f"Pipeline: text must be a str, got {type(text).__name__}"
                                + (f" (item {k} of the batch)" if len(texts) > 1 else ""))
        if tokenized:
            parts = [_whitespace_doc(text) for text in texts]
        else:
            parts = [_tokenize_doc(text, tokens) for text, tokens in zip(texts, tokenize_texts(texts))]
        flat = [sentence for part in parts for sentence in part[4]]
        # The taggers' scratch memory grows with the tokens of a call (~1.5 KB each): at most about
        # _CALL_TOKENS tokens per call.
        groups, size, begin = [], 0, 0
        for s, sentence in enumerate(flat):
            size += len(sentence)
            if size >= _CALL_TOKENS:
                groups.append(flat[begin:s + 1])
                size, begin = 0, s + 1
        groups.append(flat[begin:])
        predictions = []
        for tagger in self.taggers:
            preds = [tagger.predict_ids(group)[0] for group in groups if group]
            pred = np.concatenate(preds) if preds else np.zeros(0, np.int32)
            predictions.append((tuple(tagger.tagset), pred))
        docs, at = [], 0
        for text, (norms, starts, ends, bounds, _) in zip(texts, parts):
            n = len(norms)
            tags = {task: (names, pred[at:at + n].copy()) for task, (names, pred) in zip(self._tasks, predictions)}
            docs.append(Doc(text, norms, starts, ends, bounds, tags))
            at += n
        return docs


def pipeline(tasks: str | Iterable[str] = "pos,chunk,ner") -> Pipeline:
    """A :class:`Pipeline` of the taggers `tasks` names: any of "pos", "chunk", "ner", "upos" (the shipped
    models) or paths of saved taggers, comma-separated or as a list.

    Parameters
    ----------
    tasks : str or iterable of str
        Default "pos,chunk,ner".

    Returns
    -------
    Pipeline

    Raises
    ------
    ValueError
        When `tasks` names no tagger, an unknown one, or one twice.
    TypeError
        When `tasks` is neither a str nor an iterable of str.
    """
    if isinstance(tasks, str):
        names = tasks.split(",")
    else:
        try:
            names = list(tasks)
        except TypeError:
            raise TypeError(f"pipeline: tasks must be a str or an iterable of str, got "
                            f"{type(tasks).__name__}") from None
        for name in names:
            if not isinstance(name, str):
                raise TypeError(f"pipeline: tasks must hold str, got {type(name).__name__}")
    names = [name.strip() for name in names if name.strip()]
    if not names:
        raise ValueError(f"pipeline: tasks names no tagger: {tasks!r}")
    return Pipeline(*names)
