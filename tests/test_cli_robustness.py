"""The command line on hostile input: `fastnlp tag` reads long lines in pieces (bounded memory, the
same output wherever the pieces are cut), user errors and Ctrl-C end with one line on stderr and
no traceback, and a closed output pipe ends quietly."""

import io
import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest

from fastnlp import cli

TEXT = ("Mr. Smith went to Paris. He liked it. Caf\u00e9 au lait costs 3.50 dollars! Did he pay? "
        "\u201cYes,\u201d said J. Doe of the U.S. Army. ")


def _tag_in_process(monkeypatch, data, args, piece=None, max_carry=None):
    if piece is not None:
        monkeypatch.setattr(cli, "_PIECE", piece)
    if max_carry is not None:
        monkeypatch.setattr(cli, "_MAX_CARRY", max_carry)
    out = io.StringIO()
    monkeypatch.setattr(sys, "stdout", out)
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(data)))
    assert cli.main(["tag", *args]) == 0
    return out.getvalue()


@pytest.mark.parametrize("tokenized", [False, True])
def test_pieces_cut_anywhere_give_the_same_output(monkeypatch, tokenized):
    data = (TEXT * 20 + "\n\nOne more line.\n" + TEXT * 3).encode()   # no newline at the end
    args = ["--task", "pos,ner"] + (["--tokenized"] if tokenized else [])
    whole = _tag_in_process(monkeypatch, data, args)
    assert whole.count("\n") == 4 and "Caf\u00e9/" in whole
    assert ("Paris./NNP" if tokenized else "Paris/NNP/B-LOC ././O") in whole
    for piece in (1, 2, 7, 37, 1000):   # cuts inside characters, words and sentences
        assert _tag_in_process(monkeypatch, data, args, piece=piece) == whole, piece


def test_text_without_sentence_boundaries_is_cut_at_the_carry_limit(monkeypatch):
    data = ("word " * 5000 + "\n").encode()
    out = _tag_in_process(monkeypatch, data, ["--task", "pos"], piece=100, max_carry=1000)
    assert out.count("\n") == 1 and len(out.split()) == 5000


def _peak_rss_mb(args, stdin_path):
    """Peak resident memory (MB) of `python -m fastnlp tag ARGS < stdin_path`, measured in a fresh
    parent so that no other child counts."""
    script = textwrap.dedent(f"""
        import resource, subprocess, sys
        with open({stdin_path!r}, "rb") as f:
            r = subprocess.run([sys.executable, "-m", "fastnlp", "tag", *{args!r}], stdin=f,
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        assert r.returncode == 0, r.stderr
        print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024)
    """)
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr
    return float(out.stdout)


@pytest.mark.skipif(os.environ.get("FASTNLP_SANITIZED") == "1",
                    reason="AddressSanitizer's shadow memory makes resident-memory figures meaningless")
def test_memory_is_bounded_on_one_long_line(tmp_path):
    small, big = tmp_path / "small.txt", tmp_path / "big.txt"
    small.write_text(TEXT + "\n")
    with open(big, "w") as f:   # 6 MB on a single line (~1.2M tokens)
        for _ in range(6_000_000 // len(TEXT)):
            f.write(TEXT)
        f.write("\n")
    base = _peak_rss_mb(["--task", "pos"], str(small))
    peak = _peak_rss_mb(["--task", "pos"], str(big))
    # Reading the whole line took ~40x its size (+230 MB here); pieces of 1 MB need a few tens of MB.
    assert peak - base < 100, f"peak {peak:.0f} MB against {base:.0f} MB for one short line"


def _fastnlp(args, **kw):
    return subprocess.run([sys.executable, "-m", "fastnlp", *args], capture_output=True, timeout=120, **kw)


@pytest.mark.parametrize("args, message", [
    (["tag", "/nonexistent/file.txt"], b"fastnlp tag: error: [Errno 2] No such file or directory"),
    (["tag", "--task", "nope"], b"fastnlp tag: error: load_tagger: expected one of"),
    (["word2vec", "eval", "/nonexistent.bin", "--similarity", "x"], b"fastnlp word2vec: error: "),
])
def test_user_errors_are_one_line_without_a_traceback(args, message):
    out = _fastnlp(args, input=b"x\n")
    assert out.returncode == 1 and out.stderr.startswith(message) and b"Traceback" not in out.stderr, out.stderr
    assert out.stderr.count(b"\n") == 1


def test_a_closed_output_pipe_ends_quietly(tmp_path):
    path = tmp_path / "in.txt"
    path.write_text((TEXT + "\n") * 3000)
    tagger = subprocess.Popen([sys.executable, "-m", "fastnlp", "tag", "--batch", "10", str(path)],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    tagger.stdout.readline()
    tagger.stdout.close()   # as `| head -1` does
    _, err = tagger.communicate(timeout=120)
    assert tagger.returncode in (0, 141) and err == b"", err


def test_ctrl_c_ends_with_status_130_and_no_traceback(tmp_path):
    reader, writer = os.pipe()   # stdin that stays open: the tagger waits for more input
    tagger = subprocess.Popen([sys.executable, "-m", "fastnlp", "tag", "--batch", "1"], stdin=reader,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    os.close(reader)
    try:
        os.write(writer, b"The cat sat.\n")
        assert tagger.stdout.readline().startswith(b"The/DT")   # loaded and tagging
        tagger.send_signal(signal.SIGINT)
        _, err = tagger.communicate(timeout=60)
    finally:
        os.close(writer)
    assert tagger.returncode == 130 and err == b"fastnlp tag: interrupted\n", err
