"""fastnlp.pipeline: raw text -> Doc with character offsets, sentences, tags and spans; pipe streams in
batches with the same result as one call per text; bad arguments are named in the error."""

import itertools
import json
import pickle

import pytest

import fastnlp
from fastnlp.pipeline import Doc, Pipeline, Span, Token
from fastnlp.tagging import load_tagger, sentences, tokenize
from fastnlp.tagging.schemes import chunks

TEXT = ("Mr. Smith went to Paris. He liked it. \"Yes,\" said J. Doe of the U.S. Army, mail j.doe@army.mil "
        "or see https://army.mil/x.\n\nA new paragraph \u201cquoted\u201d here\u2026 Done.")


@pytest.fixture(scope="module")
def nlp():
    return fastnlp.pipeline("pos,chunk,ner")


@pytest.fixture(scope="module")
def doc(nlp):
    return nlp(TEXT)


def test_tokens_are_spans_of_the_text_and_carry_the_taggers_tags(doc):
    assert isinstance(doc, Doc) and len(doc) == len(list(doc)) > 0
    for token in doc:
        assert isinstance(token, Token)
        assert token.text == TEXT[token.start:token.end] and token.text.strip() == token.text
    # The taggers saw the norms, sentence by sentence, as the plain tokenizer gives them.
    want = {task: [tag for s in sentences(TEXT) for tag in load_tagger(task).tag(tokenize(s))]
            for task in ("pos", "chunk", "ner")}
    assert [t.norm for t in doc] == [w for s in sentences(TEXT) for w in tokenize(s)]
    assert [t.pos for t in doc] == want["pos"]
    assert [t.chunk for t in doc] == want["chunk"]
    assert [t.ner for t in doc] == want["ner"]
    assert [t.upos for t in doc] == [None] * len(doc)
    assert doc[0].text == "Mr." and doc[-1].text == "." and doc[3].i == 3


def test_quotes_keep_their_text_and_get_treebank_norms(doc):
    quotes = [(t.text, t.norm) for t in doc if t.norm in ("``", "''", "...")]
    assert quotes == [('"', "``"), ('"', "''"), ("\u201c", "``"), ("\u201d", "''"), ("\u2026", "...")]


def test_sentences_entities_and_chunks(doc):
    assert [s.text for s in doc.sents] == sentences(TEXT)
    assert [len(s) for s in doc.sents] == [len(tokenize(s)) for s in sentences(TEXT)]
    assert all(isinstance(t, Token) for s in doc.sents for t in s)
    ents = [(e.text, e.label) for e in doc.ents]
    assert ("Smith", "PER") in ents and ("Paris", "LOC") in ents
    for which, task in (("ents", "ner"), ("chunks", "chunk")):
        spans = getattr(doc, which)
        # the spans are the chunks of each sentence's IOB2 tags
        want = [(label, s.start + a, s.start + b) for s in doc.sents
                for label, a, b in chunks([t.tag(task) for t in s], "IOB2")]
        assert [(e.label, e.start, e.end) for e in spans] == want and want
        for e in spans:
            assert isinstance(e, Span) and e.text == TEXT[e.start_char:e.end_char]
            assert e.start_char == doc[e.start].start and e.end_char == doc[e.end - 1].end


def test_to_json_holds_offsets_tags_and_spans(doc):
    out = json.loads(json.dumps(doc.to_json()))
    assert out["text"] == TEXT and len(out["tokens"]) == len(doc)
    assert out["tokens"][1] == {"start": 4, "end": 9, "pos": doc[1].pos, "chunk": doc[1].chunk, "ner": doc[1].ner}
    assert out["sents"] == [{"start": s.start_char, "end": s.end_char} for s in doc.sents]
    assert out["ents"] == [{"start": e.start_char, "end": e.end_char, "label": e.label} for e in doc.ents]
    assert out["chunks"] == [{"start": c.start_char, "end": c.end_char, "label": c.label} for c in doc.chunks]


def test_only_the_tasks_run_are_annotated():
    doc = fastnlp.pipeline("pos")("Paris is nice.")
    assert doc.tasks == ("pos",) and doc[0].ner is None and doc[0].pos == "NNP"
    assert set(doc.to_json()) == {"text", "tokens", "sents"} and set(doc.to_json()["tokens"][0]) == {"start", "end", "pos"}
    with pytest.raises(ValueError, match="Doc.ents: the pipeline ran no ner tagger"):
        doc.ents


def test_pipe_streams_in_batches_with_the_same_docs(nlp):
    texts = [TEXT, "", "   \n", "One. Two.", "x" * 3] * 3
    one_by_one = [nlp(t).to_json() for t in texts]
    for batch_size in (1, 2, 7, 1000):
        assert [d.to_json() for d in nlp.pipe(iter(texts), batch_size=batch_size)] == one_by_one

    def endless():   # pipe must not read ahead past the batch it is tagging
        for k in itertools.count():
            yield f"Sentence number {k}."

    first = list(itertools.islice(nlp.pipe(endless(), batch_size=4), 6))
    assert [d.text for d in first] == [f"Sentence number {k}." for k in range(6)]


def test_pipeline_is_built_from_taggers_or_names():
    pos = load_tagger("pos")
    a, b = Pipeline(pos, "ner"), fastnlp.pipeline(["pos", " ner "])
    assert a.tasks == b.tasks == ("pos", "ner")
    assert a("He ran.").to_json() == b("He ran.").to_json()


def test_docs_pickle(doc):
    again = pickle.loads(pickle.dumps(doc))
    assert again.to_json() == doc.to_json() and [e.text for e in again.ents] == [e.text for e in doc.ents]


@pytest.mark.parametrize("call, error, message", [
    (lambda: fastnlp.pipeline(""), ValueError, "pipeline: tasks names no tagger"),
    (lambda: fastnlp.pipeline("nope"), ValueError, "load_tagger: expected one of"),
    (lambda: fastnlp.pipeline(3), TypeError, "pipeline: tasks must be a str or an iterable of str, got int"),
    (lambda: fastnlp.pipeline("pos,pos"), ValueError, "Pipeline: two taggers have the same task"),
    (lambda: Pipeline(), ValueError, "Pipeline: give at least one tagger"),
    (lambda: Pipeline(3), TypeError, r"Pipeline: taggers\[0\] must be a Tagger"),
    (lambda: fastnlp.pipeline("pos")(b"bytes"), TypeError, "Pipeline: text must be a str, got bytes"),
    (lambda: fastnlp.pipeline("pos").pipe(["a"], batch_size=0), ValueError,
     "Pipeline.pipe: batch_size must be a positive integer, got 0"),
    (lambda: fastnlp.pipeline("pos").pipe(["a"], n_process=1.5), ValueError,
     "Pipeline.pipe: n_process must be a positive integer, got 1.5"),
    (lambda: list(fastnlp.pipeline("pos").pipe(["a", None])), TypeError,
     r"Pipeline: text must be a str, got NoneType \(item 1 of the batch\)"),
])
def test_bad_arguments_are_named(call, error, message):
    with pytest.raises(error, match=message):
        call()
