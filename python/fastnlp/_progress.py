"""The progress bars of fastnlp's long jobs (word2vec, tagger and classifier training): tqdm on
stderr, one place to set how they look and how they are switched off."""

import sys
from typing import Any, Optional, TextIO

from tqdm.auto import tqdm

__all__ = ["progress_bar"]


def progress_bar(total: Optional[float], desc: str, unit: str = "it", enabled: bool = True,
                 file: Optional[TextIO] = None, **kwargs: Any) -> tqdm:
    """A tqdm bar writing to `file` (default: stderr), or a disabled one that prints nothing.

    Parameters
    ----------
    total : float or None
        The count the bar runs to (None: unknown, a counter).
    desc : str
        The label in front of the bar.
    unit : str
        What is counted ("epoch", "sent", ...).
    enabled : bool
        False gives a bar whose updates do nothing.
    file : text stream, optional
        Where to draw it; stderr by default.
    **kwargs
        Passed on to tqdm (bar_format, leave, ...).

    Returns
    -------
    tqdm
        The bar; call ``update(n)``, ``set_postfix_str(s)`` and ``close()`` (or use ``with``).
    """
    return tqdm(total=total, desc=desc, unit=unit, file=sys.stderr if file is None else file,
                disable=not enabled, dynamic_ncols=True, **kwargs)
