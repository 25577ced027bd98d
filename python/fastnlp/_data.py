"""Where the commands that read data find it: ``--data-dir``, else $FASTNLP_DATA, else
../shared/data beside the working directory (the development layout). A pip user has none of
these, so the error says where to get the data sets (README, "Data and licenses")."""

from __future__ import annotations

import argparse
import os
from typing import Optional

ENV = "FASTNLP_DATA"
DEV_LAYOUT = os.path.join("..", "shared", "data")
HELP = ("the data folder (corpus/, tagging/, classification/, embeddings-eval/, lm/); default $FASTNLP_DATA, "
        "else ../shared/data when it exists")


def default_data_dir() -> Optional[str]:
    """$FASTNLP_DATA when set, else ../shared/data when that folder exists, else None."""
    env = os.environ.get(ENV)
    if env:
        return env
    return DEV_LAYOUT if os.path.isdir(DEV_LAYOUT) else None


def data_dir(given: "Optional[str | os.PathLike[str]]" = None, need: Optional[str] = None) -> str:
    """The data folder a command reads.

    Parameters
    ----------
    given : str or os.PathLike, optional
        The ``--data-dir`` the user gave (None: $FASTNLP_DATA, else ../shared/data when it exists).
    need : str, optional
        A path inside the folder the command reads (``"corpus/en-corpus.txt"``), checked to exist.

    Returns
    -------
    str
        The folder.

    Raises
    ------
    FileNotFoundError
        Naming what is missing and how to get it, when there is no folder or it lacks `need`.
    """
    root = os.fspath(given) if given is not None else default_data_dir()
    where = ("Download the data sets listed in fastnlp's README (section 'Data and licenses') into one folder "
             f"and pass it with --data-dir DIR or set {ENV}=DIR")
    if root is None:
        raise FileNotFoundError(f"no data folder: --data-dir not given, ${ENV} not set and {DEV_LAYOUT} "
                                f"does not exist. {where}")
    if not os.path.isdir(root):
        raise FileNotFoundError(f"data folder {root} does not exist. {where}")
    if need is not None and not os.path.exists(os.path.join(root, need)):
        raise FileNotFoundError(f"{os.path.join(root, need)} is missing from the data folder {root}. {where}")
    return root


def add_data_dir_argument(parser: argparse.ArgumentParser, *aliases: str) -> None:
    """Adds ``--data-dir DIR`` (default None: resolved by :func:`data_dir` when the command runs).

    Parameters
    ----------
    parser : argparse.ArgumentParser
        The command's parser.
    *aliases : str
        Older option names kept working (``"--data"``).
    """
    parser.add_argument("--data-dir", *aliases, dest="data_dir", metavar="DIR", default=None, help=HELP)
