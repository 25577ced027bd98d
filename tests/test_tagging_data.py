"""Tagging data: CoNLL / CoNLL-U readers, the train/dev holdout, chunk tag schemes, conlleval scores and
the tokenizer. Small files written to tmp_path for the readers' edge cases, hand-worked conlleval
examples, and checks on the shared corpora (skipped when ../shared/data is absent).

No tolerances: every result here is exact (counts, tags, tokens); percentages compared to 1e-9.
"""

import random
import sys

import pytest

from fastnlp.tagging import data, metrics, schemes
from fastnlp.tagging import tokenizer as tok
from conftest import shared_data

EXACT = dict(abs=1e-9)


def write(tmp_path, text, name="f.txt", mode="w"):
    path = tmp_path / name
    if mode == "wb":
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    return str(path)


# ---------------------------------------------------------------------------------------------------
# read_conll

CONLL = """-DOCSTART- -X- -X- O

EU NNP B-NP B-ORG
rejects VBZ B-VP O
-LRB- ( O O
1\\/2 CD B-NP O
-RRB- ) O O


-DOCSTART- -X- -X- O

Peter NNP B-NP B-PER
Blackburn NNP I-NP I-PER

BRUSSELS NNP B-NP B-LOC"""                      # no blank line at the end


def test_read_conll_sentences_docstart_blank_lines_and_last_sentence(tmp_path):
    sents = data.read_conll(write(tmp_path, CONLL))
    assert [s.tokens for s in sents] == [["EU", "rejects", "(", "1/2", ")"], ["Peter", "Blackburn"], ["BRUSSELS"]]
    assert [s.tags for s in sents] == [["B-ORG", "O", "O", "O", "O"], ["B-PER", "I-PER"], ["B-LOC"]]
    tokens, tags = sents[1]                      # a Sentence unpacks
    assert tokens == ["Peter", "Blackburn"] and tags == ["B-PER", "I-PER"]


def test_read_conll_columns_and_escapes(tmp_path):
    path = write(tmp_path, CONLL)
    assert data.read_conll(path, tag_column=1)[0].tags == ["NNP", "VBZ", "(", "CD", ")"]
    assert data.read_conll(path, tag_column=2)[1].tags == ["B-NP", "I-NP"]
    assert data.read_conll(path, word_column=1, tag_column=0)[2] == (["NNP"], ["BRUSSELS"])
    raw = data.read_conll(path, unescape_brackets=False, unescape_backslash=False)
    assert raw[0].tokens == ["EU", "rejects", "-LRB-", "1\\/2", "-RRB-"]
    brackets = " ".join(f"{k} X O\n" for k in data.PTB_BRACKETS)
    assert data.read_conll(write(tmp_path, brackets, "b.txt"))[0].tokens == list("()[]{}")


def test_read_conll_max_sentences(tmp_path):
    path = write(tmp_path, CONLL)
    assert [s.tokens[0] for s in data.read_conll(path, max_sentences=2)] == ["EU", "Peter"]
    assert data.read_conll(path, max_sentences=0) == []
    assert len(data.read_conll(path, max_sentences=10)) == 3
    with pytest.raises(ValueError, match="max_sentences must be None or an int >= 0, got -1"):
        data.read_conll(path, max_sentences=-1)


def test_read_conll_crlf_bom_and_empty_files(tmp_path):
    path = write(tmp_path, "\ufeffa DT B-NP\r\nb NN I-NP\r\n\r\n\r\nc VB B-VP\r\n".encode(), "crlf.txt", "wb")
    assert data.read_conll(path) == [(["a", "b"], ["B-NP", "I-NP"]), (["c"], ["B-VP"])]
    assert data.read_conll(write(tmp_path, "", "empty.txt")) == []
    assert data.read_conll(write(tmp_path, "\n\n-DOCSTART- -X- O\n\n", "blank.txt")) == []


