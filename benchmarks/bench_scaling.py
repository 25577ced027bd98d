"""End-to-end scaling of raw-text annotation: fastnlp.pipeline("pos") on one process, on 2 processes
(Pipeline.pipe(n_process=2)) and on a Dask LocalCluster of 1 and 2 process workers (fastnlp.dask).

Input: the `# text =` lines of UD English-EWT (train + dev), grouped 10 sentences to a document, one
document per line of a temporary file, repeated to --mb megabytes. Every configuration reads that
file itself and tags all of it: pipe reads it line by line in this process; Dask reads it in its
workers (annotate_files, --partitions blocks per worker) and counts the tokens there (the records are
not brought back). Times include starting the pipe's worker processes (fork) but not starting the
Dask clusters or loading their pipelines (done once, before the rounds). Tokens/s are the pipeline's
own tokens over wall time; rounds are interleaved; medians reported.

    python benchmarks/bench_scaling.py            # ~8 MB, 3 rounds
    python benchmarks/bench_scaling.py --quick    # smoke run: ~1 MB, 1 round
"""

import glob
import itertools
import logging
import os
import resource
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from common import Run, bench_parser, interleaved, per_second, ratio, stats, table  # noqa: E402


def ewt_documents(data_dir, sentences_per_doc=10):
    files = sorted(glob.glob(os.path.join(data_dir, "tagging", "ud_en_ewt", "*.conllu")))
    if not files:
        raise SystemExit(f"bench_scaling: no EWT .conllu files under {data_dir}/tagging/ud_en_ewt")
    sents = []
    for path in files:
        with open(path, encoding="utf-8") as f:
            sents.extend(line[len("# text = "):].strip() for line in f if line.startswith("# text = "))
    return [" ".join(sents[i:i + sentences_per_doc]) for i in range(0, len(sents), sentences_per_doc)]


def write_corpus(docs, megabytes, path):
    body = "\n".join(docs) + "\n"
    copies = max(1, round(megabytes * 2**20 / len(body.encode("utf-8"))))
    with open(path, "w", encoding="utf-8") as f:
        for _ in range(copies):
            f.write(body)
    return copies


def count_tokens(record):
    return len(record["tokens"])


