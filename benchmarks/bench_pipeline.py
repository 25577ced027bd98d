"""End-to-end raw-text speed: text in, sentences and tokens with character offsets (and tags) out, on
one thread, beside spaCy's blank English tokenizer + sentencizer and NLTK's word_tokenize +
sent_tokenize in the same run (each where installed; NLTK's needs its punkt data, which fastnlp never
downloads: "unavailable" when it is missing).

Text: the raw sentences of the English Web Treebank (the `# text =` lines of EWT train and dev),
ten to a document, repeated to --mb megabytes. Rows:
- fastnlp pipeline("pos") and pipeline("pos,chunk,ner"): split, tokenize with offsets, tag, build
  each Doc (nlp.pipe over the documents);
- fastnlp tokenizer only: sentence_spans + tokenize_with_offsets;
- spaCy: spacy.blank("en") + the sentencizer, nlp.pipe over the same documents;
- NLTK: sent_tokenize, then word_tokenize per sentence.
tokens/s counts each library's own tokens; MB/s is the same text for all. Implementations take turns
over --rounds rounds (median, lowest-highest round).

Also the memory bounds of `fastnlp tag` (peak resident set of the process, measured by a parent
that runs nothing else): a single line of --line-mb megabytes, and a file of --file-mb megabytes of
ordinary lines; and the sentence splitter's time and peak memory on one 2 MB and one 5 MB
single-line paragraph. The inputs are written under /tmp and deleted.

Writes benchmarks/results/pipeline.{json,md}.

    python benchmarks/bench_pipeline.py [--mb 4] [--rounds 3] [--line-mb 100] [--file-mb 300] [--quick]
"""

import os
import subprocess
import sys
import tempfile
import textwrap
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import Run, bench_parser, fmt, interleaved, per_second, ratio, table  # noqa: E402


def ewt_documents(data, megabytes):
    """Documents of ten EWT raw sentences, repeated to `megabytes` MB of text."""
    sents = []
    for part in ("train", "dev"):
        with open(os.path.join(data, "tagging", "ud_en_ewt", f"en_ewt-ud-{part}.conllu"), encoding="utf-8") as f:
            sents += [line[9:].strip() for line in f if line.startswith("# text = ")]
    docs = [" ".join(sents[i:i + 10]) for i in range(0, len(sents), 10)]
    out, size = [], 0
    while size < megabytes * 1e6:
        for d in docs:
            out.append(d)
            size += len(d.encode("utf-8")) + 1
            if size >= megabytes * 1e6:
                break
    return out


def nltk_functions():
    """(sent_tokenize, word_tokenize, None) or (None, None, why not)."""
    try:
        import nltk
        from nltk.tokenize import sent_tokenize, word_tokenize
    except ImportError:
        return None, None, "unavailable: nltk is not installed"
    try:
        sent_tokenize("A test. Another one.")
    except LookupError:
        return None, None, (f"unavailable: nltk {nltk.__version__} is installed but its punkt data is not "
                            "(nltk.download needs the network, which this machine does not reach)")
    return sent_tokenize, word_tokenize, None


def peak_rss_mb(args, path):
    """Peak resident memory (MB) of `python -m fastnlp tag ARGS PATH` and its wall time, measured in a
    fresh parent so that no other child counts."""
    script = textwrap.dedent(f"""
        import resource, subprocess, sys, time
        t0 = time.perf_counter()
        r = subprocess.run([sys.executable, "-m", "fastnlp", "tag", *{args!r}, {path!r}],
                           stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        assert r.returncode == 0, r.stderr
        print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024, time.perf_counter() - t0)
    """)
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    rss, seconds = out.stdout.split()
    return float(rss), float(seconds)


def memory_bounds(docs, line_mb, file_mb):
    """Peak RSS of fastnlp tag on a short file, one long line and a big file of ordinary lines."""
    rows = []
    with tempfile.TemporaryDirectory(dir="/tmp") as tmp:
        small = os.path.join(tmp, "small.txt")
        with open(small, "w", encoding="utf-8") as f:
            f.write(docs[0] + "\n")
        line = os.path.join(tmp, "line.txt")
        block = " ".join(docs[:200]) + " "
        with open(line, "w", encoding="utf-8") as f:
            for _ in range(int(line_mb * 1e6 / len(block.encode("utf-8"))) + 1):
                f.write(block)
            f.write("\n")
        lines = os.path.join(tmp, "lines.txt")
        block = "\n".join(docs[:2000]) + "\n"
        with open(lines, "w", encoding="utf-8") as f:
            for _ in range(int(file_mb * 1e6 / len(block.encode("utf-8"))) + 1):
                f.write(block)
        for label, path in (("one short line", small), (f"one line of {line_mb:g} MB", line),
                            (f"{file_mb:g} MB of lines", lines)):
            size = os.path.getsize(path)
            rss, seconds = peak_rss_mb(["--task", "pos", "--quiet"], path)
            rows.append({"input": label, "bytes": size, "peak_rss_mb": round(rss, 1), "seconds": round(seconds, 1),
                         "mb_per_s": round(size / 1e6 / seconds, 2)})
            print(f"  {label}: {size / 1e6:.0f} MB, peak RSS {rss:.0f} MB, {seconds:.1f} s", file=sys.stderr)
    return rows


def splitter_cost(docs, sizes_mb):
    """Time and peak memory (RSS growth) of sentences() on one single-line paragraph of each size."""
    rows = []
    for mb in sizes_mb:
        script = textwrap.dedent(f"""
            import resource, sys, time
            sys.path.insert(0, {os.path.dirname(os.path.abspath(__file__))!r})
            from bench_pipeline import ewt_documents
            text = " ".join(ewt_documents({os.environ.get('FASTNLP_DATA_FOR_BENCH', '')!r}, {mb}))
            from fastnlp.tagging import sentences
            before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
            t0 = time.perf_counter()
            n = len(sentences(text))
            t = time.perf_counter() - t0
            print(t, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 - before, n, len(text))
        """)
        out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
        t, grow, n, chars = out.stdout.split()
        rows.append({"megabytes": mb, "characters": int(chars), "sentences": int(n), "seconds": round(float(t), 2),
                     "rss_growth_mb": round(float(grow), 1)})
    return rows