def test_read_conll_docstart_ends_an_open_sentence(tmp_path):
    path = write(tmp_path, "a X O\n-DOCSTART- -X- O\nb X O\n")
    assert [s.tokens for s in data.read_conll(path)] == [["a"], ["b"]]


def test_read_conll_bad_column_count_names_file_and_line(tmp_path):
    path = write(tmp_path, "a DT B-NP\nb NN I-NP\n\nc VB\n")
    with pytest.raises(ValueError, match=r"f\.txt:4: expected 3 columns like the first token line, got 2"):
        data.read_conll(path)


def test_read_conll_bad_columns_and_encoding(tmp_path):
    path = write(tmp_path, "a DT B-NP\n")
    with pytest.raises(ValueError, match=r"tag_column=3 is out of range for .*f\.txt, whose first token line "
                                         r"\(line 1\) has 3 columns"):
        data.read_conll(path, tag_column=3)
    with pytest.raises(ValueError, match="word_column=-4 is out of range"):
        data.read_conll(path, word_column=-4)
    with pytest.raises(TypeError, match="tag_column must be an int, got str"):
        data.read_conll(path, tag_column="ner")
    latin1 = write(tmp_path, "a DT O\n\ncaf\xe9 NN O\n".encode("latin-1"), "latin1.txt", "wb")
    with pytest.raises(ValueError, match=r"latin1\.txt:3: not valid utf-8 .*pass encoding="):
        data.read_conll(latin1)
    assert data.read_conll(latin1, encoding="latin-1")[1].tokens == ["caf\xe9"]


# ---------------------------------------------------------------------------------------------------
# read_conllu

CONLLU = """# newdoc id = d1
# sent_id = s1
# text = I don't know.
1	I	I	PRON	PRP	_	4	nsubj	_	_
2-3	don't	_	_	_	_	_	_	_	_
2	do	do	AUX	VBP	_	4	aux	_	_
3	n't	not	PART	RB	_	4	advmod	_	_
4	know	know	VERB	VB	_	0	root	_	_
4.1	knows	know	VERB	VBZ	_	_	_	4:conj	CopyOf=4
5	.	.	PUNCT	.	_	4	punct	_	SpaceAfter=No

# sent_id = s2
1	_	_	SYM	NFP	_	0	root	_	_
"""


def test_read_conllu_skips_ranges_and_empty_nodes(tmp_path):
    pytest.importorskip("conllu", reason="conllu is a peer: pip install '.[peers]'")
    path = write(tmp_path, CONLLU, "f.conllu")
    sents = data.read_conllu(path)
    assert sents == [(["I", "do", "n't", "know", "."], ["PRON", "AUX", "PART", "VERB", "PUNCT"]),
                     (["_"], ["SYM"])]
    assert data.read_conllu(path, tag_field="xpos")[0].tags == ["PRP", "VBP", "RB", "VB", "."]
    assert len(data.read_conllu(path, max_sentences=1)) == 1
    assert data.read_conllu(path, max_sentences=0) == []


def test_read_conllu_missing_tag_and_bad_arguments(tmp_path):
    pytest.importorskip("conllu", reason="conllu is a peer: pip install '.[peers]'")
    path = write(tmp_path, CONLLU.replace("PRON\tPRP", "PRON\t_"), "f.conllu")
    assert data.read_conllu(path)[0].tags[0] == "PRON"
    with pytest.raises(ValueError, match=r"f\.conllu: sentence 0 \(sent_id s1\) word 1 'I' has no xpos tag"):
        data.read_conllu(path, tag_field="xpos")
    with pytest.raises(ValueError, match="tag_field must be 'upos' or 'xpos', got 'lemma'"):
        data.read_conllu(path, tag_field="lemma")
    short = write(tmp_path, "1\tI\tI\tPRON\n\n", "short.conllu")      # conllu reads lines with 4 columns
    assert data.read_conllu(short) == [(["I"], ["PRON"])]
    with pytest.raises(ValueError, match=r"short\.conllu: sentence 0 \(sent_id \?\) word 1 'I' has no xpos tag"):
        data.read_conllu(short, tag_field="xpos")
    bad = write(tmp_path, "x\tI\tI\tPRON\tPRP\t_\t0\troot\t_\t_\n\n", "bad.conllu")
    with pytest.raises(ValueError, match=r"bad\.conllu: not valid CoNLL-U: .*'x' is not a valid ID"):
        data.read_conllu(bad)


