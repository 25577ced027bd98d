"""Runs every benchmark, then rewrites README's result sections from the results files: one command
regenerates every number README quotes.

    python benchmarks/run_all.py                     # everything (long: word2vec vs gensim alone ~40 min)
    python benchmarks/run_all.py --only ops,sequence # a subset, then README re-rendered from all results
    python benchmarks/run_all.py --quick             # smoke run of every benchmark (~1-2 min of work)
    python benchmarks/run_all.py --render-only       # README from the results already in benchmarks/results
    python benchmarks/run_all.py --check             # exit 1 if README differs from what the results render,
                                                     # or a CPU benchmark's marker has no results file

README holds marker pairs `<!-- results:NAME -->` ... `<!-- /results -->`; everything between them
is replaced by benchmarks/results/NAME.md (provenance line + tables + the prose figures). A marker
whose results file does not exist keeps its text, with a warning. A --quick run writes NAME_quick.*
results and renders into benchmarks/results/README_quick.md, leaving README.md alone, so a smoke
run never replaces real numbers. The GPU benchmarks run only where fastnlp.cuda_available().
Each benchmark runs in its own process; one that fails is reported and the others still run (the
exit status is 1 if any failed).
"""

import argparse
import os
import re
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
from common import RESULTS, atomic_write  # noqa: E402

# name -> (script, results name, needs a GPU). Order: the quick ones first.
BENCHMARKS = {
    "ops": ("bench_ops.py", "bench_ops", False),
    "sequence": ("bench_sequence.py", "bench_sequence", False),
    "tagger_scores": ("tagger_scores.py", "tagger_scores", False),
    "tagger_selection": ("tagger_selection.py", "tagger_selection", False),
    "tagger": ("bench_tagger.py", "bench_tagger", False),
    "pipeline": ("bench_pipeline.py", "pipeline", False),
    "scaling": ("bench_scaling.py", "scaling", False),
    "classify": ("bench_classify.py", "bench_classify", False),
    "classify_accuracy": ("classify_accuracy.py", "classify_accuracy", False),
    "trec_calibration": ("trec_calibration.py", "trec_calibration", False),
    "classify_speed": ("bench_classify_speed.py", "bench_classify_speed", False),
    "lm": ("bench_lm.py", "lm", False),
    "word2vec_schedule": ("word2vec_schedule.py", "word2vec_schedule", False),
    "word2vec": ("bench_word2vec.py", "bench_word2vec", False),
    "load": ("bench_load.py", "load", False),
    "embeddings": ("bench_embeddings.py", "embeddings", False),
    "cluster_features": ("cluster_features.py", "cluster_features", False),
    "cuda": ("bench_cuda.py", "bench_cuda", True),
    "sequence_cuda": ("bench_sequence_cuda.py", "bench_sequence_cuda", True),
}

MARKER = re.compile(r"(<!-- results:([A-Za-z0-9_.-]+) -->\n)(.*?)(<!-- /results -->)", re.S)


def render(readme_text, results_dir, quick):
    """README text with every marker's body replaced by its results markdown; (text, missing names)."""
    missing = []

    def fill(m):
        name = m.group(2)
        path = os.path.join(results_dir, name + ("_quick" if quick else "") + ".md")
        if not os.path.exists(path):
            missing.append(name)
            return m.group(0)
        with open(path, encoding="utf-8") as f:
            body = f.read().strip()
        return m.group(1) + body + "\n" + m.group(4)

    return MARKER.sub(fill, readme_text), missing


def markers(readme_text):
    return [m.group(2) for m in MARKER.finditer(readme_text)]


