"""Model loading before and after the move to safetensors (issue 20): load time and memory of the
largest shipped taggers (POS, the one the brief names, and NER, the largest file) and of a Word2Vec
model trained on the first 1M tokens of ../shared/data/corpus/en-corpus.txt, each loaded
- from the .npz container of fastnlp <= 0.1 (written here by safeformat._save_npz: "before"),
- from safetensors read into memory, and
- from safetensors with mmap="r" (KeyedVectors.load, Tagger.load / load_tagger's default).
Every load runs in a fresh Python process (fastnlp already imported there), so its resident set
starts from the same place: reported are the wall time of the load call, the peak resident set
the process reached during the load (VmHWM, reset just before it through /proc/self/clear_refs)
minus its resident set before the load, and the anonymous
(RssAnon: private copies) and file-backed (RssFile: mapped pages, shared with the page cache)
resident memory after it. Files are in the page cache (warm loads). Variants take turns over
--rounds rounds. Writes benchmarks/results/load.{json,md}.

    python benchmarks/bench_load.py [--data-dir ../shared/data] [--rounds 5] [--quick]
"""

import json
import os
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import Run, bench_parser, stats, table  # noqa: E402

CHILD = r"""
import json, sys, time
import fastnlp
from fastnlp import KeyedVectors, Word2Vec
from fastnlp.tagging import Tagger

def status():
    out = {}
    with open("/proc/self/status") as f:
        for line in f:
            key = line.split(":")[0]
            if key in ("VmRSS", "VmHWM", "RssAnon", "RssFile"):
                out[key] = int(line.split()[1]) / 1024
    return out

kind, path, mmap = sys.argv[1], sys.argv[2], (sys.argv[3] if sys.argv[3] != "none" else None)
# Reset the peak resident set (VmHWM) to the current one: importing fastnlp (OpenBLAS's buffers)
# peaks above anything a load adds, which would hide it.
with open("/proc/self/clear_refs", "w") as f:
    f.write("5")
before = status()
t0 = time.perf_counter()
if kind == "tagger":
    obj = Tagger.load(path, mmap=mmap)
elif kind == "keyedvectors":
    obj = KeyedVectors.load(path, mmap=mmap)
else:
    obj = Word2Vec.load(path)
seconds = time.perf_counter() - t0
after = status()
print(json.dumps({"seconds": seconds, "rss_before_mb": before["VmRSS"], "peak_delta_mb": after["VmHWM"] - before["VmRSS"],
                  "anon_delta_mb": after["RssAnon"] - before["RssAnon"],
                  "file_delta_mb": after["RssFile"] - before["RssFile"]}))
"""


def corpus_slice(src, tokens, dst):
    """The first lines of src holding at least `tokens` tokens, written to dst; returns the count."""
    n = 0
    with open(src, encoding="utf-8") as f, open(dst, "w", encoding="utf-8") as out:
        for line in f:
            out.write(line)
            n += len(line.split())
            if n >= tokens:
                break
    return n


def main(argv=None):
    p = bench_parser(__doc__, "100k-token word2vec model, 2 rounds", data=True, rounds=5)
    p.add_argument("--tokens", type=int, default=1_000_000, help="word2vec training tokens (default 1M)")
    args = p.parse_args(argv)
    if args.quick:
        args.rounds, args.tokens = 2, 100_000

    import fastnlp
    from fastnlp import Word2Vec, safeformat
    from fastnlp.tagging.tagger import pretrained_path

    corpus = os.path.join(args.data, "corpus", "en-corpus.txt")
    if not os.path.exists(corpus):
        raise SystemExit(f"bench_load: {corpus} not found; pass --data-dir DIR (see README, 'Data and licenses')")
    run = Run("load", args, threads=2)
    tmp = tempfile.mkdtemp(prefix="fastnlp-bench-load-")
    try:
        files = []   # (model, kind, container, path)
        for task in ("pos", "ner"):
            new = pretrained_path(task)
            old = os.path.join(tmp, f"{task}.npz")
            header, arrays, _ = safeformat.load(new, "fastnlp.tagger", 1, (), "tagger")
            safeformat._save_npz(old, header.pop("format"), header.pop("version"), header, arrays)
            files += [(f"{task} tagger", "tagger", "npz", old), (f"{task} tagger", "tagger", "safetensors", new)]
        text = os.path.join(tmp, "corpus.txt")
        n_tokens = corpus_slice(corpus, args.tokens, text)
        fastnlp.set_num_threads(2)
        model = Word2Vec(corpus_file=text, vector_size=100, min_count=5, epochs=1, workers=2, progress=False)
        new = os.path.join(tmp, "w2v.safetensors")
        model.save(new)
        old = os.path.join(tmp, "w2v.npz")
        header, arrays, _ = safeformat.load(new, "fastnlp.word2vec", 1, (), "word2vec")
        safeformat._save_npz(old, header.pop("format"), header.pop("version"), header, arrays)
        w2v = f"word2vec ({len(model.wv)} words x {model.vector_size}, {n_tokens:,} tokens)"
        for kind in ("keyedvectors", "word2vec"):
            files += [(w2v, kind, "npz", old), (w2v, kind, "safetensors", new)]

        variants = []
        for name, kind, container, path in files:
            modes = [None, "r"] if container == "safetensors" and kind != "word2vec" else [None]
            for mode in modes:
                variants.append({"model": name, "load": {"tagger": "Tagger.load", "keyedvectors": "KeyedVectors.load",
                                                         "word2vec": "Word2Vec.load"}[kind],
                                 "container": container + (' mmap="r"' if mode else ""), "kind": kind, "path": path,
                                 "mmap": mode, "file_mb": os.path.getsize(path) / 2**20, "runs": []})
        env = dict(os.environ, OMP_WAIT_POLICY="PASSIVE")
        for r in range(args.rounds):
            for v in variants:
                out = subprocess.run([sys.executable, "-c", CHILD, v["kind"], v["path"], v["mmap"] or "none"],
                                     capture_output=True, text=True, env=env, check=True)
                v["runs"].append(json.loads(out.stdout))
            print(f"round {r + 1}/{args.rounds} done", file=sys.stderr)
        rows = []
        for v in variants:
            row = {k: v[k] for k in ("model", "load", "container", "file_mb")}
            for key in ("seconds", "peak_delta_mb", "anon_delta_mb", "file_delta_mb"):
                row[key] = stats(x[key] for x in v["runs"])
            row["ms"] = stats(x["seconds"] * 1e3 for x in v["runs"])
            rows.append(row)
        md = table(rows, [("model", "model"), ("load", "load"), ("container", "container"), ("file MB", "file_mb"),
                          ("load ms", "ms"), ("peak RSS added, MB", "peak_delta_mb"),
                          ("anon RSS added, MB", "anon_delta_mb"), ("file-backed RSS added, MB", "file_delta_mb")])
        md += ("\n\nMedian (min-max) over rounds, each load in a fresh process after `import fastnlp`. "
               "npz: the container of fastnlp <= 0.1; safetensors: today's; mmap=\"r\": arrays mapped from the file "
               "(read-only). A tagger's load also builds its scorer (the first layer cached per frequent id), "
               "the same in every row.")
        print(run.write(rows, md, corpus_tokens=n_tokens))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