def test_read_conllu_without_the_package(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "conllu", None)       # makes `import conllu` raise ImportError
    with pytest.raises(ImportError, match="read_conllu needs the optional 'conllu' package: pip install conllu"):
        data.read_conllu(write(tmp_path, CONLLU, "f.conllu"))


# ---------------------------------------------------------------------------------------------------
# split_train_dev

def test_split_train_dev_holds_out_the_tail_by_default():
    sents = list(range(17))
    train, dev = data.split_train_dev(sents, 0.2)
    assert train == list(range(14)) and dev == [14, 15, 16]          # int(17 * 0.2) = 3
    assert data.split_train_dev(sents, 0.2) == (train, dev)


def test_split_train_dev_seeded_is_deterministic_and_keeps_order():
    sents = list(range(100))
    train, dev = data.split_train_dev(sents, 0.1, seed=3)
    assert len(dev) == 10 and sorted(train + dev) == sents
    assert train == sorted(train) and dev == sorted(dev)
    assert data.split_train_dev(sents, 0.1, seed=3) == (train, dev)
    assert data.split_train_dev(sents, 0.1, seed=4)[1] != dev
    assert dev != list(range(90, 100))


def test_split_train_dev_bad_input():
    for fraction in (0, 1, 1.5, -0.1, "0.1"):
        with pytest.raises(ValueError, match="dev_fraction must be in"):
            data.split_train_dev(range(10), fraction)
    with pytest.raises(ValueError, match="5 sentences with dev_fraction=0.1 leave an empty train or dev part"):
        data.split_train_dev(range(5), 0.1)


# ---------------------------------------------------------------------------------------------------
# schemes

def test_chunks_iob2_iob1_bioes():
    iob2 = ["B-NP", "I-NP", "O", "B-VP", "B-NP", "I-NP", "B-NP"]
    expect = [("NP", 0, 2), ("VP", 3, 4), ("NP", 4, 6), ("NP", 6, 7)]
    assert schemes.chunks(iob2, "IOB2") == expect
    assert schemes.chunks(["I-NP", "I-NP", "O", "I-VP", "I-NP", "I-NP", "B-NP"], "IOB1") == expect
    assert schemes.chunks(["B-NP", "E-NP", "O", "S-VP", "B-NP", "E-NP", "S-NP"], "BIOES") == expect
    assert schemes.chunks([], "IOB2") == []
    assert schemes.chunks(["B-ORG-X", "I-ORG-X"], "IOB2") == [("ORG-X", 0, 2)]   # hyphen inside the type


def test_chunks_ill_formed_sequences_read_like_conlleval():
    assert schemes.chunks(["O", "I-NP", "I-NP"], "IOB2") == [("NP", 1, 3)]        # I after O starts
    assert schemes.chunks(["B-NP", "I-VP", "I-VP"], "IOB2") == [("NP", 0, 1), ("VP", 1, 3)]
    assert schemes.chunks(["I-NP"], "IOB2") == [("NP", 0, 1)]                     # I at the start
    # BIOES: I/E not continuing a chunk start one; B/I not followed by I/E end theirs.
    assert schemes.chunks(["O", "I-X", "E-X", "B-X", "O", "E-Y", "B-X", "S-X", "I-X"], "BIOES") == \
        [("X", 1, 3), ("X", 3, 4), ("Y", 5, 6), ("X", 6, 7), ("X", 7, 8), ("X", 8, 9)]


