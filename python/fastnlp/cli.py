"""The ``fastnlp`` command line (also ``python -m fastnlp``)."""

import argparse
import codecs
import itertools
import json
import os
import re
import stat
import sys

from ._data import add_data_dir_argument, data_dir

# What `word2vec train` / `eval` read from the data folder when no file is named
_CORPUS = os.path.join("corpus", "en-corpus.txt")
_ANALOGIES = os.path.join("embeddings-eval", "questions-words.txt")
_SIMILARITY = os.path.join("embeddings-eval", "wordsim353.tsv")

def _add_word2vec(sub):
    w2v = sub.add_parser("word2vec", help="train and evaluate word2vec vectors")
    cmd = w2v.add_subparsers(dest="w2v_command", required=True)
    t = cmd.add_parser("train", help="train skip-gram / CBOW vectors on whitespace-tokenized text")
    t.add_argument("corpus", nargs="*", metavar="CORPUS", help="text file(s), one sentence per line "
                   f"(default: {_CORPUS} in the data folder)")
    add_data_dir_argument(t)
    t.add_argument("-o", "--output", required=True, metavar="OUT", help="where to write the vectors / model")
    # Every default is Word2Vec's (None: not given, so Word2Vec's own applies): the command line
    # and the Python API train the same model from the same settings.
    d = _word2vec_defaults()
    t.add_argument("--model", choices=["sg", "cbow"], default="sg" if d["sg"] else "cbow",
                   help=f"skip-gram or CBOW (default {'sg' if d['sg'] else 'cbow'})")
    t.add_argument("--dim", type=int, help=f"vector size (default {d['vector_size']})")
    t.add_argument("--window", type=int, help=f"largest context distance (default {d['window']})")
    t.add_argument("--negative", type=int, help=f"noise words per prediction, 0: off (default {d['negative']})")
    t.add_argument("--hs", action="store_true", help="also train hierarchical softmax")
    t.add_argument("--sample", type=float, help=f"subsampling threshold, 0: off (default {d['sample']:g})")
    t.add_argument("--min-count", type=int, help=f"drop rarer words (default {d['min_count']})")
    t.add_argument("--max-vocab-size", type=int, help="prune while counting beyond this many words")
    t.add_argument("--epochs", type=int, help=f"passes over the corpus (default {d['epochs']})")
    t.add_argument("--threads", type=int, help="training threads (default: the CPU count)")
    t.add_argument("--alpha", type=float, help="start learning rate (default " + ", ".join(
        f"{a:g} {m}" for m, a in d["alpha"].items()) + ")")
    t.add_argument("--min-alpha", type=float, help=f"final learning rate (default {d['min_alpha']:g})")
    t.add_argument("--alpha-schedule", choices=["global", "per_worker"], help="linear decay over all workers' "
                   "words (word2vec.c) or each worker's own (gensim corpus_file) (default " + ", ".join(
                       f"{a} {m}" for m, a in d["alpha_schedule"].items()) + ")")
    t.add_argument("--cbow-sum", action="store_true", help="CBOW: sum the context instead of averaging it")
    t.add_argument("--shared-negatives", action="store_true",
                   help="skip-gram: share each centre's noise words across its window (faster)")
    t.add_argument("--seed", type=int, help=f"random seed (default {d['seed']})")
    t.add_argument("--format", choices=["binary", "text", "fastnlp"], default="binary",
                   help="word2vec binary / text, or fastnlp's model file that can continue training (default binary)")
    t.add_argument("--no-progress", action="store_true", help="no progress bar")
    e = cmd.add_parser("eval", help="evaluate vectors on analogies and word similarity; prints JSON")
    e.add_argument("vectors", metavar="VECTORS", help="word2vec binary/text file or a fastnlp file")
    e.add_argument("--analogies", metavar="FILE", help="questions-words.txt format (default with neither "
                   f"option: {_ANALOGIES} and {_SIMILARITY} in the data folder)")
    e.add_argument("--similarity", metavar="FILE", help="word pairs with scores, e.g. WordSim-353")
    add_data_dir_argument(e)
    e.add_argument("--restrict-vocab", type=int, default=30000, help="analogies: search the first N words (30000)")
    e.add_argument("--method", choices=["3cosadd", "3cosmul"], default="3cosadd")
    e.add_argument("--format", choices=["auto", "binary", "text", "fastnlp"], default="auto")


