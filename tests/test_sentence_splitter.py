"""tagging.sentences: the documented splitting rules, and linear time on pathological text (runs of
abbreviations, periods, quotes and whitespace), which used to take quadratic time (80 KB of
abbreviations took 21 s, 1 MB about an hour)."""

import time

import pytest

from fastnlp.tagging import sentences


@pytest.mark.parametrize("text, want", [
    ("He ran. She sat.", ["He ran.", "She sat."]),
    ("Mr. Smith sat. Then he left!", ["Mr. Smith sat.", "Then he left!"]),
    ("He works for the U.S. Army. It pays.", ["He works for the U.S. Army.", "It pays."]),
    ("J. Smith came. (He left.) \"Why?\" she asked.", ["J. Smith came.", "(He left.)", "\"Why?\" she asked."]),
    ("Wait... What?! No.", ["Wait...", "What?!", "No."]),
    ("He said \"stop.\" Then he stopped.", ["He said \"stop.\"", "Then he stopped."]),
    ("lower. case stays. together", ["lower. case stays. together"]),
    ("The cost is 3.5 dollars. Yes.", ["The cost is 3.5 dollars.", "Yes."]),
    ("First para\n\nsecond para", ["First para", "second para"]),
    ("Done.\u2026 Next \u201cOne.\u201d Two", ["Done.\u2026", "Next \u201cOne.\u201d", "Two"]),
    ("", []),
    # lower-case starts: camel-case words start a sentence, plain lower case does not
    ("He bought an iPhone. eBay sold it. then he left.", ["He bought an iPhone.", "eBay sold it. then he left."]),
    # digits start a sentence, except after a word that introduces a number
    ("He left. 12 men stayed. See No. 5 and p. 7 or Fig. 3.", ["He left.", "12 men stayed.",
                                                              "See No. 5 and p. 7 or Fig. 3."]),
    # abbreviations that may end a sentence do so before a common sentence starter only
    ("It ended at 5 p.m. The bus left.", ["It ended at 5 p.m.", "The bus left."]),
    ("Smith Jr. He left. AT&T Inc. said so. Mr. Jones came.",
     ["Smith Jr.", "He left.", "AT&T Inc. said so.", "Mr. Jones came."]),
    ("apples, pears etc. They rot. U.S. Army men came.", ["apples, pears etc.", "They rot.", "U.S. Army men came."]),
    # titles and initials never end one; addresses are no abbreviations
    ("Dr. The Great spoke. J. The Third came.", ["Dr. The Great spoke.", "J. The Third came."]),
    ("Mail a.b@c.com. Then see www.x.org. Now.", ["Mail a.b@c.com.", "Then see www.x.org.", "Now."]),
])
def test_documented_splits(text, want):
    assert sentences(text) == want


# (input, sentences in it): each ~1 MB; a quadratic splitter needs minutes to hours on any of them.
PATHOLOGICAL = [
    ("Mr. Smith Corp. " * 65536, 1),           # every period a boundary candidate, all abbreviations
    ("." * 1_000_000 + " A", 2),              # one run of periods
    ("!'" * 500_000 + " B", 2),               # punctuation and closing quotes interleaved
    ("x" + "'" * 1_000_000 + ". Y", 2),       # a long run of closing quotes after a word
    ("U.S." * 250_000 + " A", 1),             # one huge abbreviation-shaped word
    ("a. " * 330_000, 1),                     # boundaries followed by lower case
    (" " * 1_000_000 + "Ab. Cd", 2),           # whitespace
    ("Ab. " * 250_000, 250_000),              # a million characters of one-word sentences
]


@pytest.mark.parametrize("text, count", PATHOLOGICAL, ids=range(len(PATHOLOGICAL)))
def test_linear_time_on_pathological_text(text, count):
    start = time.perf_counter()
    got = sentences(text)
    elapsed = time.perf_counter() - start
    assert len(got) == count
    # ~0.05-1 s here; the old splitter needed over an hour on the first input. The bound is loose on
    # purpose (a busy 2-core machine can be 3x slower), yet far below any quadratic behaviour.
    assert elapsed < 20, f"{elapsed:.1f} s for {len(text):,} characters"
