"""`fastnlp lm train | eval | generate`: the command line over RNNLanguageModel (registered in
fastnlp/cli.py, which runs these through its _run error conventions)."""

import json
import os
import sys
import time

from .data import FORMATS, TASKS, task_files

SIZES = ("small", "medium")


def add_parser(sub):
    c = sub.add_parser("lm", help="train and run recurrent language models (Zaremba et al. 2014)")
    cmd = c.add_subparsers(dest="lm_command", required=True)
    t = cmd.add_parser("train", help="train on PTB or WikiText-2 (defaults: Zaremba's small LSTM); prints JSON "
                       "with the validation perplexity per epoch")
    t.add_argument("--task", required=True, choices=sorted(TASKS))
    t.add_argument("--size", choices=SIZES, default="small", help="Zaremba's configuration (default small)")
    t.add_argument("--data-dir", metavar="DIR", help="the folder holding ptb/ and wikitext2/ (default "
                   "$FASTNLP_DATA/lm, else ../shared/data/lm)")
    t.add_argument("-o", "--output", required=True, metavar="MODEL", help="where to save the trained model")
    t.add_argument("--epochs", type=int, help="override the size's number of epochs")
    t.add_argument("--resume", action="store_true", help="continue from MODEL.ckpt (written after every epoch)")
    t.add_argument("--sampled", type=int, default=0, metavar="N",
                   help="train with sampled softmax over N log-uniform samples (default 0: full softmax)")
    t.add_argument("--cell", choices=("lstm", "gru", "elman"), default="lstm")
    t.add_argument("--tied", action="store_true", help="tie the input and output embeddings")
    t.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    t.add_argument("--threads", type=int, help="threads (default: all)")
    t.add_argument("--no-progress", action="store_true", help="no progress bar")
    e = cmd.add_parser("eval", help="perplexity of a model on a file; prints JSON (perplexity, tokens)")
    e.add_argument("model", metavar="MODEL")
    e.add_argument("file", metavar="FILE", help="tokenized text in the training data's format")
    e.add_argument("--format", choices=FORMATS, help="override the model's text format")
    g = cmd.add_parser("generate", help="sample text from a model")
    g.add_argument("model", metavar="MODEL")
    g.add_argument("--words", type=int, required=True, metavar="N", help="number of words to sample")
    g.add_argument("--seed", type=int, default=0)
    g.add_argument("--temperature", type=float, default=1.0, help="softmax temperature (default 1.0)")
    g.add_argument("--context", help="text the sample continues (default: a sentence start)")


def _train(args):
    import fastnlp

    from .data import Vocabulary, read_tokens
    from .model import SIZES as CONFIGS, RNNLanguageModel

    if args.threads is not None:
        fastnlp.set_num_threads(args.threads)
    fmt, train_path, valid_path = task_files(args.task, args.data_dir)
    size = CONFIGS[args.size]
    options = dict(size["train"], sampled=args.sampled)
    if args.epochs is not None:
        options["epochs"] = args.epochs
    train = read_tokens(train_path, fmt)
    lm = RNNLanguageModel(Vocabulary.build(train), cell=args.cell, hidden=size["hidden"], layers=size["layers"],
                          dropout=size["dropout"], tied=args.tied, init_scale=size["init_scale"], seed=args.seed,
                          fmt=fmt)
    checkpoint = args.output + ".ckpt"
    if args.resume and not os.path.exists(checkpoint):
        raise FileNotFoundError(f"--resume: no checkpoint {checkpoint}")
    t0 = time.perf_counter()
    try:
        lm.fit(train, valid=valid_path, checkpoint=checkpoint, resume=args.resume,
               progress=None if args.no_progress else sys.stderr, **options)
    except KeyboardInterrupt:
        if os.path.exists(checkpoint):
            print(f"fastnlp lm: interrupted; continue with --resume (checkpoint {checkpoint})", file=sys.stderr)
        raise
    lm.save(args.output)
    os.remove(checkpoint)
    out = {"task": args.task, "size": args.size, "output": args.output, "vocab_size": len(lm.vocab),
           "train_tokens": len(train), "sampled": args.sampled, "train_seconds_this_run": time.perf_counter() - t0,
           "valid_perplexity": lm.training_history[-1].get("valid_perplexity") if lm.training_history else None,
           "history": lm.training_history}
    print(json.dumps(out, indent=2))
    return 0


def _eval(args):
    from .model import RNNLanguageModel

    lm = RNNLanguageModel.load(args.model)
    if not os.path.isfile(args.file):
        raise FileNotFoundError(f"FILE: no such file {args.file}")
    res = lm.perplexity(args.file, fmt=args.format)
    print(json.dumps(dict(res, file=args.file, format=args.format or lm.config["fmt"]), indent=2))
    return 0


def _generate(args):
    from .model import RNNLanguageModel

    lm = RNNLanguageModel.load(args.model)
    words = lm.generate(args.words, temperature=args.temperature, seed=args.seed, context=args.context)
    lines, line = [], []
    for w in words:
        if w == "<eos>":
            lines.append(" ".join(line))
            line = []
        else:
            line.append(w)
    if line:
        lines.append(" ".join(line))
    sys.stdout.write("".join(s + "\n" for s in lines))
    return 0


def run(args):
    return {"train": _train, "eval": _eval, "generate": _generate}[args.lm_command](args)
