"""What every benchmark shares: interleaved timing rounds (median, min and max over rounds), the
record of where and how a result was measured (commit, date, machine, threads, library versions,
load average before and after), and atomic JSON + markdown output under benchmarks/results/.

A results file is {"meta": ..., "rows": [...]} plus whatever a benchmark adds; its markdown twin is
the text that benchmarks/run_all.py pastes into README between `<!-- results:NAME -->` and
`<!-- /results -->`, so README's tables and the figures in the prose around them come from here.
"""

import argparse
import datetime
import json
import os
import platform
import statistics
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RESULTS = os.path.join(ROOT, "benchmarks", "results")
DATA = os.environ.get("FASTNLP_DATA", os.path.join(ROOT, "..", "shared", "data"))

# Paths that running the benchmarks rewrites: they do not make the measured code "dirty".
_OUTPUTS = ("benchmarks/results/", "README.md")


# ---- the command line ---------------------------------------------------------------------------

# The timing knobs a benchmark may take (bench_parser's keywords), each with its one help text.
_TIMING_HELP = {
    "rounds": "interleaved rounds: each times every implementation once (median over rounds reported)",
    "repeat": "timed calls per implementation per round",
    "warmup": "untimed calls before each round's timings",
    "min_seconds": "least time per implementation per round",
    "settle": "seconds of pause before each block of timings",
}


def bench_parser(doc, quick, data=False, **timing):
    """The arguments every benchmark takes, stated once: --quick (`quick` says what the smoke run
    changes), --out (the results folder, default benchmarks/results), --data (the shared data
    folder) when `data`, and the timing knobs named in `timing` with their defaults, e.g.
    bench_parser(__doc__, "...", rounds=5, repeat=10). The benchmark adds its own arguments to the
    parser returned, then passes the parsed args to Run."""
    p = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    if data:
        p.add_argument("--data-dir", "--data", dest="data", default=DATA,
                       help="the shared data folder (default $FASTNLP_DATA, else ../shared/data)")
    for name, default in timing.items():
        if name not in _TIMING_HELP:
            raise TypeError(f"bench_parser: unknown timing argument {name!r} (one of {', '.join(_TIMING_HELP)})")
        p.add_argument("--" + name.replace("_", "-"), type=type(default), default=default, help=_TIMING_HELP[name])
    p.add_argument("--quick", action="store_true", help=quick + " (a smoke run, results written as NAME_quick)")
    p.add_argument("--out", default=None, help="results folder (default benchmarks/results)")
    return p


# ---- timing -------------------------------------------------------------------------------------

def cpu_busy(seconds):
    """The cores this process keeps busy while its calling thread sleeps `seconds`: its CPU time over
    the wall time of the sleep, so ~0 when every other thread of it sleeps and ~1 per thread that
    spins (an idle OpenBLAS or OpenMP pool waiting for work)."""
    c0, w0 = time.clock_gettime(time.CLOCK_PROCESS_CPUTIME_ID), time.perf_counter()
    time.sleep(seconds)
    return (time.clock_gettime(time.CLOCK_PROCESS_CPUTIME_ID) - c0) / (time.perf_counter() - w0)


def wait_until_idle(limit=2.0, probe=0.01, busy=0.05):
    """Sleeps until no thread of this process burns CPU (two probes of `probe` seconds in a row each
    under `busy` cores), at most `limit` seconds. Returns the seconds waited."""
    start, quiet = time.perf_counter(), 0
    while quiet < 2 and time.perf_counter() - start < limit:
        quiet = quiet + 1 if cpu_busy(probe) < busy else 0
    return time.perf_counter() - start