def test_convert_between_schemes():
    iob1 = ["I-PER", "I-PER", "B-PER", "O", "I-LOC", "I-ORG", "O", "I-MISC"]
    iob2 = ["B-PER", "I-PER", "B-PER", "O", "B-LOC", "B-ORG", "O", "B-MISC"]
    bioes = ["B-PER", "E-PER", "S-PER", "O", "S-LOC", "S-ORG", "O", "S-MISC"]
    for a, ta in (("IOB1", iob1), ("IOB2", iob2), ("BIOES", bioes)):
        for b, tb in (("IOB1", iob1), ("IOB2", iob2), ("BIOES", bioes)):
            assert schemes.convert(ta, a, b) == tb, (a, b)
    assert schemes.convert(["B-X", "I-X", "I-X", "I-X"], "IOB2", "BIOES") == ["B-X", "I-X", "I-X", "E-X"]
    assert schemes.convert(["O", "I-X", "I-Y"], "IOB2", "IOB2") == ["O", "B-X", "B-Y"]   # repaired
    assert schemes.convert((), "IOB2", "BIOES") == []


def test_convert_keeps_chunks_on_random_sequences():
    rng = random.Random(0)
    alphabet = {"IOB1": ["O", "B-A", "I-A", "B-B", "I-B"], "IOB2": ["O", "B-A", "I-A", "B-B", "I-B"],
                "BIOES": ["O", "B-A", "I-A", "E-A", "S-A", "B-B", "I-B", "E-B", "S-B"]}
    for _ in range(500):
        a, b = rng.choice(schemes.SCHEMES), rng.choice(schemes.SCHEMES)
        tags = [rng.choice(alphabet[a]) for _ in range(rng.randint(0, 12))]
        converted = schemes.convert(tags, a, b)
        assert schemes.chunks(converted, b) == schemes.chunks(tags, a)
        assert schemes.convert(schemes.convert(converted, b, a), a, b) == converted


def test_schemes_bad_input():
    with pytest.raises(ValueError, match=r"tag 'S-NP' is not valid in IOB2: expected O or one of B-, I- followed"):
        schemes.chunks(["B-NP", "S-NP"], "IOB2")
    for bad in ("NP", "B-", "X-NP", "o", "B_NP"):
        with pytest.raises(ValueError, match=f"tag '{bad}' is not valid in BIOES"):
            schemes.chunks([bad], "BIOES")
    with pytest.raises(ValueError, match="scheme must be one of IOB1, IOB2, BIOES, got 'IOBES'"):
        schemes.chunks(["O"], "IOBES")
    with pytest.raises(ValueError, match="to_scheme must be one of IOB1, IOB2, BIOES, got 'iob2'"):
        schemes.convert(["O"], "IOB2", "iob2")
    with pytest.raises(ValueError, match=r"chunk \('X', 1, 3\) has no type, is empty, is out of the sentence "
                                         r"of 2 tokens or overlaps"):
        schemes.from_chunks([("X", 1, 3)], 2, "IOB2")
    with pytest.raises(ValueError, match="overlaps the previous chunk"):
        schemes.from_chunks([("X", 0, 2), ("Y", 1, 3)], 3, "IOB2")


# ---------------------------------------------------------------------------------------------------
# conlleval (hand-worked: counts are gold chunks, predicted chunks, correct chunks)

def check(result, gold, predicted, correct, accuracy):
    assert (result.gold, result.predicted, result.correct) == (gold, predicted, correct)
    p = 100.0 * correct / predicted if predicted else 0.0
    r = 100.0 * correct / gold if gold else 0.0
    assert result.precision == pytest.approx(p, **EXACT) and result.recall == pytest.approx(r, **EXACT)
    assert result.f1 == pytest.approx(2 * p * r / (p + r) if p + r else 0.0, **EXACT)
    assert result.accuracy == pytest.approx(accuracy, **EXACT)