def main(argv=None):
    import fastnlp
    from fastnlp.tagging.tokenizer import sentence_spans, tokenize_with_offsets

    p = bench_parser(__doc__, "0.3 MB of text, 2 rounds, memory on a 5 MB line and a 20 MB file", data=True, rounds=3)
    p.add_argument("--mb", type=float, default=4.0, help="megabytes of text timed (default 4)")
    p.add_argument("--line-mb", type=float, default=100.0, help="the single line of the memory check (default 100)")
    p.add_argument("--file-mb", type=float, default=300.0, help="the file of the memory check (default 300)")
    p.add_argument("--no-memory", action="store_true", help="skip the memory checks")
    args = p.parse_args(argv)
    if args.quick:
        args.mb, args.rounds, args.line_mb, args.file_mb = 0.3, 2, 5.0, 20.0
    os.environ["FASTNLP_DATA_FOR_BENCH"] = args.data
    run = Run("pipeline", args, threads="1 (every implementation)")
    fastnlp.set_num_threads(1)
    docs = ewt_documents(args.data, args.mb)
    megabytes = sum(len(d.encode("utf-8")) + 1 for d in docs) / 1e6

    counts = {}

    def counted(name, fn):
        def timed():
            counts[name] = fn()
        return timed

    pos, full = fastnlp.pipeline("pos"), fastnlp.pipeline("pos,chunk,ner")

    def tokenizer_only():
        n = 0
        for d in docs:
            sentence_spans(d)
            n += len(tokenize_with_offsets(d)[0])
        return n

    impls = {
        "fastnlp_pos": ("fastnlp `pipeline(\"pos\")`", counted("fastnlp_pos", lambda: sum(len(d) for d in pos.pipe(docs)))),
        "fastnlp_full": ("fastnlp `pipeline(\"pos,chunk,ner\")`",
                         counted("fastnlp_full", lambda: sum(len(d) for d in full.pipe(docs)))),
        "fastnlp_tokenizer": ("fastnlp tokenizer + splitter only", counted("fastnlp_tokenizer", tokenizer_only)),
    }
    notes = {}
    try:
        import spacy

        nlp_spacy = spacy.blank("en")
        nlp_spacy.add_pipe("sentencizer")
        impls["spacy"] = (f"spaCy {spacy.__version__} blank(\"en\") + sentencizer",
                          counted("spacy", lambda: sum(len(d) for d in nlp_spacy.pipe(docs))))
    except ImportError:
        notes["spacy"] = "unavailable: spacy is not installed"
    sent_tokenize, word_tokenize, why = nltk_functions()
    if why:
        notes["nltk"] = why
    else:
        impls["nltk"] = ("NLTK sent_tokenize + word_tokenize",
                         counted("nltk", lambda: sum(len(word_tokenize(s)) for d in docs for s in sent_tokenize(d))))
    t = interleaved({k: v[1] for k, v in impls.items()}, rounds=args.rounds, repeat=1, warmup=0 if not args.quick else 1,
                    settle=0.2)
    rows = []
    for k, (label, _) in impls.items():
        rows.append({"id": k, "implementation": label, "seconds": t[k], "tokens": counts[k],
                     "tokens_per_s": per_second(t[k], counts[k]), "mb_per_s": per_second(t[k], megabytes),
                     "time_vs_fastnlp_pos": None if k == "fastnlp_pos" else ratio(t[k], t["fastnlp_pos"])})
    for k, why in notes.items():
        rows.append({"id": k, "implementation": k, "note": why})
    memory = [] if args.no_memory else memory_bounds(docs, args.line_mb, args.file_mb)
    splitter = splitter_cost(docs, [0.3] if args.quick else [2, 5])
    md = (f"{megabytes:.1f} MB of raw text ({len(docs):,} documents of ten EWT sentences, `# text =` lines of "
          f"train + dev, repeated), one thread, median over {args.rounds} interleaved rounds (lowest-highest "
          "round); each library's tokens counted by itself.\n\n"
          + table([r for r in rows if "seconds" in r],
                  [("implementation", "implementation"), ("tokens", "tokens"),
                   ("tokens/s", lambda r: _k(r["tokens_per_s"])), ("MB/s", "mb_per_s"),
                   ("time / fastnlp pos", lambda r: fmt(r["time_vs_fastnlp_pos"]))])
          + "".join(f"\n\n{r['implementation']}: {r['note']}." for r in rows if "note" in r))
    if memory:
        md += ("\n\nPeak resident memory of `fastnlp tag --task pos` (whole process):\n\n"
               + table(memory, [("input", "input"), ("bytes", "bytes"), ("peak RSS MB", "peak_rss_mb"),
                                ("seconds", "seconds"), ("MB/s", "mb_per_s")]))
    md += ("\n\n`sentences()` on one single-line paragraph:\n\n"
           + table(splitter, [("MB", "megabytes"), ("sentences", "sentences"), ("seconds", "seconds"),
                              ("RSS growth MB", "rss_growth_mb")]))
    print(run.write(rows, md, memory=memory, splitter=splitter, megabytes=megabytes))


def _k(s):
    return f"{s['median'] / 1e3:,.0f}k ({s['min'] / 1e3:,.0f}-{s['max'] / 1e3:,.0f})"


if __name__ == "__main__":
    main()
