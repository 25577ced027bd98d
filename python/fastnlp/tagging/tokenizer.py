"""A small rule-based (regular expression) tokenizer and sentence splitter for raw English text, giving
tokens like the Penn Treebank's (the WSJ text of CoNLL-2000) so that a tagger trained on those corpora
sees the same kind of tokens at run time. No model, no download.

tokenize(text):
  - punctuation is split off: "end." -> "end" "."; "$3.5%" -> "$" "3.5" "%"
  - clitics are split as in the treebank: "don't" -> "do" "n't", "can't" -> "ca" "n't", "I'm" -> "I" "'m",
    "John's" -> "John" "'s", likewise 're 'll 've 'd; "students'" -> "students" "'"
  - double quotes become `` (opening: at the start or after a space or opening bracket) and '' (closing);
    an opening single quote becomes `; typographic quotes are mapped the same way
  - kept whole: numbers with inner . , : / - between digits (3.5 1,000 10:30 1/2 1996-08-22) and .50,
    words with inner hyphens, slashes, ampersands and apostrophes (well-known and/or AT&T O'Neil),
    abbreviations with inner periods (U.S. e.g. Ph.D. a.m. B.A.T), the known abbreviations in
    ABBREVIATIONS (Mr. Corp. Jan.), either kind with a hyphenated tail (U.S.-based), "No." before a
    number, single capital initials before a capitalized word, a comma, ; or ) ("J. Smith", "(D., Okla.)"),
    currency marks (US$ C$ HK$) and decade forms like '90s
  - "..." (and the character U+2026) -> "...", runs of hyphens and the em dash -> "--"
  - brackets stay ( ) [ ] { } (not the treebank's -LRB- escapes; fastnlp's CoNLL reader unescapes those)
Known differences from the treebank: a sentence-final abbreviation keeps its period and gets no second
"." token; "cannot", "gonna" stay whole; URLs and e-mail addresses are split at their punctuation.

sentences(text): splits after . ! ? or ... (and any closing quotes or brackets right after them) when
whitespace and then a capitalized word (possibly behind opening quotes or brackets) follow, except
after a known abbreviation, an initial or an abbreviation with inner periods ("U.S."); a blank line
always ends a sentence. A sentence that ends with "U.S." is therefore not split from the next one.
"""

import re

# Abbreviations that keep their period (written here without it).
ABBREVIATIONS = frozenset("""
    Mr Mrs Ms Messrs Dr Prof Rev Hon Gen Gov Sen Sens Rep Reps Col Lt Capt Sgt Maj Adm Cmdr Supt St Mt Ft Jr Sr
    Inc Corp Co Ltd Bros Cos Bhd Assn Dept Univ vs v etc al cf approx Fig Figs Ave Blvd Rd
    Jan Feb Mar Apr Jun Jul Aug Sep Sept Oct Nov Dec
    Ala Ariz Ark Calif Colo Conn Del Fla Ga Ill Ind Kan Kans Ky La Md Mass Mich Minn Miss Mo Mont Neb
    Nev Okla Ore Pa Penn Tenn Tex Va Vt Wash Wis Wyo
""".split())

_WORD = r"[^\W_]"                       # a letter or digit of any script
_CLITIC = r"(?:[sSdDmM]|re|RE|Re|ll|LL|Ll|ve|VE|Ve)(?!" + _WORD + ")"   # after an apostrophe
_NT = r"[nN]'[tT](?!" + _WORD + ")"

