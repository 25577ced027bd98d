"""The ``fastnlp`` command line (also ``python -m fastnlp``)."""

import argparse
import codecs
import json
import os
import sys


def _add_word2vec(sub):
    w2v = sub.add_parser("word2vec", help="train and evaluate word2vec vectors")
    cmd = w2v.add_subparsers(dest="w2v_command", required=True)
    t = cmd.add_parser("train", help="train skip-gram / CBOW vectors on whitespace-tokenized text")
    t.add_argument("corpus", nargs="+", metavar="CORPUS", help="text file(s), one sentence per line")
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
    e.add_argument("--analogies", metavar="FILE", help="questions-words.txt format")
    e.add_argument("--similarity", metavar="FILE", help="word pairs with scores, e.g. WordSim-353")
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

        model = Word2Vec(**word2vec_kwargs(args))
        model.build_vocab(corpus_file=args.corpus)
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
            print("fastnlp word2vec eval: give --analogies FILE and/or --similarity FILE", file=sys.stderr)
            return 2
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
    t = sub.add_parser("tag", help="tag text with the shipped window taggers; prints word/TAG")
    t.add_argument("file", nargs="?", default="-", metavar="FILE|-", help="input text (default: stdin)")
    t.add_argument("--task", default="pos", help="comma-separated tasks among pos, chunk, ner, upos, or paths "
                   "of saved taggers; one tag per task is printed after each word (default pos)")
    t.add_argument("--tokenized", action="store_true",
                   help="each input line is one sentence of whitespace-separated tokens, kept as is")
    t.add_argument("--threads", type=int, default=None, help="threads (default: all)")
    t.add_argument("--batch", type=int, default=2000, help="sentences tagged per call (default 2000)")


# A long input line is read and tagged this many bytes at a time, so memory stays bounded on any
# input (a single 50 MB line used to take ~30x its size). Raw text is cut only between sentences;
# a run of text with no sentence boundary longer than _MAX_CARRY characters is tagged as one sentence.
_PIECE = 1 << 20
_MAX_CARRY = 4 << 20


def _line_pieces(stream):
    """Yields (text, end_of_line) for each input line, in decoded pieces of at most _PIECE bytes."""
    decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
    eol = True
    while True:
        raw = stream.readline(_PIECE)
        if not raw:
            break
        eol = raw.endswith(b"\n")
        text = decoder.decode(raw, final=eol)   # a character cut between pieces is kept whole
        yield (text.rstrip("\r\n") if eol else text), eol
    if not eol:   # the last line had no newline
        yield decoder.decode(b"", final=True), True


def _read_sentences(stream, tokenized):
    """Yields (sentences, end_of_line): the complete sentences of the input as token lists, a piece
    at a time; end_of_line closes an input line ([] and True for a blank line). With tokenized,
    each line is one sentence."""
    from .tagging.tokenizer import sentences, tokenize

    carry = ""
    for text, eol in _line_pieces(stream):
        text = carry + text
        carry = ""
        if tokenized:
            if not eol:
                carry = text
                continue
            yield ([text.split()] if text.strip() else []), True
            continue
        found = sentences(text)
        if not eol and found and len(text) <= _MAX_CARRY:
            # the last sentence may go on in the next piece (rfind: it ends the text)
            carry = text[text.rfind(found.pop()):]
        yield [tokenize(s) for s in found], eol


def _tag(args):
    import fastnlp
    from .tagging import load_tagger

    if args.threads is not None:
        fastnlp.set_num_threads(args.threads)
    taggers = [load_tagger(name.strip()) for name in args.task.split(",") if name.strip()]
    if not taggers:
        raise ValueError("--task names no tagger")
    stream = sys.stdin.buffer if args.file == "-" else open(args.file, "rb")
    out = sys.stdout
    pending, count, line_open = [], 0, False

    def flush():
        nonlocal line_open
        flat = [s for sents, _ in pending for s in sents]
        tags = [tagger.tag_batch(flat) if flat else [] for tagger in taggers]
        k = 0
        for sents, eol in pending:
            words = []
            for sentence in sents:
                for i, token in enumerate(sentence):
                    words.append("/".join([token] + [t[k][i] for t in tags]))
                k += 1
            if words:
                out.write((" " if line_open else "") + " ".join(words))
                line_open = True
            if eol:
                out.write("\n")
                line_open = False
        pending.clear()
        out.flush()   # each batch reaches a pipe as soon as it is tagged

    try:
        for sents, eol in _read_sentences(stream, args.tokenized):
            pending.append((sents, eol))
            count += len(sents)
            if count >= args.batch:
                flush()
                count = 0
        flush()
    finally:
        if stream is not sys.stdin.buffer:
            stream.close()
    return 0


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
    parser = argparse.ArgumentParser(prog="fastnlp", description="fastnlp command line")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("info", help="build and device information")
    _add_word2vec(sub)
    _add_tag(sub)
    from .classify.cli import add_parser as _add_classify

    _add_classify(sub)
    from .lm.cli import add_parser as _add_lm

    _add_lm(sub)
    return parser


def main(argv=None):
    args = build_parser().parse_args(argv)
    if args.command == "info":
        import fastnlp

        print(f"fastnlp {fastnlp.__version__}")
        print(f"threads: {fastnlp.get_num_threads()}")
        print(f"cuda compiled: {fastnlp._C.cuda_compiled}, cuda available: {fastnlp.cuda_available()}")
    elif args.command == "word2vec":
        return _run("word2vec", _word2vec, args)
    elif args.command == "tag":
        return _run("tag", _tag, args)
    elif args.command == "classify":
        from .classify.cli import run

        return _run("classify", run, args)
    elif args.command == "lm":
        from .lm.cli import run as run_lm

        return _run("lm", run_lm, args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