def interleaved(fns, rounds=5, repeat=5, warmup=2, settle=0.0, min_seconds=0.0, setup=None, quiesce=False,
                warmup_seconds=0.0):
    """Times the callables of `fns` ({name: fn}) taking turns: each round runs every one `warmup`
    times untimed, then `repeat` times timed (more while under `min_seconds`), one after the
    other, so slow drift and bursts of load from other jobs hit every implementation alike.
    `settle` seconds of sleep before each block let the previous library's idle thread pool stop
    spinning (OpenBLAS spins ~0.1 s after a call). setup: {name: callable} run, untimed, before
    that name's block (e.g. setting its thread count). quiesce: after the settle, also wait (up to
    2 s) until no thread of the process burns CPU, so that no implementation starts while another's
    pool is still spinning; the longest such wait per name is kept under "quiesce_s". Returns
    {name: stats(per-round medians)} in seconds, with the per-round medians kept under "rounds".
    warmup_seconds: the untimed calls go on until this long has passed too (after an idle pause a
    2-vCPU VM can run both threads of a team on one vCPU for the first ~50 ms, see bench_sequence)."""
    per_round = {k: [] for k in fns}
    waited = {k: 0.0 for k in fns}
    for _ in range(rounds):
        for name, fn in fns.items():
            if setup and name in setup:
                setup[name]()
            if settle:
                time.sleep(settle)
            if quiesce:
                waited[name] = max(waited[name], wait_until_idle())
            w0, n = time.perf_counter(), 0
            while n < warmup or time.perf_counter() - w0 < warmup_seconds:
                fn()
                n += 1
            t = []
            start = time.perf_counter()
            while len(t) < repeat or time.perf_counter() - start < min_seconds:
                t0 = time.perf_counter()
                fn()
                t.append(time.perf_counter() - t0)
            per_round[name].append(statistics.median(t))
    out = {k: stats(v) for k, v in per_round.items()}
    if quiesce:
        for k in out:
            out[k]["quiesce_s"] = waited[k]
    return out


def stats(values):
    """{"median", "min", "max", "rounds"} of a list of per-round figures."""
    values = list(values)
    return {"median": statistics.median(values), "min": min(values), "max": max(values), "rounds": values}


def ratio(num, den):
    """num / den per round (rounds were interleaved, so round k of both saw the same load), as stats."""
    return stats(a / b for a, b in zip(num["rounds"], den["rounds"]))


def scaled(s, factor):
    """Stats s with every figure multiplied by factor (seconds -> ms)."""
    return stats(x * factor for x in s["rounds"])


def per_second(s, amount):
    """A rate (amount / seconds) from time stats."""
    return stats(amount / x for x in s["rounds"])


# ---- threads ------------------------------------------------------------------------------------

def set_threads(n, torch=None, strict=True):
    """The same thread count for fastnlp (its pool and its BLAS), PyTorch (intra-op, when given)
    and NumPy's own BLAS (through threadpoolctl). NumPy's elementwise ufuncs always run on one
    thread. Without threadpoolctl NumPy's BLAS cannot be limited: an error when n is not the core
    count (a warning when not strict, for smoke runs)."""
    import fastnlp

    fastnlp.set_num_threads(n)
    if torch is not None:
        torch.set_num_threads(n)
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        threadpool_limits = None
    if threadpool_limits is not None:
        threadpool_limits(n)
    elif n != (os.cpu_count() or 1):
        msg = (f"NumPy's BLAS cannot be limited to {n} thread(s) without threadpoolctl, so the comparison "
               "would not be fair: pip install threadpoolctl")
        if strict:
            raise SystemExit(msg)
        print("WARNING: " + msg, file=sys.stderr)
    return n


# ---- where and how ------------------------------------------------------------------------------

