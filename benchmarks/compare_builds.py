"""Two builds of fastnlp, same benchmarks, same machine, taking turns: is a change (a refactor that
should not change speed, a kernel rewrite that should) faster, slower or the same? Each benchmark
script runs as a child process, alternately with the "before" package first on the path and with
the installed ("after") one, `--alternations` times each; per row, the fastnlp time is the median
over the runs of each build. Writes benchmarks/results/compare_builds.{json,md}.

    # save the old build first: cp -r $(python -c 'import fastnlp,os;print(os.path.dirname(fastnlp.__file__))') /tmp/old/
    python benchmarks/compare_builds.py --before /tmp/old --only ops,sequence,word2vec [--alternations 2]

--before is a folder holding a `fastnlp` package (what `import fastnlp` would load from there). The
benchmarks' own peers (NumPy, PyTorch) are not compared here: only fastnlp against fastnlp.
"""

import json
import os
import statistics
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import DATA, Run, bench_parser, table  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))

# name -> (script, extra arguments, the row's key fields, the fastnlp time field, its unit)
BENCHES = {
    "ops": ("bench_ops.py", [], ("op", "threads"), "fastnlp_ms", "ms"),
    "sequence": ("bench_sequence.py", [], ("case", "threads", "pass"), "fastnlp_ms", "ms"),
    # the corpus named, so that the old build need not locate the data itself
    "word2vec": ("bench_word2vec.py", ["--libraries", "fastnlp", "--max-lines", "20000", "--rounds", "1",
                                       "--no-eval", "--corpus", os.path.join(DATA, "corpus", "en-corpus.txt")],
                 ("model",), "train_seconds", "s"),
}


def _median(value):
    return value["median"] if isinstance(value, dict) else value


def build_env(label, before):
    """The environment a child runs in: the old package first on the path for "before"."""
    env = dict(os.environ)
    if label == "before":
        env["PYTHONPATH"] = before + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    return env


def package_dir(env):
    """Where `import fastnlp` resolves in `env` (said in the results, so a wrong path shows)."""
    check = [sys.executable, "-c", "import fastnlp, os; print(os.path.dirname(fastnlp.__file__))"]
    return subprocess.run(check, env=env, capture_output=True, text=True, check=True).stdout.strip()


def run_once(bench, label, env, out_dir, quick):
    script, extra, _, _, _ = BENCHES[bench]
    cmd = [sys.executable, os.path.join(HERE, script), "--out", out_dir] + extra + (["--quick"] if quick else [])
    print(f"[{bench} {label}]", flush=True)
    subprocess.run(cmd, env=env, check=True, stdout=subprocess.DEVNULL)
    name = next(f for f in os.listdir(out_dir) if f.endswith(".json"))
    with open(os.path.join(out_dir, name)) as f:
        return json.load(f)


def main(argv=None):
    p = bench_parser(__doc__, "pass --quick to every benchmark")
    p.add_argument("--before", required=True, help="folder holding the old build's fastnlp package")
    p.add_argument("--only", default="ops,sequence,word2vec", help=f"comma-separated, of {', '.join(BENCHES)}")
    p.add_argument("--alternations", type=int, default=2, help="runs of each build, taking turns")
    args = p.parse_args(argv)
    if not os.path.isdir(os.path.join(args.before, "fastnlp")):
        p.error(f"--before must hold a fastnlp package, got {args.before!r}")
    benches = args.only.split(",")
    unknown = set(benches) - set(BENCHES)
    if unknown:
        p.error(f"--only: unknown {sorted(unknown)}; expected some of {list(BENCHES)}")
    run = Run("compare_builds", args, threads="as each benchmark sets them")
    envs = {label: build_env(label, args.before) for label in ("before", "after")}
    sources = {label: package_dir(env) for label, env in envs.items()}
    print(f"before: fastnlp from {sources['before']}; after: from {sources['after']}", flush=True)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for bench in benches:
            _, _, keys, field, unit = BENCHES[bench]
            times = {}  # (key) -> {"before": [...], "after": [...]}
            for i in range(args.alternations):
                for label in ("before", "after") if i % 2 == 0 else ("after", "before"):
                    out_dir = os.path.join(tmp, f"{bench}-{label}-{i}")
                    os.makedirs(out_dir)
                    result = run_once(bench, label, envs[label], out_dir, args.quick)
                    for row in result["rows"]:
                        if row.get(field) is None or row.get("library", "fastnlp") != "fastnlp":
                            continue
                        key = tuple(row[k] for k in keys)
                        times.setdefault(key, {"before": [], "after": []})[label].append(_median(row[field]))
            for key, t in times.items():
                if not t["before"] or not t["after"]:  # a case only one build has (a new op)
                    continue
                b, a = statistics.median(t["before"]), statistics.median(t["after"])
                rows.append({"benchmark": bench, "case": " / ".join(str(k) for k in key), "unit": unit,
                             "before": b, "after": a, "after_over_before": a / b,
                             "before_runs": t["before"], "after_runs": t["after"]})
    slower = [r for r in rows if r["after_over_before"] > 1.05]
    md = (table(rows, [("benchmark", "benchmark"), ("case", "case"),
                       ("before", lambda r: f"{r['before']:.3g} {r['unit']}"),
                       ("after", lambda r: f"{r['after']:.3g} {r['unit']}"),
                       ("after / before", lambda r: f"{r['after_over_before']:.2f}")])
          + f"\n\nfastnlp's time per case, median over {args.alternations} runs of each build taking turns "
            f"(each run itself the median of its benchmark's rounds). before: {sources.get('before')}; after: "
            f"{sources.get('after')}. {len(slower)} of {len(rows)} cases more than 5% slower after.")
    print(run.write(rows, md))


if __name__ == "__main__":
    main()
