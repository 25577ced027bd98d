"""tokenize_with_offsets: tokens are spans of the original text (``text[start:end]``), their norms are
what the plain tokenizer gives; the fast paths (a loop for short texts, NumPy chunking for long ones,
64k-character groups for very long ones) agree with a plain reference that scans the whole text with
the token pattern, on real text and on generated strings. Also URLs / e-mails / mentions / hashtags,
and the `fastnlp tag` output formats and encoding errors."""

import contextlib
import io
import itertools
import json
import re
import sys

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import shared_data
from test_cli_robustness import _tag_in_process
from fastnlp import cli
from fastnlp.tagging import tokenizer as T
from fastnlp.tagging.tokenizer import sentence_spans, sentences, tokenize, tokenize_texts, tokenize_with_offsets


def reference(text):
    """The plain definition: scan the whole text with the token pattern; norms by the quote rules."""
    read = text.translate(T._APOSTROPHE)
    norms, starts, ends = [], [], []
    for m in T._TOKEN.finditer(read):
        s, norm = m.start(), m.group()
        if norm in T._NORMS:
            norm = T._NORMS[norm]
        elif norm in ('"', "'"):
            opening = s == 0 or read[s - 1].isspace() or read[s - 1] in T._OPENING_CONTEXT
            if norm == '"':
                norm = "``" if opening else "''"
            elif opening and read[s + 1:s + 2].isalpha() and not T._CLITIC_AHEAD.match(read, s + 1):
                norm = "`"
        norms.append(norm)
        starts.append(s)
        ends.append(m.end())
    return norms, starts, ends


@contextlib.contextmanager
def path(short, group):
    """Forces the short loop (short=huge), NumPy chunking (short=0) and small groups (group=small)."""
    saved = T._SHORT, T._GROUP
    T._SHORT, T._GROUP = short, group
    T._cut_cache.clear()
    try:
        yield
    finally:
        T._SHORT, T._GROUP = saved


PATHS = [(1 << 60, 1 << 60), (0, 1 << 60), (0, 7), (0, 64)]


def test_quote_after_any_whitespace_opens():
    # hypothesis found U+001F (whitespace to str.isspace and \s) before a quote read differently by
    # the reference and the fast path
    for space in ("\x1f", "\x85", "\u2003", " "):
        assert tokenize_with_offsets(space + '"a"')[0] == ["``", "a", "''"]
        check(space + '"a"')


def check(text):
    want = reference(text)
    for short, group in PATHS:
        with path(short, group):
            norms, starts, ends = tokenize_with_offsets(text)
        assert (norms, starts.tolist(), ends.tolist()) == want, (short, group)
    # tokenize_texts tokenizes texts together: the same tokens for each
    halves = [text[:len(text) // 2], "", text[len(text) // 2:], text]
    for (norms, starts, ends), part in zip(tokenize_texts(halves), halves):
        assert (norms, starts.tolist(), ends.tolist()) == reference(part)
    # the invariant: tokens are the text's pieces and cover all its non-whitespace characters
    pieces = [text[a:b] for a, b in zip(want[1], want[2])]
    assert all(p and not any(c.isspace() for c in p) for p in pieces)
    assert "".join(pieces) == "".join(text.split())


def _real_texts():
    ewt = shared_data("tagging", "ud_en_ewt", "en_ewt-ud-train.conllu")
    with open(ewt, encoding="utf-8") as f:
        raw = [line[9:].rstrip("\n") for line in f if line.startswith("# text = ")][:1000]
    conll = shared_data("tagging", "conll2003", "train.txt")
    sents, words = [], []
    with open(conll, encoding="utf-8") as f:
        for line in itertools.islice(f, 15000):
            if line.strip() and not line.startswith("-DOCSTART-"):
                words.append(line.split()[0])
            elif words:
                sents.append(re.sub(r" ([.,;:!?)'%]|n't|'s)", r"\1", " ".join(words)).replace("( ", "("))
                words = []
    corpus = shared_data("corpus", "en-corpus.txt")
    with open(corpus, encoding="utf-8") as f:
        lines = [next(f)[:5000] for _ in range(3)]
    return raw, sents, lines


def test_real_text_all_paths_agree_with_the_reference():
    raw, conll, corpus = _real_texts()
    for texts in (raw, conll, corpus):
        for k in range(0, min(len(texts), 300), 50):   # documents of 50 sentences
            check(" ".join(texts[k:k + 50]))
        check("\n".join(texts))
    with path(0, 1 << 16):   # ~150 KB: three of the real 64k groups
        text = " ".join(raw) + "\n\n" + " ".join(conll)
        norms, starts, ends = tokenize_with_offsets(text)
    assert (norms, starts.tolist(), ends.tolist()) == reference(text) and len(text) > 2 << 16


TEXT_CHARS = st.sampled_from(list("aZé9 .,;:!?'\"`-/&@#$%()[]{}<>_+*=\n\t\u00a0\u2019\u201c\u201d\u2018\u2026\u2014")
                             + ["http://", "www.", "Mr.", "U.S.", "No.", "n't", "'s", " J. ", "e@x.org",
                                "1,000", "3.5", "can't", " \n\n"])


@settings(max_examples=300, deadline=None)
@given(st.lists(TEXT_CHARS, max_size=60).map("".join))
def test_generated_strings_all_paths_agree_with_the_reference(text):
    check(text)


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=80))
def test_any_unicode_string_keeps_the_offset_invariant(text):
    check(text)