def git_state():
    """(commit, dirty, dirty paths): HEAD of the repository and whether tracked or untracked files
    other than the benchmark outputs differ from it."""
    try:
        commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True,
                                check=True).stdout.strip()
        status = subprocess.run(["git", "status", "--porcelain", "--untracked-files=normal"], cwd=ROOT,
                                capture_output=True, text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return None, None, []
    paths = [line[3:] for line in status.splitlines() if line.strip()]
    dirty = [p for p in paths if not p.startswith(_OUTPUTS)]
    return commit, bool(dirty), dirty


def machine():
    cpu, mem_gib = platform.processor() or "unknown", None
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemTotal:"):
                    mem_gib = round(int(line.split()[1]) / 2**20, 1)
                    break
    except OSError:
        pass
    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:
        usable = os.cpu_count()
    return {"cpu": cpu, "cores": os.cpu_count(), "usable_cores": usable, "memory_gib": mem_gib,
            "platform": platform.platform(), "python": platform.python_version()}


def machine_info():
    """machine() plus the current load average (kept for scripts that record only this)."""
    return dict(machine(), load_average=os.getloadavg())


def versions():
    """Versions of fastnlp and of every peer that is importable (None when it is not)."""
    out = {}
    for mod in ("fastnlp", "numpy", "torch", "gensim", "nltk", "sklearn", "cupy", "threadpoolctl"):
        try:
            m = __import__(mod)
            out[mod] = getattr(m, "__version__", "?")
        except Exception:  # an optional peer: absent, or broken on this machine
            out[mod] = None
    try:  # which build was measured: an installed copy may predate the commit recorded
        import fastnlp

        out["fastnlp_path"] = os.path.dirname(fastnlp.__file__)
    except ImportError:
        pass
    try:
        from threadpoolctl import threadpool_info

        out["blas"] = [{k: i.get(k) for k in ("internal_api", "version", "filepath", "num_threads")}
                       for i in threadpool_info()]
    except ImportError:
        pass
    return out


class Run:
    """One benchmark run's record. Create it before measuring (it notes the load average then),
    call write() at the end (it notes the load average after). With args from bench_parser, quick
    and the results folder come from args.quick and args.out."""

    def __init__(self, name, args=None, threads=None, quick=None, **extra):
        if quick is None:
            quick = bool(getattr(args, "quick", False))
        self.out_dir = getattr(args, "out", None) or RESULTS
        self.name = name + ("_quick" if quick else "")
        commit, dirty, dirty_paths = git_state()
        self.meta = {"benchmark": name, "quick": bool(quick), "commit": commit, "dirty": dirty,
                     "dirty_paths": dirty_paths[:50],
                     "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
                     "machine": machine(), "threads": threads, "versions": versions(),
                     "load_average_before": os.getloadavg(), "command": " ".join([os.path.basename(sys.argv[0])]
                                                                                 + sys.argv[1:]),
                     "settings": dict(vars(args)) if args is not None else {}}
        self.meta.update(extra)

    def provenance(self):
        """One line for the markdown: commit, date, machine, threads, versions, load."""
        m, v = self.meta, self.meta["versions"]
        commit = (m["commit"] or "unknown")[:10] + (" (uncommitted changes)" if m["dirty"] else "")
        peers = ", ".join(f"{k} {v[k]}" for k in ("numpy", "torch", "gensim", "nltk", "sklearn") if v.get(k))
        load = m["load_average_before"][0], m.get("load_average_after", [float("nan")])[0]
        return (f"*Measured {m['date'][:10]} on commit `{commit}`: {m['machine']['cpu']}, "
                f"{m['machine']['cores']} cores; threads {m['threads']}; fastnlp {v.get('fastnlp')}, {peers}; "
                f"1-min load average {load[0]:.2f} before, {load[1]:.2f} after"
                + ("; QUICK smoke run, not for quoting" if m["quick"] else "") + ".*")

    def write(self, rows, markdown, out_dir=None, **extra):
        """Writes out_dir/NAME.json ({"meta", "rows", ...extra}) and out_dir/NAME.md (the provenance
        line, then `markdown`), each through a temporary file and a rename, so a reader (or an
        interrupted run) never sees half a file. out_dir: by default args.out, else
        benchmarks/results. Returns the markdown."""
        out_dir = out_dir or self.out_dir
        self.meta["load_average_after"] = os.getloadavg()
        text = self.provenance() + "\n\n" + markdown.strip() + "\n"
        payload = {"meta": self.meta, "rows": rows}
        payload.update(extra)
        atomic_write(os.path.join(out_dir, self.name + ".json"), json.dumps(payload, indent=1, default=_json))
        atomic_write(os.path.join(out_dir, self.name + ".md"), text)
        return text


def atomic_write(path, text):
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(text)
    os.replace(tmp, path)


def _json(o):
    if hasattr(o, "item"):
        return o.item()
    if hasattr(o, "tolist"):
        return o.tolist()
    return str(o)


# ---- markdown -------------------------------------------------------------------------------------

def table(rows, columns, align=None):
    """A markdown table. columns: [(header, key or callable(row))]; a value that is a stats dict
    shows as `median (min-max)`."""
    lines = ["| " + " | ".join(h for h, _ in columns) + " |",
             "|" + "".join("---:|" if (align or {}).get(h) == "right" else "---|" for h, _ in columns)]
    for r in rows:
        cells = []
        for _, key in columns:
            v = key(r) if callable(key) else r.get(key)
            cells.append(fmt(v))
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def fmt(v, digits=3):
    if v is None:
        return "-"
    if isinstance(v, dict) and "median" in v:
        return f"{fmt(v['median'], digits)} ({fmt(v['min'], digits)}-{fmt(v['max'], digits)})"
    if isinstance(v, float):
        if v != v:
            return "-"
        if abs(v) >= 1000:
            return f"{v:,.0f}"
        return f"{v:.{digits}g}" if abs(v) < 100 else f"{v:.0f}"
    return str(v)


def fmt_x(v):
    """A ratio as `2.31x (2.1-2.5)`."""
    if v is None:
        return "-"
    return f"{v['median']:.2f}x ({v['min']:.2f}-{v['max']:.2f})"
