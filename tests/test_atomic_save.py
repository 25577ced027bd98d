"""Saving semantics (fastnlp/_atomic.py), through the real writers: a save replaces the target
atomically, follows a symlink and replaces the file it points to, refuses anything that is not a
regular file, keeps the replaced file's permission bits, and cleans the temporary files that a
killed process left behind. Every model file and vector file goes through the same path."""

import os
import signal
import stat
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from fastnlp import KeyedVectors, _atomic, safeformat


def _save(path, value=1.0):
    safeformat.save(path, "test-format", 1, {"note": "x"}, {"a": np.full(3, value, np.float32)})


def _value(path):
    _, arrays, _ = safeformat.load(path, "test-format", 1, ("a",), "test file")
    return float(arrays["a"][0])


def test_save_over_a_symlink_replaces_its_target_and_keeps_the_link(tmp_path):
    target = tmp_path / "real.npz"
    _save(target, 1.0)
    link = tmp_path / "link.npz"
    link.symlink_to(target)
    _save(link, 2.0)
    assert link.is_symlink() and os.readlink(link) == str(target)
    assert _value(target) == 2.0 and _value(link) == 2.0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["link.npz", "real.npz"]


def test_a_dangling_symlink_gets_its_target_created(tmp_path):
    link = tmp_path / "link.npz"
    link.symlink_to(tmp_path / "new.npz")
    _save(link, 3.0)
    assert link.is_symlink() and _value(tmp_path / "new.npz") == 3.0


@pytest.mark.parametrize("make", ["directory", "device", "fifo"])
def test_non_regular_files_are_refused_and_left_as_they_are(tmp_path, make):
    if make == "directory":
        path = tmp_path / "out.npz"
        path.mkdir()
        check = path.is_dir
    elif make == "device":
        path = "/dev/null"
        check = lambda: stat.S_ISCHR(os.stat("/dev/null").st_mode)  # noqa: E731
    else:
        path = tmp_path / "pipe"
        os.mkfifo(path)
        check = lambda: stat.S_ISFIFO(os.stat(path).st_mode)  # noqa: E731
    with pytest.raises(ValueError, match="saves only to a new path or over a regular file"):
        _save(path)
    assert check()
    # the word2vec-format writer goes the same way
    kv = KeyedVectors(["a", "b"], np.ones((2, 3), np.float32))
    with pytest.raises(ValueError, match="regular file"):
        kv.save_word2vec_format(path)
    assert check()


def test_a_failing_save_leaves_the_old_file_and_no_temporary(tmp_path):
    path = tmp_path / "m.npz"
    _save(path, 1.0)
    with pytest.raises(RuntimeError, match="boom"):
        with _atomic.atomic_write(path) as f:
            f.write(b"half")
            raise RuntimeError("boom")
    assert _value(path) == 1.0
    assert [p.name for p in tmp_path.iterdir()] == ["m.npz"]


def test_permission_bits_of_the_replaced_file_are_kept(tmp_path):
    path = tmp_path / "m.npz"
    _save(path)
    os.chmod(path, 0o640)
    _save(path, 2.0)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o640


def test_a_killed_save_leaves_the_old_file_and_the_next_save_removes_its_temporary(tmp_path):
    path = tmp_path / "m.npz"
    _save(path, 1.0)
    # A process that starts a save, writes part of it, and is then killed with SIGKILL.
    script = textwrap.dedent(f"""
        import sys, time
        from fastnlp import _atomic
        with _atomic.atomic_write({str(path)!r}) as f:
            f.write(b"x" * 100000)
            f.flush()
            print("writing", flush=True)
            time.sleep(60)
    """)
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "writing"
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.wait(timeout=30)
    stale = tmp_path / f"m.npz.tmp.{proc.pid}"
    assert stale.exists() and _value(path) == 1.0
    # a temporary of a live process (here: this test's parent) is someone's save in progress: kept
    live = tmp_path / f"m.npz.tmp.{os.getppid()}"
    live.write_bytes(b"in progress")
    unrelated = tmp_path / "m.npz.tmp.notapid"
    unrelated.write_bytes(b"not ours")
    _save(path, 2.0)
    assert _value(path) == 2.0
    assert not stale.exists() and live.exists() and unrelated.exists()


def test_word2vec_format_writer_is_atomic_too(tmp_path):
    path = tmp_path / "v.txt"
    kv = KeyedVectors(["a", "b"], np.arange(6, dtype=np.float32).reshape(2, 3))
    link = tmp_path / "link.txt"
    link.symlink_to(path)
    kv.save_word2vec_format(link)
    assert link.is_symlink()
    back = KeyedVectors.load_word2vec_format(path)
    np.testing.assert_array_equal(back.vectors, kv.vectors)
    bad = KeyedVectors(["a b", "c"], np.ones((2, 3), np.float32))
    with pytest.raises(ValueError, match="whitespace"):
        bad.save_word2vec_format(path)
    np.testing.assert_array_equal(KeyedVectors.load_word2vec_format(path).vectors, kv.vectors)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["link.txt", "v.txt"]
