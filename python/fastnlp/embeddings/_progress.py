"""A tqdm progress bar when tqdm is installed and progress is asked for; otherwise a bar that does
nothing. Shared by the counting, SVD and C&W training loops of fastnlp.embeddings."""

import sys


class _NoBar:
    n = 0

    def update(self, n=1):
        pass

    def set_postfix_str(self, s, refresh=True):
        pass

    def close(self):
        pass


def progress_bar(total, desc, enabled, unit="it", unit_scale=False):
    """A tqdm bar on stderr (total, desc, unit) when `enabled` and tqdm imports, else a no-op bar."""
    if not enabled:
        return _NoBar()
    try:
        from tqdm.auto import tqdm
    except ImportError:
        return _NoBar()
    return tqdm(total=total, desc=desc, unit=unit, unit_scale=unit_scale, file=sys.stderr, leave=False)