def main():
    p = bench_parser(__doc__, "~1 MB of text, 1 round", data=True, rounds=3)
    p.add_argument("--mb", type=float, default=8.0, help="megabytes of text (default 8)")
    p.add_argument("--batch-size", type=int, default=100,
                   help="documents per batch (default 100, ~16k tokens: enough batches for 2 processes)")
    p.add_argument("--partitions", type=int, default=4, help="Dask partitions per worker (default 4)")
    args = p.parse_args()
    if args.quick:
        args.mb, args.rounds = 1.0, 1

    import fastnlp

    try:
        import dask.bag  # noqa: F401
        from distributed import Client, LocalCluster

        import fastnlp.dask as fdask
    except ImportError:
        Client = None
        print("bench_scaling: dask / distributed missing (pip install 'fastnlp[dask]'): Dask rows skipped",
              file=sys.stderr)

    fastnlp.set_num_threads(1)  # one core per process: the n_process and worker counts are the cores used
    run = Run("scaling", args, threads=1)
    docs = ewt_documents(args.data)
    tmp = tempfile.mkdtemp(prefix="bench_scaling_")
    path = os.path.join(tmp, "ewt.txt")
    copies = write_corpus(docs, args.mb, path)
    size = os.path.getsize(path)
    nlp = fastnlp.pipeline("pos")

    def lines():
        with open(path, encoding="utf-8") as f:
            for line in f:
                line = line.rstrip("\n")
                if line:
                    yield line

    for _ in nlp.pipe(itertools.islice(lines(), 2000), batch_size=args.batch_size):  # warm-up
        pass
    counted = {}
    cpu = {}  # configuration -> CPU seconds per run (this process + its worker processes), per round

    def pipe(n, name):
        def fn():
            before = _cpu_seconds()
            counted[f"pipe{n}"] = sum(len(d) for d in nlp.pipe(lines(), batch_size=args.batch_size, n_process=n))
            cpu.setdefault(name, []).append(_cpu_seconds() - before)  # the workers have exited: counted
        return fn

    fns = {name: pipe(n, name) for name, n in (("pipe, 1 process", 1), ("pipe, 2 processes", 2))}
    processes = {"pipe, 1 process": 1, "pipe, 2 processes": 2}
    clusters = []
    if Client is not None:
        for workers in (1, 2):
            cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=":0",
                                   silence_logs=logging.ERROR)
            client = Client(cluster, set_as_default=False)
            clusters.append((cluster, client))
            blocksize = max(1 << 16, size // (workers * args.partitions) + 1)

            def fn(client=client, workers=workers, blocksize=blocksize):
                bag = fdask.annotate_files(path, tasks="pos", blocksize=blocksize, batch_size=args.batch_size)
                counted[f"dask{workers}"] = client.compute(bag.map(count_tokens).sum()).result()

            # every worker loads its pipeline (and sets its threads) before the timings
            client.gather([client.submit(_load_pipeline, "pos", workers=[w], pure=False)
                           for w in client.scheduler_info()["workers"]])
            name = f"Dask LocalCluster, {workers} worker{'s' if workers > 1 else ''}"
            fns[name], processes[name] = fn, workers
    try:
        times = interleaved(fns, rounds=args.rounds, repeat=1, warmup=0)
    finally:
        for cluster, client in clusters:
            client.close()
            cluster.close()
        os.remove(path)
        os.rmdir(tmp)
    tokens = counted["pipe1"]
    for key, n in counted.items():
        if n != tokens:
            raise SystemExit(f"bench_scaling: {key} tagged {n} tokens, pipe on 1 process {tokens}")
    base = {"pipe": times["pipe, 1 process"]}
    if "Dask LocalCluster, 1 worker" in times:
        base["Dask"] = times["Dask LocalCluster, 1 worker"]
    rows = []
    for name, t in times.items():
        kind = "pipe" if name.startswith("pipe") else "Dask"
        rows.append({"configuration": name, "processes": processes[name], "seconds": t,
                     "tokens_per_s": per_second(t, tokens), "speedup": ratio(base[kind], t),
                     "cpu_seconds": stats(cpu[name]) if name in cpu else None,
                     "tokens_per_cpu_s": per_second(stats(cpu[name]), tokens) if name in cpu else None})
    md = table(rows, [("configuration", "configuration"), ("processes", "processes"),
                      ("tokens/s", lambda r: _k(r["tokens_per_s"])), ("speedup over 1", lambda r: _x(r["speedup"])),
                      ("tokens per CPU second", lambda r: r["tokens_per_cpu_s"] and _k(r["tokens_per_cpu_s"]))])
    md += (f"\n\n{tokens:,} tokens ({size / 2**20:.1f} MB: {len(docs):,} EWT documents of 10 sentences, "
           f"{copies}x) per run, pipeline(\"pos\"), batch_size {args.batch_size}, fastnlp on 1 thread per process; "
           f"median over {args.rounds} interleaved round(s) (lowest-highest). Speedup: per round, against the "
           "same kind's 1-process run. Tokens per CPU second (pipe only: this process and its workers' user + "
           "system time) is what load from other jobs changes least: a 2-process run that spends little more CPU "
           "than the 1-process run scales near-linearly wherever 2 cores are free.")
    print(run.write(rows, md, tokens=tokens, bytes=size))


def _cpu_seconds():
    me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


def _load_pipeline(tasks):
    import fastnlp.dask as fdask

    fdask.get_pipeline(tasks)


def _k(s):
    return f"{s['median'] / 1e3:,.0f}k ({s['min'] / 1e3:,.0f}-{s['max'] / 1e3:,.0f})"


def _x(s):
    return f"{s['median']:.2f}x ({s['min']:.2f}-{s['max']:.2f})"


if __name__ == "__main__":
    main()
