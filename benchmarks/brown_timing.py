"""Times Brown clustering at full size: C = 1000 on the shared corpus (25.5M tokens), min_count 40, all
threads, no progress bar; prints one JSON line (wall and CPU seconds, peak RSS, load averages), the
record kept in benchmarks/results/brown_quiet.json.

    python benchmarks/brown_timing.py [--data-dir DIR] > benchmarks/results/brown_quiet.json
"""
import argparse
import json
import os
import resource
import time

import fastnlp
from fastnlp.embeddings import brown_clusters
from fastnlp._data import data_dir

p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
p.add_argument("--data-dir", default=None, help="the shared data folder (default: $FASTNLP_DATA or ../shared/data)")
args = p.parse_args()
t, c0 = time.perf_counter(), time.process_time()
load0 = os.getloadavg()
bc = brown_clusters(os.path.join(data_dir(args.data_dir), "corpus", "en-corpus.txt"), num_clusters=1000, min_count=40,
                    progress=False)
wall = time.perf_counter() - t
out = {"clusters": 1000, "min_count": 40, "words": len(bc.paths), "wall_s": wall, "cpu_s": time.process_time() - c0,
       "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, "load_before": load0,
       "load_after": os.getloadavg(), "threads": fastnlp.get_num_threads(), "date": time.strftime("%Y-%m-%dT%H:%M:%S")}
print(json.dumps(out))
