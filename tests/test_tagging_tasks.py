"""The shipped taggers' data: documents read from CoNLL files, the train / dev / held-out parts of each
task (disjoint, carved by document where documents are marked) and the EWT -> WSJ tag harmonization.
Exact checks; the shared-data ones skip when ../shared/data is absent."""

import os

import pytest
from conftest import shared_data

from fastnlp.tagging import data
from fastnlp.tagging.tasks import EWT_TO_WSJ_TAGS, every_tenth, ewt_to_wsj_conventions, load_task_data

DOCS = """-DOCSTART- wsj_0001

Pierre NNP
Vinken NNP

. .
-DOCSTART- wsj_0002
Mr. NNP
Vinken NNP
-DOCSTART- -X- -X- O

a DT


-DOCSTART- wsj_0004
"""


def test_read_conll_documents_names_and_boundaries(tmp_path):
    path = tmp_path / "d.txt"
    path.write_text("x NN\n\n" + DOCS, encoding="utf-8")
    docs = data.read_conll_documents(str(path), tag_column=1)
    # sentences before the first mark form document "0"; a mark ends an open sentence; an unnamed
    # mark (CoNLL-2003's -X-) is numbered; an empty last document is dropped
    assert [name for name, _ in docs] == ["0", "wsj_0001", "wsj_0002", "3"]
    assert [[s.tokens for s in sents] for _, sents in docs] == [
        [["x"]], [["Pierre", "Vinken"], ["."]], [["Mr.", "Vinken"]], [["a"]]]
    assert [s for _, sents in docs for s in sents] == data.read_conll(str(path), tag_column=1)


def test_every_tenth_partitions_documents():
    docs = [(str(i), [data.Sentence([f"w{i}"], ["NN"])]) for i in range(23)]
    picked, rest = every_tenth(docs, 5)
    assert [s.tokens[0] for s in picked] == ["w5", "w15"]
    assert len(rest) == 21 and not {s.tokens[0] for s in picked} & {s.tokens[0] for s in rest}
    dev, held, train = every_tenth(docs, 0, 5)
    assert [s.tokens[0] for s in dev] == ["w0", "w10", "w20"] and held == picked
    assert len(train) == 18 and sorted(dev + held + train) == sorted(s for _, ss in docs for s in ss)


CONLLU = """# sent_id = a
1\tHi\thi\tINTJ\tUH\t_\t0\troot\t_\t_

# newdoc id = doc-1
# sent_id = b
1\tThe\tthe\tDET\tDT\t_\t2\tdet\t_\t_
2\tcat\tcat\tNOUN\tNN\t_\t0\troot\t_\t_

# sent_id = c
1\tRun\trun\tVERB\tVB\t_\t0\troot\t_\t_

# newdoc
# sent_id = d
1\tGo\tgo\tVERB\tVB\t_\t0\troot\t_\t_

"""


def test_read_conllu_documents_names_and_boundaries(tmp_path):
    pytest.importorskip("conllu", reason="conllu (pip install '.[peers]') reads CoNLL-U")
    path = tmp_path / "d.conllu"
    path.write_text(CONLLU, encoding="utf-8")
    docs = data.read_conllu_documents(str(path), tag_field="xpos")
    assert [name for name, _ in docs] == ["0", "doc-1", "2"]
    assert [[s.tags for s in sents] for _, sents in docs] == [[["UH"]], [["DT", "NN"], ["VB"]], [["VB"]]]
    assert [s for _, sents in docs for s in sents] == data.read_conllu(str(path), tag_field="xpos")
    with pytest.raises(ValueError, match="tag_field must be 'upos' or 'xpos'"):
        data.read_conllu_documents(str(path), tag_field="lemma")


def test_ewt_harmonization():
    s = [data.Sentence(["to", "go", "-", "(", "To", "x"], ["IN", "VB", "HYPH", "-LRB-", "IN", "ADD"]),
         data.Sentence(["some", "thing"], ["DT", "GW"]),
         data.Sentence(["to", "go"], ["TO", "VB"])]
    out = ewt_to_wsj_conventions(s)
    assert out == [data.Sentence(["to", "go", "-", "(", "To", "x"], ["TO", "VB", ":", "(", "TO", "NN"]),
                   data.Sentence(["to", "go"], ["TO", "VB"])]
    assert set(EWT_TO_WSJ_TAGS.values()) <= {"(", ")", ":", "NN", "JJ"}


def _text(sentences):
    return {" ".join(s.tokens) for s in sentences if len(s.tokens) > 8}  # long sentences: no chance repeats


@pytest.mark.parametrize("task", ["pos", "chunk", "ner", "upos"])
def test_task_parts_are_disjoint(task):
    pytest.importorskip("conllu", reason="conllu (pip install '.[peers]') reads UD English-EWT")
    root = os.path.dirname(shared_data("tagging"))
    d = load_task_data(task, root)
    assert d.train and d.dev and d.heldout and d.dev_name != d.heldout_name
    train, dev, held = _text(d.train), _text(d.dev), _text(d.heldout)
    # The parts come from different documents; the corpora themselves repeat a few sentences across
    # documents (news boilerplate, EWT's duplicated posts): at most 4% of a part (NER: 27 of 683).
    for a, b in ((train, dev), (train, held), (dev, held)):
        assert len(a & b) <= 0.04 * min(len(a), len(b)), (task, len(a & b))
    if task == "pos":  # the WSJ sample's documents and sections 15-18 share nothing
        assert not train & dev and not train & held and not dev & held


def test_pos_corpora_and_wsj_split_by_document():
    pytest.importorskip("conllu", reason="conllu (pip install '.[peers]') reads UD English-EWT")
    root = os.path.dirname(shared_data("tagging"))
    wsj = load_task_data("pos", root, ("wsj",))
    n_tokens = [sum(len(s.tokens) for s in part) for part in (wsj.train, wsj.dev, wsj.heldout)]
    assert sum(n_tokens) == 69_174  # the whole sample, each token in one part
    tags = {t for s in wsj.train for t in s.tags}
    assert "VBG|NN" not in tags and "TO" in tags
    mixed = load_task_data("pos", root, ("wsj", "ewt"))
    assert mixed.dev == wsj.dev and mixed.heldout == wsj.heldout and len(mixed.train) > 10_000 + len(wsj.train)
    assert not any(w.lower() == "to" and t == "IN" for s in mixed.train for w, t in zip(s.tokens, s.tags))
    assert {t for s in mixed.train for t in s.tags} - tags <= {"SYM", "LS", "UH", "FW", "WP$", "#"}
    with pytest.raises(ValueError, match="corpora must be a non-empty subset of wsj, ewt, conll2000"):
        load_task_data("pos", root, ("brown",))