def _word2vec_defaults():
    """Word2Vec's defaults (its signature, and DEFAULT_ALPHA per model)."""
    import inspect

    from .word2vec import DEFAULT_ALPHA, DEFAULT_ALPHA_SCHEDULE, Word2Vec

    d = {k: p.default for k, p in inspect.signature(Word2Vec.__init__).parameters.items()}
    d["alpha"] = dict(DEFAULT_ALPHA)
    d["alpha_schedule"] = dict(DEFAULT_ALPHA_SCHEDULE)
    return d


def word2vec_kwargs(args):
    """Word2Vec keyword arguments from parsed `word2vec train` arguments: only the options given,
    so that every other setting takes Word2Vec's default."""
    given = {"vector_size": args.dim, "window": args.window, "negative": args.negative, "sample": args.sample,
             "min_count": args.min_count, "max_vocab_size": args.max_vocab_size, "epochs": args.epochs,
             "workers": args.threads, "alpha": args.alpha, "min_alpha": args.min_alpha, "seed": args.seed,
             "alpha_schedule": args.alpha_schedule}
    kw = {k: v for k, v in given.items() if v is not None}
    kw.update(sg=int(args.model == "sg"), hs=int(args.hs), cbow_mean=int(not args.cbow_sum),
              shared_negatives=args.shared_negatives, progress=not args.no_progress)
    return kw


def _word2vec(args):
    if args.w2v_command == "train":
        from .word2vec import Word2Vec

        corpus = args.corpus or [os.path.join(data_dir(args.data_dir, _CORPUS), _CORPUS)]
        model = Word2Vec(**word2vec_kwargs(args))
        model.build_vocab(corpus_file=corpus)
        summary = model.train()
        if args.format == "fastnlp":
            model.save(args.output)
        else:
            model.save_word2vec_format(args.output, binary=(args.format == "binary"))
        out = {"output": args.output, "format": args.format, "vocab_size": len(model.wv), "dim": model.vector_size,
               "corpus_tokens": model.corpus_stats["tokens"], **summary}
        print(json.dumps(out, indent=2))
        if model.interrupted:
            print("fastnlp word2vec: interrupted; the partly trained vectors were saved", file=sys.stderr)
            return 130
        return 0
    if args.w2v_command == "eval":
        if not args.analogies and not args.similarity:
            root = data_dir(args.data_dir, _ANALOGIES)
            args.analogies, args.similarity = os.path.join(root, _ANALOGIES), os.path.join(root, _SIMILARITY)
        from .keyedvectors import load_vectors

        kv = load_vectors(args.vectors, args.format)
        out = {"vectors": args.vectors, "vocab_size": len(kv), "dim": kv.vector_size}
        if args.analogies:
            out["analogies"] = kv.evaluate_analogies(args.analogies, restrict_vocab=args.restrict_vocab,
                                                     method=args.method)
        if args.similarity:
            out["similarity"] = kv.evaluate_similarity(args.similarity)
        print(json.dumps(out, indent=2))
        return 0
    return 2