_TOKEN = re.compile(r"""
    ``|''                                          # quotes, already in treebank form
  | \.\.+                                          # ellipsis
  | --+                                            # dash
  | (?<![\w.])(?:                                  # abbreviations:
        (?:[^\W\d_]{1,3}\.)+[^\W\d_]{1,3}(?:\.|(?!""" + _WORD + r"""))   #   U.S.  e.g.  Ph.D.  N.Y
      | (?:""" + "|".join(sorted(ABBREVIATIONS, key=len, reverse=True)) + r""")\.
      )(?:-""" + _WORD + r"""+)*                     #   U.S.-based
  | (?<![\w.])Nos?\.(?=\s*\d)                      # No. 5
  | (?<![\w.])[A-Z]\.(?=\s+[A-Z]|\s*[,;)])          # an initial: J. Smith, (D., Okla.)
  | (?<![\w.])[A-Z]{1,3}\$                         # currencies: US$ C$ HK$
  | (?<![\w.])\.\d+                                # .50
  | """ + _NT + r"""                               # n't
  | '""" + _CLITIC + r"""                          # 's 're 'll 've 'd 'm
  | '\d\ds?(?!""" + _WORD + r""")                  # '90s
  | """ + _WORD + r"""+(?=""" + _NT + r""")        # do|n't  ca|n't
  | """ + _WORD + r"""+                            # a word, joined over inner
    (?:(?:[-&/]|'(?!""" + _CLITIC + r""")|(?<=\d)[.,:](?=\d))""" + _WORD + r"""+)*   # - & / ' and digit.digit
  | \S                                             # any other character alone
""", re.VERBOSE)

_OPEN_DOUBLE = re.compile(r'(?<![^\s(\[{<])"')
_OPEN_SINGLE = re.compile(r"(?<![^\s(\[{<])'(?=[^\W\d_])(?!" + _CLITIC + ")")
_TYPOGRAPHIC = str.maketrans({"\u201c": " `` ", "\u201d": " '' ", "\u2018": " ` ", "\u2019": "'",
                              "\u2026": " ... ", "\u2014": " -- "})


def tokenize(text):
    """Tokens of `text` (a str), Penn Treebank style as described at the top of this module."""
    if not isinstance(text, str):
        raise TypeError(f"tokenize: text must be a str, got {type(text).__name__}")
    text = text.translate(_TYPOGRAPHIC)
    text = _OPEN_DOUBLE.sub(" `` ", text).replace('"', " '' ")
    text = _OPEN_SINGLE.sub(" ` ", text)
    return _TOKEN.findall(text)


# Sentence-final punctuation and the closing quotes/brackets after it, followed by whitespace and a
# letter. Linear time on any input: a match may start only at the beginning of a run of . ! ? and the
# run is taken whole, as an atomic group would (the lookahead + backreference idiom), because a
# shorter prefix of the run can never be followed by whitespace; without this, a long run of periods
# or quotes would be rescanned from every position in it.
_BOUNDARY = re.compile(r"""(?=((?:(?<![.!?])[.!?]+|\u2026)['"\u2019\u201d)\]}]*))\1"""
                       r"""(?=\s+[`'"\u2018\u201c(\[{]*[^\W\d_])""")
_OPENERS = re.compile(r"""\s*[`'"\u2018\u201c(\[{]*""")


def _is_abbreviation(word):
    """True when `word` (the text before a period) is an abbreviation: a known one, an initial, or one
    with inner periods (U.S -> "U.S.")."""
    word = word.lstrip("`'\"([{\u2018\u201c")
    return word in ABBREVIATIONS or (len(word) == 1 and word.isupper()) or \
        re.fullmatch(r"(?:[^\W\d_]{1,3}\.)+[^\W\d_]{1,3}", word) is not None


def sentences(text):
    """The sentences of `text` (a str) as stripped strings, split by the rules at the top of this module."""
    if not isinstance(text, str):
        raise TypeError(f"sentences: text must be a str, got {type(text).__name__}")
    found = []
    for paragraph in re.split(r"\n\s*\n", text):
        start = 0
        for m in _BOUNDARY.finditer(paragraph):
            first = _OPENERS.match(paragraph, m.end()).end()   # the next word's first letter
            if not paragraph[first:first + 1].isupper():
                continue
            if m.group().startswith(".") and not m.group().startswith(".."):
                # The word before the period: back to the previous whitespace, never before `start`.
                # The walks of successive boundaries cover disjoint text (each ends at whitespace).
                i = m.start()
                while i > start and not paragraph[i - 1].isspace():
                    i -= 1
                if i < m.start() and _is_abbreviation(paragraph[i:m.start()]):
                    continue
            found.append(paragraph[start:m.end()].strip())
            start = m.end()
        found.append(paragraph[start:].strip())
    return [s for s in found if s]