def test_conlleval_type_change_inside_an_i_run():
    # pred: B-NP then I-VP: the type change ends NP(0,1) and starts VP(1,2); gold has NP(0,2), VP(3,4)
    res = metrics.conlleval([["B-NP", "I-NP", "O", "B-VP"]], [["B-NP", "I-VP", "O", "B-VP"]])
    check(res, gold=2, predicted=3, correct=1, accuracy=75.0)
    assert res.precision == pytest.approx(100 / 3, **EXACT) and res.f1 == pytest.approx(40.0, **EXACT)
    assert res.per_type["NP"] == metrics.ChunkScore(0.0, 0.0, 0.0, gold=1, predicted=1, correct=0)
    vp = res.per_type["VP"]
    assert (vp.gold, vp.predicted, vp.correct, vp.precision, vp.recall) == (1, 2, 1, 50.0, 100.0)
    assert vp.f1 == pytest.approx(200 / 3, **EXACT)
    assert list(res.per_type) == ["NP", "VP"]


def test_conlleval_i_after_o_starts_a_chunk():
    # "O I-NP I-NP" is the chunk NP(1,3), the same as gold's "O B-NP I-NP"; one tag differs
    check(metrics.conlleval([["O", "B-NP", "I-NP"]], [["O", "I-NP", "I-NP"]]),
          gold=1, predicted=1, correct=1, accuracy=200 / 3)


def test_conlleval_single_token_b_chunks():
    # gold NP(0,1) NP(1,3); pred NP(0,3): same first token but a different end, so not correct
    check(metrics.conlleval([["B-NP", "B-NP", "I-NP"]], [["B-NP", "I-NP", "I-NP"]]),
          gold=2, predicted=1, correct=0, accuracy=200 / 3)
    # B-NP B-NP: two one-token chunks; B-NP I-NP: one two-token chunk, matching neither
    check(metrics.conlleval([["B-NP", "B-NP"]], [["B-NP", "I-NP"]]), gold=2, predicted=1, correct=0, accuracy=50)


def test_conlleval_chunks_end_at_sentence_ends():
    gold = [["O", "B-NP"], ["I-NP", "O"]]                 # NP(1,2) in sentence 0, NP(0,1) in sentence 1
    # pred's B-NP opening sentence 1 is the chunk gold's I-NP opens there: the chunk of sentence 0
    # does not run on into sentence 1 (if it did, gold would hold one chunk, not two)
    check(metrics.conlleval(gold, [["O", "B-NP"], ["B-NP", "O"]]), gold=2, predicted=2, correct=2, accuracy=75)
    check(metrics.conlleval(gold, [["O", "B-NP"], ["O", "O"]]), gold=2, predicted=1, correct=1, accuracy=75)
    # a predicted chunk running to the sentence end is correct only if gold's ends there too
    check(metrics.conlleval([["B-NP", "I-NP", "O"]], [["B-NP", "I-NP", "I-NP"]]),
          gold=1, predicted=1, correct=0, accuracy=200 / 3)


def test_conlleval_iob1_and_iob2_mixed():
    iob1 = [["I-NP", "I-NP", "B-NP", "O", "I-VP"]]
    iob2 = [["B-NP", "I-NP", "B-NP", "O", "B-VP"]]
    check(metrics.conlleval(iob1, iob2), gold=3, predicted=3, correct=3, accuracy=60)


def test_conlleval_empty_and_all_outside():
    check(metrics.conlleval([], []), gold=0, predicted=0, correct=0, accuracy=0)
    check(metrics.conlleval([[], ["O", "O"]], [[], ["O", "O"]]), gold=0, predicted=0, correct=0, accuracy=100)
    check(metrics.conlleval([["B-X"]], [["O"]]), gold=1, predicted=0, correct=0, accuracy=0)