def _add_tag(sub):
    t = sub.add_parser("tag", help="tag raw text with the shipped window taggers; prints word/TAG, CoNLL "
                       "columns or JSON lines with character offsets and entity / chunk spans")
    t.add_argument("file", nargs="?", default="-", metavar="FILE|-", help="input text (default: stdin)")
    t.add_argument("--task", default="pos", help="comma-separated tasks among pos, chunk, ner, upos, or paths "
                   "of saved taggers; one tag per task is printed after each word (default pos)")
    t.add_argument("--format", choices=["slash", "conll", "jsonl"], default="slash",
                   help="slash: word/TAG... one output line per input line (paragraph); conll: one token per "
                   "line, its text then one tab-separated column per task, a blank line after each sentence; "
                   "jsonl: one JSON object per input line (paragraph) with the text, token offsets and tags, "
                   "sentences, and entity / chunk spans. A line (paragraph) over 1 MB is cut between "
                   "sentences into several objects, each with \"part\" (0, 1, ...) and \"offset\" (of its text "
                   "in the line, in characters). Default slash")
    t.add_argument("--paragraphs", action="store_true",
                   help="documents are paragraphs separated by blank lines (hard-wrapped lines are one text) "
                   "instead of single lines")
    t.add_argument("--tokenized", action="store_true",
                   help="each input line is one sentence of whitespace-separated tokens, kept as is")
    t.add_argument("--encoding", default="utf-8", help="input encoding (default utf-8)")
    t.add_argument("--errors", choices=["strict", "replace"], default="strict",
                   help="undecodable input bytes: strict stops with an error naming the line and byte offset, "
                   "replace reads them as U+FFFD (default strict)")
    t.add_argument("--processes", type=int, default=1, help="worker processes (default 1)")
    t.add_argument("--threads", type=int, default=None, help="threads (default: all)")
    t.add_argument("--batch", type=int, default=2000,
                   help="texts (lines, paragraphs or pieces of long ones) per tagger call; a batch also ends "
                   "at 1 MB of text (default 2000)")
    t.add_argument("--quiet", action="store_true",
                   help="no progress bar (shown for file input when stderr is a terminal and tqdm is installed)")


# A long input line is read and tagged this many bytes at a time, so memory stays bounded on any
# input (a single 50 MB line used to take ~30x its size). Raw text is cut only between sentences;
# a run of text with no sentence boundary longer than _MAX_CARRY characters is cut at its last
# whitespace (anywhere if it has none).
_PIECE = 1 << 20
_MAX_CARRY = 4 << 20


def _line_pieces(stream, name="<stdin>", encoding="utf-8", errors="strict"):
    """Yields (text, end_of_line, bytes read) for each input line, in decoded pieces of at most _PIECE
    bytes. With errors="strict", ValueError naming `name`, the line and the byte offset of the first
    undecodable byte."""
    try:
        decoder = codecs.getincrementaldecoder(encoding)(errors=errors)
    except LookupError:
        raise ValueError(f"--encoding: unknown encoding {encoding!r}") from None
    eol, offset, line = True, 0, 1
    while True:
        raw = stream.readline(_PIECE)
        if not raw:
            break
        eol = raw.endswith(b"\n")
        pending = len(decoder.getstate()[0])   # bytes of a character cut at the previous piece
        try:
            text = decoder.decode(raw, final=eol)   # a character cut between pieces is kept whole
        except UnicodeDecodeError as e:
            at = offset - pending + e.start
            raise ValueError(f"{name}: line {line}, byte offset {at}: cannot decode {e.object[e.start:e.end]!r} "
                             f"as {encoding} ({e.reason}); give the right --encoding, or --errors replace") from None
        offset += len(raw)
        line += eol
        yield (text.rstrip("\r\n") if eol else text), eol, len(raw)
    if not eol:   # the last line had no newline
        try:
            text = decoder.decode(b"", final=True)
        except UnicodeDecodeError as e:
            raise ValueError(f"{name}: line {line}, byte offset {offset - len(e.object) + e.start}: the input "
                             f"ends inside a {encoding} character; give the right --encoding, or --errors "
                             "replace") from None
        yield text, True, 0


_WHOLE_CHUNK = re.compile(r"\S*\s")
_LAST_SPACE = re.compile(r"\s\S*\Z")


def _cut_points(text):
    """Where `text` (the start of a longer document) may be cut: sentence starts about _PIECE // 4
    characters apart, up to the last sentence whose first word is complete (so that the split of the
    text read so far stands whatever follows); [] for nowhere."""
    from .tagging.tokenizer import sentence_spans

    starts = [a for a, _ in sentence_spans(text)[1:]]
    while starts and not _WHOLE_CHUNK.match(text, starts[-1]):
        starts.pop()   # at most twice: a sentence followed by another has a complete first word
    cuts, last = [], 0
    for a in starts:
        if a - last >= _PIECE // 4 or a == starts[-1]:
            cuts.append(a)
            last = a
    return cuts


