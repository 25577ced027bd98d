"""Atomic file replacement, the one way every fastnlp writer saves (model files, vector files).

Semantics, chosen so that a save never corrupts or clobbers what it should not:
- The bytes go to a temporary file beside the target, which is fsynced and then renamed over the
  target (os.replace), and the directory is fsynced so the rename itself survives a power cut.
  A crash or an exception at any point leaves the old file intact (or no file), never half of one.
- A symbolic link at the output path is followed: the file it points to is replaced and the link
  stays a link (the same thing `open(path, "w")` would have written to).
- Anything at the path that is not a regular file (a directory, a device such as /dev/null, a FIFO,
  a socket) is refused with a ValueError: renaming over it would replace it with a regular file.
- Temporary files are named ``<target>.tmp.<pid>``. A process killed mid-save (SIGKILL, power cut)
  cannot delete its own, so each save first removes those left by processes that no longer exist.
"""

import contextlib
import errno
import os
import re
import stat

_TMP_SUFFIX = re.compile(r"\.tmp\.(\d+)$")


def resolve_target(path, op="save"):
    """The real path a save to `path` replaces (symlinks followed); ValueError if something other
    than a regular file sits there."""
    real = os.path.realpath(os.fspath(path))
    try:
        st = os.stat(real)
    except FileNotFoundError:
        return real
    if not stat.S_ISREG(st.st_mode):
        kind = "a directory" if stat.S_ISDIR(st.st_mode) else "not a regular file"
        raise ValueError(f"{op}: {os.fspath(path)} is {kind}; fastnlp saves only to a new path or over a "
                         "regular file")
    return real


def _process_alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    return True


def remove_stale_temporaries(target):
    """Removes ``<target>.tmp.<pid>`` files whose process is gone; returns the paths removed."""
    directory, base = os.path.split(target)
    removed = []
    try:
        names = os.listdir(directory or ".")
    except OSError:
        return removed
    for name in names:
        if not name.startswith(base + ".tmp."):
            continue
        m = _TMP_SUFFIX.search(name)
        if m is None or name[:m.start()] != base:
            continue
        pid = int(m.group(1))
        if pid == os.getpid() or _process_alive(pid):
            continue
        stale = os.path.join(directory, name)
        with contextlib.suppress(FileNotFoundError):
            if stat.S_ISREG(os.lstat(stale).st_mode):
                os.remove(stale)
                removed.append(stale)
    return removed


def _fsync_directory(directory):
    try:
        fd = os.open(directory or ".", os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError as e:  # some filesystems cannot fsync a directory; the file itself is synced
        if e.errno not in (errno.EINVAL, errno.ENOTSUP, errno.EBADF):
            raise
    finally:
        os.close(fd)


@contextlib.contextmanager
def atomic_write(path, op="save"):
    """``with atomic_write(path) as f: f.write(...)``: f is a binary file; the target is replaced
    only when the block completes, as described at the top of this module."""
    target = resolve_target(path, op)
    remove_stale_temporaries(target)
    tmp = f"{target}.tmp.{os.getpid()}"
    try:
        # "xb" would fail on a leftover of this same pid from an earlier crash in this process; "wb"
        # truncates it (it is ours).
        with open(tmp, "wb") as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        if os.path.exists(target):
            # keep the replaced file's permission bits, as writing into it would have
            os.chmod(tmp, stat.S_IMODE(os.stat(target).st_mode))
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.remove(tmp)
        raise
    _fsync_directory(os.path.dirname(target))