def test_conlleval_report_text():
    res = metrics.conlleval([["B-NP", "I-NP", "O", "B-VP"]], [["B-NP", "I-VP", "O", "B-VP"]])
    assert res.report() == (
        "processed 4 tokens with 2 phrases; found: 3 phrases; correct: 1.\n"
        "accuracy:  75.00%; precision:  33.33%; recall:  50.00%; FB1:  40.00\n"
        "               NP: precision:   0.00%; recall:   0.00%; FB1:   0.00  1\n"
        "               VP: precision:  50.00%; recall: 100.00%; FB1:  66.67  2\n")


def test_conlleval_counts_exact_chunk_matches_on_random_sequences():
    # conlleval's correct chunks are the (sentence, type, start, end) both sides share
    rng = random.Random(1)
    alphabet = ["O", "B-NP", "I-NP", "B-VP", "I-VP", "I-PP"]
    for _ in range(300):
        gold = [[rng.choice(alphabet) for _ in range(rng.randint(0, 9))] for _ in range(rng.randint(0, 4))]
        pred = [[rng.choice(alphabet) if rng.random() < 0.4 else t for t in s] for s in gold]
        g = {(i,) + c for i, s in enumerate(gold) for c in schemes.chunks(s, "IOB2")}
        p = {(i,) + c for i, s in enumerate(pred) for c in schemes.chunks(s, "IOB2")}
        res = metrics.conlleval(gold, pred)
        assert (res.gold, res.predicted, res.correct) == (len(g), len(p), len(g & p))
        for t, score in res.per_type.items():
            assert (score.gold, score.predicted, score.correct) == \
                tuple(sum(c[1] == t for c in x) for x in (g, p, g & p))


def test_conlleval_bad_input():
    with pytest.raises(ValueError, match="conlleval: gold has 2 sentences, pred has 1"):
        metrics.conlleval([["O"], ["O"]], [["O"]])
    with pytest.raises(ValueError, match="conlleval: sentence 1 has 2 gold tags but 1 predicted tags"):
        metrics.conlleval([["O"], ["O", "O"]], [["O"], ["O"]])
    with pytest.raises(ValueError, match=r"predicted tag 'S-NP' \(sentence 0, token 1\) is not O, B-TYPE or "
                                         r"I-TYPE \(BIOES tags: convert them to IOB2 first"):
        metrics.conlleval([["O", "B-NP"]], [["O", "S-NP"]])
    with pytest.raises(ValueError, match="gold tag 'NN' .* is not O, B-TYPE or I-TYPE$"):
        metrics.conlleval([["NN"]], [["O"]])
    with pytest.raises(TypeError, match="expected lists of sentences, each a list of tags; sentence 0 is a str"):
        metrics.conlleval(["O"], ["O"])


def test_accuracy():
    assert metrics.accuracy([["DT", "NN"], ["VB"]], [["DT", "VB"], ["VB"]]) == pytest.approx(200 / 3, **EXACT)
    assert metrics.accuracy([[1, 2, 3]], [[1, 2, 3]]) == 100.0
    with pytest.raises(ValueError, match="accuracy: sentence 0 has 2 gold tags but 1 predicted tags"):
        metrics.accuracy([["DT", "NN"]], [["DT"]])
    with pytest.raises(ValueError, match="accuracy: no tokens to score"):
        metrics.accuracy([[]], [[]])


# ---------------------------------------------------------------------------------------------------
# tokenizer and sentence splitter