def _read_sentences(stream, tokenized, paragraphs=False, name="<stdin>", encoding="utf-8", errors="strict",
                    progress=None):
    """Yields (text, document, end_of_document): the texts to tag, a document (an input line, or a
    paragraph) at a time, a long one in pieces cut between sentences (each piece at most about
    _MAX_CARRY characters); `document` counts from 0. Blank lines are empty documents, except with
    paragraphs, where they separate documents. With tokenized, each line is one document, whole."""
    carry, document = "", 0
    blank = True   # the current line holds only whitespace so far
    for text, eol, size in _line_pieces(stream, name, encoding, errors):
        if progress is not None:
            progress.update(size)
        if paragraphs:
            blank = blank and not text.strip()
            if eol and blank:   # a blank line ends the paragraph, if one is open
                if carry.strip():
                    yield carry.rstrip("\n"), document, True
                    document += 1
                carry = ""
                continue
            carry += text + ("\n" if eol else "")
            if eol:
                blank = True   # a new line starts
        else:
            carry += text
            if eol:
                yield carry, document, True
                carry, document = "", document + 1
                continue
        if tokenized or len(carry) < _PIECE // 4:
            continue
        cuts = _cut_points(carry) if len(carry) <= _MAX_CARRY else []
        if not cuts and len(carry) > _MAX_CARRY:
            space = _LAST_SPACE.search(carry)
            cuts = [space.start() + 1 if space and space.start() > 0 else len(carry)]
        last = 0
        for cut in cuts:
            yield carry[last:cut], document, False
            last = cut
        carry = carry[last:]
    if paragraphs and carry.strip():
        yield carry.rstrip("\n"), document, True


def _tag(args):
    import collections

    import fastnlp
    from .pipeline import Pipeline

    if args.threads is not None:
        fastnlp.set_num_threads(args.threads)
    if args.processes < 1:
        raise ValueError(f"--processes must be a positive integer, got {args.processes}")
    if args.batch < 1:
        raise ValueError(f"--batch must be a positive integer, got {args.batch}")
    if args.tokenized and args.paragraphs:
        raise ValueError("--tokenized and --paragraphs cannot be combined: with --tokenized each line is a sentence")
    if args.tokenized and args.processes > 1:
        raise ValueError("--processes: --tokenized input is tagged in one process")
    names = [name.strip() for name in args.task.split(",") if name.strip()]
    if not names:
        raise ValueError("--task names no tagger")
    nlp = Pipeline(*names)
    stdin = args.file == "-"
    stream = sys.stdin.buffer if stdin else open(args.file, "rb")
    progress = None
    out = sys.stdout
    try:
        if not stdin and not args.quiet and sys.stderr.isatty():
            try:
                from tqdm import tqdm
            except ImportError:   # tqdm is optional: no bar without it
                tqdm = None
            if tqdm is not None:
                info = os.fstat(stream.fileno())
                progress = tqdm(total=info.st_size if stat.S_ISREG(info.st_mode) else None, unit="B",
                                unit_scale=True, desc="fastnlp tag", file=sys.stderr)
        meta = collections.deque()

        def texts():
            for text, document, end in _read_sentences(stream, args.tokenized, args.paragraphs,
                                                       "<stdin>" if stdin else args.file, args.encoding,
                                                       args.errors, progress):
                meta.append((document, end))
                yield text

        if args.tokenized:
            def tagged():
                source = texts()
                while True:
                    batch = list(itertools.islice(source, args.batch))
                    if not batch:
                        return
                    yield from nlp._docs(batch, tokenized=True)

            docs = tagged()
        else:
            try:
                docs = nlp.pipe(texts(), batch_size=args.batch, n_process=args.processes)
            except NotImplementedError as e:
                raise ValueError(f"--processes: {e}") from None
        write = {"slash": _write_slash, "conll": _write_conll, "jsonl": _write_jsonl}[args.format]
        write(out, docs, meta)
    finally:
        if progress is not None:
            progress.close()
        if not stdin:
            stream.close()
    return 0


