"""The ``fastnlp`` command line (also ``python -m fastnlp``)."""

import argparse
import sys


def main(argv=None):
    parser = argparse.ArgumentParser(prog="fastnlp", description="fastnlp command line")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("info", help="build and device information")
    args = parser.parse_args(argv)
    if args.command == "info":
        import fastnlp

        print(f"fastnlp {fastnlp.__version__}")
        print(f"threads: {fastnlp.get_num_threads()}")
        print(f"cuda compiled: {fastnlp._C.cuda_compiled}, cuda available: {fastnlp.cuda_available()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