TOKENIZED = [
    ('He said, "I don\'t know." Then he left...',
     ["He", "said", ",", "``", "I", "do", "n't", "know", ".", "''", "Then", "he", "left", "..."]),
    ("Mr. O'Neil's dog can't swim in the U.S. (really!)",
     ["Mr.", "O'Neil", "'s", "dog", "ca", "n't", "swim", "in", "the", "U.S.", "(", "really", "!", ")"]),
    ("It costs $1,000.50, i.e. 3.5% more -- on 1996-08-22 at 10:30 a.m.",
     ["It", "costs", "$", "1,000.50", ",", "i.e.", "3.5", "%", "more", "--", "on", "1996-08-22", "at",
      "10:30", "a.m."]),
    ("'Hello,' she said; the students' books; the '90s",
     ["`", "Hello", ",", "'", "she", "said", ";", "the", "students", "'", "books", ";", "the", "'90s"]),
    ("I'm sure we'll see; they've gone, you'd think. WON'T!",
     ["I", "'m", "sure", "we", "'ll", "see", ";", "they", "'ve", "gone", ",", "you", "'d", "think", ".",
      "WO", "N'T", "!"]),
    ("J. Smith and AT&T's well-known and/or Ph.D. work at Acme Corp. in Calif.",
     ["J.", "Smith", "and", "AT&T", "'s", "well-known", "and/or", "Ph.D.", "work", "at", "Acme", "Corp.", "in",
      "Calif."]),
    ("\u201cWow\u201d \u2014 it\u2019s over\u2026 No. 5 (D., Okla.) paid US$5 and C$.50 for U.S.-made [toys] {x}",
     ["``", "Wow", "''", "--", "it", "'s", "over", "...", "No.", "5", "(", "D.", ",", "Okla.", ")", "paid",
      "US$", "5", "and", "C$", ".50", "for", "U.S.-made", "[", "toys", "]", "{", "x", "}"]),
    ("Caf\u00e9 Z\u00fcrich's 1980s. No way.", ["Caf\u00e9", "Z\u00fcrich", "'s", "1980s", ".", "No", "way", "."]),
    ("The end.Thus Mr.Smith left.", ["The", "end", ".", "Thus", "Mr.", "Smith", "left", "."]),
    ("", []),
]


@pytest.mark.parametrize("text,tokens", TOKENIZED)
def test_tokenize_examples(text, tokens):
    assert tok.tokenize(text) == tokens


def test_tokenize_keeps_conll2000_tokens():
    # Treebank tokens joined by spaces come back unchanged (brackets and \/ unescaped by the reader).
    sents = data.read_conll(shared_data("tagging", "conll2000", "train.txt"))
    kept = sum(tok.tokenize(" ".join(s.tokens)) == s.tokens for s in sents)
    assert kept >= 0.99 * len(sents), f"{kept} of {len(sents)} sentences tokenized back unchanged"


def test_sentences_examples():
    text = ('Mr. Smith went to Washington. He said "Stop." Then J. R. Ewing left! Did he? yes. '
            "In the U.S. Army it is 3.5 p.m. now... Really? (Yes.) Fine.\n\nNew paragraph without a stop\n"
            "and a second line")
    assert tok.sentences(text) == [
        "Mr. Smith went to Washington.", 'He said "Stop."', "Then J. R. Ewing left!", "Did he? yes.",
        "In the U.S. Army it is 3.5 p.m. now...", "Really?", "(Yes.)", "Fine.",
        "New paragraph without a stop\nand a second line"]
    assert tok.sentences("  ") == [] and tok.sentences("One. two.") == ["One. two."]


def test_tokenizer_bad_input():
    with pytest.raises(TypeError, match="tokenize: text must be a str, got bytes"):
        tok.tokenize(b"abc")
    with pytest.raises(TypeError, match="sentences: text must be a str, got list"):
        tok.sentences(["abc"])


# ---------------------------------------------------------------------------------------------------
# the shared corpora: counts as the data README states them; gold scored against a known wrong prediction

