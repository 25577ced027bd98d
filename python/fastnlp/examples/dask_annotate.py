"""Annotate text files and count a word2vec vocabulary on a Dask cluster (here a LocalCluster of
process workers; pass --scheduler tcp://host:8786 for a real one). Needs `pip install fastnlp[dask]`.

    python -m fastnlp.examples.dask_annotate notes.txt more.txt --tasks pos,ner --out annotated.jsonl

Each non-blank line of the files is one document; the records (Doc.to_json(), one JSON object per
line) are written in file and line order. The vocabulary counts are printed at the end.
"""

import argparse
import json
import sys
import time


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("paths", nargs="+", help="text files, one document per line")
    p.add_argument("--tasks", default="pos,ner", help="comma-separated tasks (default pos,ner)")
    p.add_argument("--out", default=None, help="JSON lines output (default: only a summary is printed)")
    p.add_argument("--workers", type=int, default=2, help="LocalCluster process workers (default 2)")
    p.add_argument("--scheduler", default=None, help="address of a running scheduler instead of a LocalCluster")
    p.add_argument("--blocksize", default="16MiB", help="bytes of text per partition (default 16MiB)")
    p.add_argument("--min-count", type=int, default=5, help="vocabulary: words seen fewer times are dropped")
    args = p.parse_args(argv)

    from dask.distributed import Client, LocalCluster

    import fastnlp.dask as fdask

    if args.scheduler:
        client, cluster = Client(args.scheduler), None
    else:
        cluster = LocalCluster(n_workers=args.workers, threads_per_worker=1, processes=True, dashboard_address=":0")
        client = Client(cluster)
    try:
        t0 = time.perf_counter()
        records = fdask.annotate_files(args.paths, tasks=args.tasks, blocksize=args.blocksize)
        docs = tokens = 0
        out = open(args.out, "w", encoding="utf-8") if args.out else None
        try:
            # One partition at a time comes back to this process: memory follows the blocksize.
            for part in records.to_delayed():
                for record in part.compute():
                    docs += 1
                    tokens += len(record["tokens"])
                    if out:
                        out.write(json.dumps(record, ensure_ascii=False) + "\n")
        finally:
            if out:
                out.close()
        seconds = time.perf_counter() - t0
        print(f"{docs:,} documents, {tokens:,} tokens in {seconds:.1f} s ({tokens / seconds:,.0f} tokens/s)")
        vocab = fdask.count_vocab(args.paths, min_count=args.min_count, blocksize=args.blocksize)
        print(f"vocabulary: {len(vocab.words):,} words seen >= {args.min_count} times, of {vocab.total_words:,} "
              f"tokens; most frequent: {', '.join(vocab.words[:10])}")
    finally:
        client.close()
        if cluster is not None:
            cluster.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