def gpu_available():
    try:
        import fastnlp

        return bool(fastnlp.cuda_available())
    except Exception as e:  # a broken install: the CPU benchmarks will say more
        print(f"run_all: fastnlp.cuda_available() failed: {e}", file=sys.stderr)
        return False


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--only", default=None, help=f"comma-separated subset of: {', '.join(BENCHMARKS)}")
    ap.add_argument("--skip", default="", help="comma-separated benchmarks not to run")
    ap.add_argument("--quick", action="store_true", help="smoke run: every benchmark's --quick mode; renders "
                                                         "into results/README_quick.md, not README.md")
    ap.add_argument("--render-only", action="store_true", help="run nothing; render README from existing results")
    ap.add_argument("--check", action="store_true", help="run nothing; exit 1 if README is not what the "
                                                         "results render, or a CPU benchmark has no results")
    ap.add_argument("--readme", default=os.path.join(ROOT, "README.md"))
    ap.add_argument("--results", default=RESULTS)
    ap.add_argument("--timeout", type=float, default=None, help="seconds allowed per benchmark (default none)")
    args = ap.parse_args(argv)

    chosen = list(BENCHMARKS) if args.only is None else [x.strip() for x in args.only.split(",") if x.strip()]
    skip = {x.strip() for x in args.skip.split(",") if x.strip()}
    for name in chosen + sorted(skip):
        if name not in BENCHMARKS:
            ap.error(f"--only/--skip: unknown benchmark {name!r}; expected some of {', '.join(BENCHMARKS)}")
    chosen = [n for n in chosen if n not in skip]

    failed, ran = [], []
    if not (args.render_only or args.check):
        gpu = None
        for name in chosen:
            script, _, needs_gpu = BENCHMARKS[name]
            path = os.path.join(HERE, script)
            if not os.path.exists(path):
                print(f"run_all: {name}: {script} does not exist here: skipped", file=sys.stderr)
                continue
            if needs_gpu:
                gpu = gpu_available() if gpu is None else gpu
                if not gpu:
                    print(f"run_all: {name}: no GPU (fastnlp.cuda_available() is False): skipped", file=sys.stderr)
                    continue
            with open(path, encoding="utf-8") as f:
                source = f.read()
            cmd = [sys.executable, path]
            if args.quick:
                if '"--quick"' not in source:
                    print(f"run_all: {name}: {script} has no --quick mode: skipped in a quick run", file=sys.stderr)
                    continue
                cmd.append("--quick")
            if args.results != RESULTS:
                if '"--out"' not in source:
                    print(f"run_all: {name}: {script} has no --out option: skipped (--results given)", file=sys.stderr)
                    continue
                cmd += ["--out", args.results]
            print(f"run_all: {' '.join(cmd[1:])}", file=sys.stderr, flush=True)
            t0 = time.perf_counter()
            try:
                rc = subprocess.run(cmd, cwd=ROOT, timeout=args.timeout).returncode
            except subprocess.TimeoutExpired:
                rc = "timeout"
            seconds = time.perf_counter() - t0
            print(f"run_all: {name}: {'ok' if rc == 0 else f'FAILED ({rc})'} in {seconds:.0f} s", file=sys.stderr,
                  flush=True)
            (ran if rc == 0 else failed).append((name, seconds))

    with open(args.readme, encoding="utf-8") as f:
        text = f.read()
    new, missing = render(text, args.results, args.quick)
    for name in missing:
        print(f"run_all: README marker {name!r} has no results file "
              f"({name}{'_quick' if args.quick else ''}.md): its text is left as it was", file=sys.stderr)
    if args.check:
        stale = new != text
        if stale:
            print("run_all: README differs from what benchmarks/results renders: run "
                  "`python benchmarks/run_all.py --render-only`", file=sys.stderr)
        gpu_results = {r for _, r, needs_gpu in BENCHMARKS.values() if needs_gpu}
        return 1 if stale or [m for m in missing if m not in gpu_results] else 0
    target = os.path.join(args.results, "README_quick.md") if args.quick else args.readme
    atomic_write(target, new)
    print(f"run_all: rendered {len(markers(text)) - len(missing)} of {len(markers(text))} README sections "
          f"into {os.path.relpath(target, ROOT)}", file=sys.stderr)
    for name, seconds in ran:
        print(f"  ok      {name} ({seconds:.0f} s)", file=sys.stderr)
    for name, seconds in failed:
        print(f"  FAILED  {name} ({seconds:.0f} s)", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