@pytest.mark.parametrize("text, want", [
    ("see https://example.com/a/b_c?x=1&y=2. Then", ["see", "https://example.com/a/b_c?x=1&y=2", ".", "Then"]),
    ("(www.fastnlp.org/docs), ok", ["(", "www.fastnlp.org/docs", ")", ",", "ok"]),
    ("mail jane.doe+nlp@mail.example.co.uk.", ["mail", "jane.doe+nlp@mail.example.co.uk", "."]),
    ("thanks @jane_doe and #NLP2024!", ["thanks", "@jane_doe", "and", "#NLP2024", "!"]),
    ("rank #1 at @2.50", ["rank", "#", "1", "at", "@", "2.50"]),
    ("1,000,000.50 on 12/05/2023 at 10:30", ["1,000,000.50", "on", "12/05/2023", "at", "10:30"]),
    ('He said "don\u2019t". \u201cNo\u2026\u201d \u2018Tis', ["He", "said", "``", "do", "n't", "''", ".",
                                                          "``", "No", "...", "''", "`", "Tis"]),
])
def test_whole_tokens_and_norms(text, want):
    norms, starts, ends = tokenize_with_offsets(text)
    assert norms == want == tokenize(text)
    assert all(text[a:b] == n or n in ("``", "''", "`", "n't", "...") for n, a, b in zip(norms, starts, ends))


def test_texts_tokenized_together_do_not_look_into_each_other():
    # "J." before "Smith" is an initial, "No." before "5" an abbreviation: not across texts
    texts = ["Ask J.", "Smith came.", "Call No.", "5 now.", "\u2019Tis", "x" * 100_000, "end."]
    got = tokenize_texts(texts)
    assert [g[0] for g in got] == [tokenize(t) for t in texts]
    assert got[0][0] == ["Ask", "J", "."] and got[2][0] == ["Call", "No", "."]
    assert tokenize("Ask J. Smith came. Call No. 5 now.") == ["Ask", "J.", "Smith", "came", ".", "Call", "No.",
                                                              "5", "now", "."]
    with pytest.raises(TypeError, match="tokenize_texts: texts\\[1\\] must be a str, got bytes"):
        tokenize_texts(["a", b"b"])


def test_sentence_spans_are_the_stripped_sentences():
    text = "  Mr. Smith came.  He left!\n\n(Later.) \u201cWhy?\u201d  "
    spans = sentence_spans(text)
    assert [text[a:b] for a, b in spans] == sentences(text) == ["Mr. Smith came.", "He left!", "(Later.)",
                                                                 "\u201cWhy?\u201d"]


@pytest.mark.parametrize("bad", [None, b"bytes", 3])
def test_bad_input_is_named(bad):
    for f in (tokenize_with_offsets, tokenize, sentence_spans, sentences):
        with pytest.raises(TypeError, match=f"{f.__name__}: text must be a str, got {type(bad).__name__}"):
            f(bad)


# ---- fastnlp tag: formats, paragraphs, encodings -------------------------------------------------------

DATA = ("Mr. Smith went to Paris. He liked\nit. \"Yes,\" said J. Doe.\n\n\nNew \u201cpara\u201d here. Done.\n"
        "last line").encode()


_tag = _tag_in_process   # fastnlp tag run in this process on `data` as stdin; returns its output


@pytest.mark.parametrize("paragraphs", [False, True])
def test_jsonl_records_are_the_docs_with_offsets_into_each_input_text(monkeypatch, paragraphs):
    import fastnlp

    out = _tag(monkeypatch, DATA, ["--task", "pos,ner", "--format", "jsonl"] + (["--paragraphs"] if paragraphs else []))
    records = [json.loads(line) for line in out.splitlines()]
    text = DATA.decode()
    docs = [p.strip("\n") for p in re.split(r"\n\s*\n", text)] if paragraphs else text.split("\n")
    assert [r["text"] for r in records] == docs
    nlp = fastnlp.pipeline("pos,ner")
    for record, doc in zip(records, docs):
        assert record == nlp(doc).to_json()
        for token in record["tokens"]:
            assert doc[token["start"]:token["end"]].strip()
    assert any(e["label"] == "PER" and records[0]["text"][e["start"]:e["end"]] == "Smith" for e in records[0]["ents"])
    # a hard-wrapped sentence is one sentence only with --paragraphs
    assert ("He liked\nit." in [records[0]["text"][s["start"]:s["end"]] for s in records[0]["sents"]]) == paragraphs