def drop_one_type(tags, kind):
    """conlleval on a whole corpus (valid IOB2, so every chunk opens with B-) against a prediction
    that tags every `kind` chunk O: the counts follow from the B- tags alone."""
    pred = [["O" if t.endswith("-" + kind) else t for t in s] for s in tags]
    n_chunks = sum(t.startswith("B-") for s in tags for t in s)
    n_kind = sum(t == "B-" + kind for s in tags for t in s)
    n_tokens = sum(len(s) for s in tags)
    n_kind_tokens = sum(t.endswith("-" + kind) for s in tags for t in s)
    assert n_kind > 0
    res = metrics.conlleval(tags, pred)
    assert (res.gold, res.predicted, res.correct) == (n_chunks, n_chunks - n_kind, n_chunks - n_kind)
    assert res.precision == 100.0
    assert res.recall == pytest.approx(100.0 * (n_chunks - n_kind) / n_chunks, **EXACT)
    assert res.accuracy == pytest.approx(100.0 * (n_tokens - n_kind_tokens) / n_tokens, **EXACT)
    assert (res.per_type[kind].gold, res.per_type[kind].predicted, res.per_type[kind].recall) == (n_kind, 0, 0.0)
    return res


def check_accuracy_with_one_tag_wrong(tags, wrong):
    pred = [["?" if t == wrong else t for t in s] for s in tags]
    n_tokens = sum(len(s) for s in tags)
    n_wrong = sum(t == wrong for s in tags for t in s)
    assert 0 < n_wrong < n_tokens
    assert metrics.accuracy(tags, pred) == pytest.approx(100.0 * (n_tokens - n_wrong) / n_tokens, **EXACT)


def test_conll2000_counts_and_scores():
    sents = data.read_conll(shared_data("tagging", "conll2000", "train.txt"))
    assert len(sents) == 8936 and sum(len(s.tokens) for s in sents) == 211727
    assert not any(t.startswith("-") and t.endswith("-") and len(t) == 5 for s in sents for t in s.tokens)
    chunk_tags = [s.tags for s in sents]
    res = drop_one_type(chunk_tags, "PP")
    assert res.gold > 100000
    assert set(res.per_type) >= {"NP", "VP", "PP", "ADJP", "ADVP", "SBAR"}
    assert all(schemes.convert(schemes.convert(t, "IOB2", "BIOES"), "BIOES", "IOB2") == t for t in chunk_tags)
    pos = [s.tags for s in data.read_conll(shared_data("tagging", "conll2000", "train.txt"), tag_column=1)]
    assert {"NN", "NNP", "VBZ", "DT", "(", ")"} <= {t for s in pos for t in s}
    check_accuracy_with_one_tag_wrong(pos, "NN")
    train, dev = data.split_train_dev(sents)
    assert (len(train), len(dev)) == (8043, 893) and dev[-1] == sents[-1]


def test_conll2003_counts_and_scores():
    train = data.read_conll(shared_data("tagging", "conll2003", "train.txt"))
    valid = data.read_conll(shared_data("tagging", "conll2003", "valid.txt"))
    assert (len(train), len(valid)) == (14041, 3250)
    assert not any("-DOCSTART-" in s.tokens for s in train)
    tags = [s.tags for s in train]
    res = drop_one_type(tags, "MISC")
    assert set(res.per_type) == {"PER", "LOC", "ORG", "MISC"}
    assert all(schemes.convert(t, "IOB2", "IOB2") == t for t in tags)       # valid IOB2 as shipped


def test_ud_ewt_counts_and_scores():
    pytest.importorskip("conllu", reason="conllu is a peer: pip install '.[peers]'")
    train_path = shared_data("tagging", "ud_en_ewt", "en_ewt-ud-train.conllu")
    train = data.read_conllu(train_path)
    assert len(train) == 12544
    assert len(data.read_conllu(shared_data("tagging", "ud_en_ewt", "en_ewt-ud-dev.conllu"))) == 2001
    upos = {t for s in train for t in s.tags}
    assert upos == {"ADJ", "ADP", "ADV", "AUX", "CCONJ", "DET", "INTJ", "NOUN", "NUM", "PART", "PRON",
                    "PROPN", "PUNCT", "SCONJ", "SYM", "VERB", "X"}
    xpos = [s.tags for s in data.read_conllu(train_path, tag_field="xpos", max_sentences=500)]
    assert "NNP" in {t for s in xpos for t in s}
    check_accuracy_with_one_tag_wrong(xpos, "NNP")
