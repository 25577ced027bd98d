"""Timing and reporting shared by the benchmarks: warm-up, repeats, medians, JSON + markdown."""

import json
import os
import platform
import statistics
import time


def median_time(fn, warmup=3, repeat=15, min_seconds=0.0):
    """Median wall time of fn() in seconds after `warmup` untimed calls."""
    for _ in range(warmup):
        fn()
    times = []
    start = time.perf_counter()
    while len(times) < repeat or time.perf_counter() - start < min_seconds:
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def machine_info():
    cpu = platform.processor() or "unknown"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return {"cpu": cpu, "cores": os.cpu_count(), "python": platform.python_version(),
            "platform": platform.platform(), "load_average": os.getloadavg()}


def set_threads(n, torch=None):
    """The same thread count for fastnlp, PyTorch (when given) and NumPy's own BLAS."""
    import fastnlp

    fastnlp.set_num_threads(n)
    if torch is not None:
        torch.set_num_threads(n)
    try:
        from threadpoolctl import threadpool_limits
        threadpool_limits(n)
    except ImportError:
        pass


def write_results(name, rows, columns, meta, out_dir):
    """Writes out_dir/name.json and out_dir/name.md (a markdown table of `columns`)."""
    os.makedirs(out_dir, exist_ok=True)
    with open(os.path.join(out_dir, name + ".json"), "w") as f:
        json.dump({"meta": meta, "rows": rows}, f, indent=1)
    lines = [f"Machine: {meta['machine']['cpu']}, {meta['machine']['cores']} cores; "
             f"threads: {meta.get('threads')}; {meta.get('note', '')}".rstrip("; "), "",
             "| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    for r in rows:
        lines.append("| " + " | ".join(_fmt(r.get(c)) for c in columns) + " |")
    text = "\n".join(lines) + "\n"
    with open(os.path.join(out_dir, name + ".md"), "w") as f:
        f.write(text)
    return text


def _fmt(v):
    if v is None:
        return "-"
    if isinstance(v, float):
        return f"{v:.3g}" if abs(v) < 100 else f"{v:.0f}"
    return str(v)