def test_jsonl_pieces_of_a_long_line_carry_part_and_offset(monkeypatch):
    line = "Mr. Smith went to Paris. He liked it a lot. " * 40
    records = [json.loads(r) for r in _tag(monkeypatch, (line + "\n").encode(), ["--format", "jsonl"], piece=64).splitlines()]
    assert len(records) > 1 and [r["part"] for r in records] == list(range(len(records)))
    assert "".join(r["text"] for r in records) == line
    assert [r["offset"] for r in records] == [sum(len(q["text"]) for q in records[:k]) for k in range(len(records))]


def test_conll_has_one_token_per_line_and_a_blank_line_after_each_sentence(monkeypatch):
    out = _tag(monkeypatch, DATA, ["--task", "pos,chunk", "--format", "conll", "--paragraphs"])
    blocks = out.rstrip("\n").split("\n\n")
    text = DATA.decode()
    assert len(blocks) == len(sentences(text))
    for block, sentence in zip(blocks, sentences(text)):
        rows = [row.split("\t") for row in block.split("\n")]
        assert all(len(row) == 3 for row in rows)
        assert [row[0] for row in rows] == [sentence[a:b] for a, b in zip(*tokenize_with_offsets(sentence)[1:])]
    assert "\u201c\t``\t" in out   # the token's own text, tagged as its treebank form


def test_slash_output_is_one_line_per_input_line(monkeypatch):
    out = _tag(monkeypatch, DATA, [])
    assert out.count("\n") == DATA.count(b"\n") + 1 and out.startswith("Mr./NNP Smith/NNP")
    assert "``/``" in out and "''/''" in out


def test_undecodable_bytes_name_the_file_line_and_byte_offset(tmp_path, monkeypatch, capsys):
    path = tmp_path / "latin1.txt"
    path.write_bytes("First line.\nCaf\u00e9 au lait.\n".encode("latin-1"))
    assert cli.main(["tag", str(path)]) == 1
    err = capsys.readouterr().err
    assert err == (f"fastnlp tag: error: {path}: line 2, byte offset 15: cannot decode b'\\xe9' as utf-8 "
                   "(invalid continuation byte); give the right --encoding, or --errors replace\n")
    assert cli.main(["tag", "--encoding", "latin-1", str(path)]) == 0
    assert "Caf\u00e9/" in capsys.readouterr().out
    assert cli.main(["tag", "--errors", "replace", str(path)]) == 0
    assert "\ufffd" in capsys.readouterr().out
    assert cli.main(["tag", "--encoding", "nope", str(path)]) == 1
    assert capsys.readouterr().err == "fastnlp tag: error: --encoding: unknown encoding 'nope'\n"
    # a character cut between pieces is still read whole, and a bad byte's offset counts whole pieces
    monkeypatch.setattr(cli, "_PIECE", 3)
    assert cli.main(["tag", str(path)]) == 1
    assert "line 2, byte offset 15:" in capsys.readouterr().err


@pytest.mark.parametrize("args, message", [
    (["--processes", "0"], "--processes must be a positive integer, got 0"),
    (["--batch", "0"], "--batch must be a positive integer, got 0"),
    (["--tokenized", "--paragraphs"], "--tokenized and --paragraphs cannot be combined"),
])
def test_bad_options_are_named(monkeypatch, capsys, args, message):
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(b"x\n")))
    assert cli.main(["tag", *args]) == 1
    assert capsys.readouterr().err.startswith(f"fastnlp tag: error: {message}")


def test_numpy_arrays_come_back():
    norms, starts, ends = tokenize_with_offsets("a b")
    assert starts.dtype == ends.dtype == np.int64 and norms == ["a", "b"]


class _Terminal(io.StringIO):
    def isatty(self):
        return True


@pytest.mark.parametrize("quiet, tty", [(False, True), (True, True), (False, False)])
def test_progress_bar_only_for_files_on_a_terminal(tmp_path, monkeypatch, quiet, tty):
    pytest.importorskip("tqdm")
    path = tmp_path / "in.txt"
    path.write_text("Hello there. Bye.\n")
    err, out = (_Terminal if tty else io.StringIO)(), io.StringIO()
    monkeypatch.setattr(sys, "stderr", err)
    monkeypatch.setattr(sys, "stdout", out)
    assert cli.main(["tag", str(path)] + (["--quiet"] if quiet else [])) == 0
    assert out.getvalue() == "Hello/UH there/RB ./. Bye/UH ./.\n"
    shown = "fastnlp tag: 100%" in err.getvalue() and "18.0/18.0" in err.getvalue()
    assert shown == (tty and not quiet), err.getvalue()