def _write_slash(out, docs, meta):
    """word/TAG/TAG ... with the tokens' treebank forms, one line per document."""
    line_open = False
    for k, doc in enumerate(docs):
        _, end = meta.popleft()
        columns = [[names[i] for i in ids.tolist()] for names, ids in doc._tags.values()]
        words = ["/".join(row) for row in zip(doc._norms, *columns)]
        if words:
            out.write((" " if line_open else "") + " ".join(words))
            line_open = True
        if end:
            out.write("\n")
            line_open = False
        if not meta:
            out.flush()   # a batch reaches a pipe as soon as it is tagged


def _write_conll(out, docs, meta):
    """One token per line: its text, then a tab-separated column per task; a blank line after each sentence."""
    for doc in docs:
        meta.popleft()
        text = doc.text
        starts, ends = doc._starts.tolist(), doc._ends.tolist()
        columns = [[names[i] for i in ids.tolist()] for names, ids in doc._tags.values()]
        bounds = doc._sent_bounds.tolist()
        lines = []
        for s in range(len(bounds) - 1):
            for i in range(bounds[s], bounds[s + 1]):
                lines.append("\t".join([text[starts[i]:ends[i]]] + [c[i] for c in columns]))
            lines.append("")
        if lines:
            out.write("\n".join(lines) + "\n")
        if not meta:
            out.flush()


def _write_jsonl(out, docs, meta):
    """doc.to_json() per document, one per line; the pieces of a cut document carry part and offset."""
    part, offset = 0, 0
    for doc in docs:
        _, end = meta.popleft()
        record = doc.to_json()
        if part or not end:
            record["part"], record["offset"] = part, offset
        out.write(json.dumps(record, ensure_ascii=False) + "\n")
        part, offset = (0, 0) if end else (part + 1, offset + len(doc.text))
        if not meta:
            out.flush()


def _run(name, command, args):
    """Runs a command; user errors become one line on stderr (no traceback) and exit status 1,
    Ctrl-C exits with 130, a closed output pipe (`| head`) ends quietly."""
    try:
        return command(args)
    except (ValueError, TypeError, OSError, KeyError, MemoryError) as err:
        if isinstance(err, BrokenPipeError):
            # stdout's buffer cannot be flushed at exit either: point it at /dev/null
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            return 141
        print(f"fastnlp {name}: error: {err}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"fastnlp {name}: interrupted", file=sys.stderr)
        return 130


def build_parser():
    from . import installed_version, DIST_NAME

    parser = argparse.ArgumentParser(prog="fastnlp", description="fastnlp command line")
    parser.add_argument("--version", action="version", version=f"{DIST_NAME} {installed_version()}")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("info", help="build and device information")
    _add_word2vec(sub)
    _add_tag(sub)
    from .classify.cli import add_parser as _add_classify

    _add_classify(sub)
    from .embeddings.cli import add_parser as _add_embed

    _add_embed(sub)
    from .lm.cli import add_parser as _add_lm

    _add_lm(sub)
    return parser


def main(argv=None):
    args = build_parser().parse_args(argv)
    if args.command == "info":
        import fastnlp

        print(f"{fastnlp.DIST_NAME} {fastnlp.installed_version()} (import fastnlp, {os.path.dirname(fastnlp.__file__)})")
        print(f"threads: {fastnlp.get_num_threads()}")
        print(f"cuda compiled: {fastnlp._C.cuda_compiled}, cuda available: {fastnlp.cuda_available()}")
    elif args.command == "word2vec":
        return _run("word2vec", _word2vec, args)
    elif args.command == "tag":
        return _run("tag", _tag, args)
    elif args.command == "classify":
        from .classify.cli import run

        return _run("classify", run, args)
    elif args.command == "embed":
        from .embeddings.cli import run as _embed

        return _run("embed", _embed, args)
    elif args.command == "lm":
        from .lm.cli import run as run_lm

        return _run("lm", run_lm, args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
