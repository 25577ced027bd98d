"""A small rule-based (regular expression) tokenizer and sentence splitter for raw English text, giving
tokens like the Penn Treebank's (the WSJ text of CoNLL-2000) so that a tagger trained on those corpora
sees the same kind of tokens at run time. No model, no download. Tokens are spans of the original text
(tokenize_with_offsets gives their character offsets); each has a norm, its treebank form, which is
what tokenize returns and what a tagger is fed.

tokenize(text):
  - punctuation is split off: "end." -> "end" "."; "$3.5%" -> "$" "3.5" "%"
  - clitics are split as in the treebank: "don't" -> "do" "n't", "can't" -> "ca" "n't", "I'm" -> "I" "'m",
    "John's" -> "John" "'s", likewise 're 'll 've 'd; "students'" -> "students" "'"
  - norms: a double quote is `` when opening (at the start or after whitespace or an opening bracket or
    quote) and '' when closing; an opening single quote is `; typographic quotes are mapped the same
    way, the typographic apostrophe to ', the ellipsis character to "...", the em dash to "--"
  - kept whole: URLs (http://, https://, ftp://, www.; without trailing punctuation), e-mail addresses,
    @mentions and #hashtags (a letter after the # or @: "#1" and "@2.50" are split), numbers with inner
    . , : / - between digits (3.5 1,000 10:30 1/2 1996-08-22) and .50, words with inner hyphens,
    slashes, ampersands and apostrophes (well-known and/or AT&T O'Neil), abbreviations with inner
    periods (U.S. e.g. Ph.D. a.m. B.A.T), the known abbreviations in ABBREVIATIONS (Mr. Corp. Jan.),
    either kind with a hyphenated tail (U.S.-based), "No." before a number, single capital initials
    before a capitalized word, a comma, ; or ) ("J. Smith", "(D., Okla.)"), currency marks (US$ C$ HK$)
    and decade forms like '90s
  - runs of periods stay one token ("..."), runs of hyphens too ("--")
  - brackets stay ( ) [ ] { } (not the treebank's -LRB- escapes; fastnlp's CoNLL reader unescapes those)
Known differences from the treebank: a sentence-final abbreviation keeps its period and gets no second
"." token; "cannot", "gonna" stay whole.

sentences(text) / sentence_spans(text): a sentence ends after . ! ? or ... (and any closing quotes or
brackets right after them) when whitespace and then (behind any opening quotes or brackets) one of
these follows:
  - a capitalized word, or a lower-case word with capitals further in (iPhone, eBay);
  - a number, unless the word before the period introduces one (No. p. Fig. Vol. ...);
but not after an abbreviation: a title or other known one (Mr. Dr. Jan.) or an initial never ends a
sentence; one that often ends a sentence (Inc. Corp. Co. Ltd. Jr. Sr. etc. al., or one with inner
periods: U.S. p.m.) ends it when a common sentence starter follows (The, He, It, This, But, ...;
_STARTERS). A blank line always ends a sentence. Plain lower case after a period ("lower. case")
does not start a sentence. Linear time in the length of the text.
"""

import re

import numpy as np

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
_URL_END = r"""[^\s<>"'`.,;:!?()\[\]{}]"""     # the last character of a URL: no trailing punctuation

# Every alternative matches non-whitespace characters only, and the last one any such character, so
# the tokens of a text are exactly its non-whitespace characters, cut into pieces. The lookbehinds
# that open the URL, e-mail, mention and abbreviation alternatives let each be tried only where its
# run of characters begins, which keeps the scan linear in the length of the text.
_TOKEN = re.compile(r"""
    ``|''                                          # quotes, already in treebank form
  | (?<![\w.])(?:(?:https?|ftp)://|www\.)[^\s<>"]*""" + _URL_END + r"""   # URLs
  | (?<![\w.+-])[\w.+-]+@[^\W_](?:[\w-]*[^\W_])?(?:\.[^\W_](?:[\w-]*[^\W_])?)+   # e-mail addresses
  | (?<![\w@])@[^\W\d]\w*                          # @mentions (not @2.50)
  | (?<![\w#&])\#\w*[^\W\d_]\w*                    # #hashtags (not #1)
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

# The tokenizer reads the text with the typographic apostrophe as "'" (one character for one, so
# offsets are unchanged); a token's norm is its text read so, with the quotes below rewritten.
_APOSTROPHE = str.maketrans({"\u2019": "'"})
_NORMS = {"\u201c": "``", "\u201d": "''", "\u2018": "`", "\u2026": "...", "\u2014": "--"}
# A straight quote opens (`` or `) at the start of the text or after whitespace or an opening
# bracket; a single one only before a letter that does not start a clitic ('s 'll ...). Whitespace is
# str.isspace()'s (the pattern's \s: also U+001C-U+001F, U+0085, ...); inside a chunk only the
# brackets below can precede a quote.
_OPENING_CONTEXT = frozenset("([{<\u2018\u201c")
_CLITIC_AHEAD = re.compile(_CLITIC)


# Whitespace as str.split() and the pattern's \s see it (every such character is below U+3001), and
# the ASCII letters and digits: the tables behind the vectorized chunk search in tokenize_with_offsets.
_SPACE_TABLE = np.array([chr(c).isspace() for c in range(0x3001)] + [False], dtype=bool)
_ASCII_ALNUM = np.array([chr(c).isalnum() for c in range(128)] + [False], dtype=bool)
_CHUNK = re.compile(r"\S+")
_SHORT = 4096          # texts up to this many characters take the plain loop (faster there)
_GROUP = 1 << 16       # longer texts are tokenized this many characters at a time
_GROUP_END = re.compile(r"[^.\s]\s")
_CACHE_LIMIT = 1 << 16
_cut_cache = {}


# What the token pattern's lookaheads past a final period can tell apart (see _follower), as text.
_FOLLOWER_TEXT = {None: "", "": "", "U": " A", "0": " 0", ",": " ,", ";": " ;", ")": " )"}


def _cut(word, follower):
    """The tokens of the chunk `word` as (norms, starts, ends), tuples, offsets into the chunk. The
    chunk is read alone: the pattern's lookbehinds see its start as they see whitespace, and what
    follows it matters only to a final period (the initial and No. rules look past it): `follower` is
    the class of the next chunk's first character then (None otherwise). Cached by (chunk, follower)."""
    key = (word, follower) if word[-1] == "." else word
    cut = _cut_cache.get(key)
    if cut is not None:
        return cut
    context = word + _FOLLOWER_TEXT[follower if word[-1] == "." else None]
    match = _TOKEN.match
    pieces = []
    i, e = 0, len(word)
    while i < e:
        t = match(context, i).end()
        norm = word[i:t]
        if t - i == 1 and not norm.isalnum():
            if norm in _NORMS:
                norm = _NORMS[norm]
            elif norm == '"' or norm == "'":
                opening = i == 0 or word[i - 1] in _OPENING_CONTEXT   # a chunk follows whitespace
                if norm == '"':
                    norm = "``" if opening else "''"
                elif opening and word[i + 1:i + 2].isalpha() and not _CLITIC_AHEAD.match(context, i + 1):
                    norm = "`"
        pieces.append((norm, i, t))
        i = t
    cut = tuple(zip(*pieces))
    if len(_cut_cache) >= _CACHE_LIMIT:
        _cut_cache.clear()
    _cut_cache[key] = cut
    return cut


def _follower(chunk):
    """The class of the first character of `chunk` as the pattern's lookaheads past a period see it."""
    c = chunk[:1]
    return c if c in ",;)" else "U" if "A" <= c <= "Z" else "0" if c.isdecimal() else ""


def tokenize_with_offsets(text: str) -> tuple[list[str], np.ndarray, np.ndarray]:
    """Tokens of `text` as (norms, starts, ends): token i is ``text[starts[i]:ends[i]]``, a piece of the
    original text (quotes are not rewritten in it), and ``norms[i]`` is its Penn Treebank form, the
    one a tagger is fed: ``"`` opening a quotation becomes ````` and closing it ``''``, typographic
    quotes, the ellipsis character and the em dash are mapped likewise, a typographic apostrophe
    becomes ``'``. Every other token's norm is its text.

    Parameters
    ----------
    text : str
        Raw text.

    Returns
    -------
    norms : list of str
    starts, ends : numpy.ndarray of int64
        Character offsets into `text`, increasing; the tokens cover its non-whitespace characters.

    Raises
    ------
    TypeError
        When `text` is not a str.
    """
    if not isinstance(text, str):
        raise TypeError(f"tokenize_with_offsets: text must be a str, got {type(text).__name__}")
    read = text.translate(_APOSTROPHE) if "\u2019" in text else text
    if len(read) <= _SHORT:
        return _tokenize_short(read)
    if len(read) <= _GROUP:
        return _tokenize_long(read)
    # A long text is taken _GROUP characters at a time (bounding the scratch memory), each group
    # ending at whitespace after a character other than a period: the pattern's lookaheads past a
    # chunk (initials, No.) look only past a final period, so the cut changes no token.
    norms, starts, ends = [], [], []
    pos = 0
    while pos < len(read):
        end = len(read)
        if pos + _GROUP < len(read):
            cut = _GROUP_END.search(read, pos + _GROUP)
            end = cut.start() + 1 if cut else len(read)
        n, a, b = _tokenize_long(read[pos:end])
        norms += n
        starts.append(a + pos)
        ends.append(b + pos)
        pos = end
    return norms, np.concatenate(starts), np.concatenate(ends)


def _tokenize_long(read, text_starts=None):
    """tokenize_with_offsets on a text of a few thousand characters or more; or on several texts
    joined by whitespace, `text_starts` giving where each begins (then no text's last chunk looks
    past its end)."""
    # The tokens are the whitespace-separated chunks, each cut by matching the token pattern at its
    # start, then at the end of each token, in the whole text (the lookarounds see past the chunk);
    # this gives the same tokens as scanning the text with finditer, since no token holds whitespace.
    # The chunks and which of them are plain runs of ASCII letters and digits (one token each: no
    # alternative can cut them; the common case) are found with NumPy over the code points, so only
    # the other chunks cost Python work, and their cuts are cached.
    words = read.split()
    if not words:
        return [], np.zeros(0, np.int64), np.zeros(0, np.int64)
    code = np.frombuffer(read.encode("utf-32-le"), dtype=np.uint32)
    solid = ~_SPACE_TABLE[np.minimum(code, 0x3001)]
    edges = np.flatnonzero(np.diff(solid.view(np.int8), prepend=0, append=0))
    chunk_starts, chunk_ends = edges[0::2], edges[1::2]
    other = ~_ASCII_ALNUM[np.minimum(code, 128)]
    other_before = np.concatenate(([0], np.cumsum(other, dtype=np.int32 if len(code) < 1 << 31 else np.int64)))
    plain = other_before[chunk_ends] == other_before[chunk_starts]
    complex_chunks = np.flatnonzero(~plain).tolist()
    if not complex_chunks:
        return words, chunk_starts.astype(np.int64), chunk_ends.astype(np.int64)
    final = () if text_starts is None else set((np.searchsorted(chunk_starts, text_starts[1:]) - 1).tolist())
    cs, ce = chunk_starts.tolist(), chunk_ends.tolist()
    norms, offsets, ends_in, counts = [], [], [], []   # offsets: the complex chunks' tokens, in their chunk
    last = len(words) - 1
    previous = 0
    for k in complex_chunks:
        norms += words[previous:k]
        previous = k + 1
        word = words[k]
        follower = None
        if word[-1] == ".":
            follower = "" if k == last or k in final else _follower(words[k + 1])
        cut_norms, cut_starts, cut_ends = _cut(word, follower)
        norms += cut_norms
        offsets += cut_starts
        ends_in += cut_ends
        counts.append(len(cut_norms))
    norms += words[previous:]
    # Token counts per chunk -> where each chunk's tokens go in the output arrays.
    per_chunk = np.ones(len(words), dtype=np.int64)
    per_chunk[complex_chunks] = counts
    first = np.concatenate(([0], np.cumsum(per_chunk)[:-1]))
    starts = np.empty(len(norms), dtype=np.int64)
    ends = np.empty(len(norms), dtype=np.int64)
    starts[first[plain]] = chunk_starts[plain]
    ends[first[plain]] = chunk_ends[plain]
    where = np.repeat(first[complex_chunks], counts) + _ranges(counts)
    base = np.repeat(chunk_starts[complex_chunks], counts)
    starts[where] = base + np.array(offsets, dtype=np.int64)
    ends[where] = base + np.array(ends_in, dtype=np.int64)
    return norms, starts, ends


def tokenize_texts(texts: list[str]) -> list[tuple[list[str], np.ndarray, np.ndarray]]:
    """tokenize_with_offsets of each of `texts`, the same tokens, faster on many short texts: they are
    tokenized together, about _GROUP characters at a time.

    Parameters
    ----------
    texts : list of str

    Returns
    -------
    list of (norms, starts, ends)
        One per text, as tokenize_with_offsets gives them.

    Raises
    ------
    TypeError
        When an item of `texts` is not a str.
    """
    out, group, size = [], [], 0

    def flush():
        joined = "\n".join(group)
        joined = joined.translate(_APOSTROPHE) if "\u2019" in joined else joined
        text_starts = np.cumsum([0] + [len(t) + 1 for t in group[:-1]])
        norms, starts, ends = _tokenize_long(joined, text_starts)
        cuts = np.searchsorted(starts, text_starts).tolist() + [len(norms)]
        for k, offset in enumerate(text_starts.tolist()):
            a, b = cuts[k], cuts[k + 1]
            out.append((norms[a:b], starts[a:b] - offset, ends[a:b] - offset))
        group.clear()

    for k, text in enumerate(texts):
        if not isinstance(text, str):
            raise TypeError(f"tokenize_texts: texts[{k}] must be a str, got {type(text).__name__}")
        if len(text) > _GROUP:
            if group:
                flush()
                size = 0
            out.append(tokenize_with_offsets(text))
            continue
        group.append(text)
        size += len(text) + 1
        if size >= _GROUP:
            flush()
            size = 0
    if group:
        flush()
    return out


def _tokenize_short(read):
    """tokenize_with_offsets on a short text: the same tokens, chunk by chunk in a Python loop, which
    beats NumPy's per-call overhead below a few thousand characters."""
    norms, starts, ends = [], [], []
    for m in _CHUNK.finditer(read):
        word = m.group()
        s, e = m.span()
        if word.isalnum():
            norms.append(word)
            starts.append(s)
            ends.append(e)
            continue
        follower = None
        if word[-1] == ".":
            after = _CHUNK.search(read, e)
            follower = _follower(after.group()) if after else ""
        cut_norms, cut_starts, cut_ends = _cut(word, follower)
        norms += cut_norms
        starts += [s + a for a in cut_starts]
        ends += [s + b for b in cut_ends]
    return norms, np.array(starts, dtype=np.int64), np.array(ends, dtype=np.int64)


def _ranges(counts):
    """0..c-1 for each c in counts, concatenated."""
    counts = np.asarray(counts, dtype=np.int64)
    total = int(counts.sum())
    begin = np.repeat(np.cumsum(counts) - counts, counts)
    return np.arange(total, dtype=np.int64) - begin


def tokenize(text: str) -> list[str]:
    """Tokens of `text` (a str), Penn Treebank style as described at the top of this module: the norms
    of tokenize_with_offsets.

    Parameters
    ----------
    text : str
        The text to split.

    Returns
    -------
    list of str
        The tokens, in order.

    Raises
    ------
    TypeError
        `text` is not a str.
    """
    if not isinstance(text, str):
        raise TypeError(f"tokenize: text must be a str, got {type(text).__name__}")
    return tokenize_with_offsets(text)[0]


# Sentence-final punctuation and the closing quotes/brackets after it, followed by whitespace and a
# letter or digit. Linear time on any input: a match may start only at the beginning of a run of . ! ?
# and the run is taken whole, as an atomic group would (the lookahead + backreference idiom), because
# a shorter prefix of the run can never be followed by whitespace; without this, a long run of
# periods or quotes would be rescanned from every position in it.
_BOUNDARY = re.compile(r"""(?=((?:(?<![.!?])[.!?]+|\u2026)['"\u2019\u201d)\]}]*))\1"""
                       r"""(?=\s+[`'"\u2018\u201c(\[{]*[^\W_])""")
_OPENERS = re.compile(r"""\s*[`'"\u2018\u201c(\[{]*""")
_NEXT_WORD = re.compile(r"[^\W_]+")
_PARAGRAPH = re.compile(r"\n\s*\n")
_INNER_PERIODS = re.compile(r"(?:[^\W\d_]{1,3}\.)+[^\W\d_]{1,3}")
# Abbreviations that often end a sentence ("... and Smith Inc. The company ..."), and the words that
# often start one ("A" is left out: "U.S. A" is more often an initial): after these abbreviations, or one with inner periods (U.S., p.m.), a sentence ends
# when one of these words follows. Titles (Mr., Dr.) and initials never end one.
_FINAL_ABBREVIATIONS = frozenset("Inc Corp Co Ltd Bros Cos Jr Sr etc al".split())
_STARTERS = frozenset("""The An He She It They We I You This That These Those There Its His Her Their Our
    My But And So Yet In On At For If When While After Before As Some Many Most All No""".split())
# Before a number a period ends a sentence unless the word before it introduces the number.
_NUMBER_ABBREVIATIONS = frozenset("No Nos no nos p pp Vol vol Ch ch Sec sec Art art Fig Figs fig figs "
                                  "Op op Ex ex Tel tel Ph ph Rm rm Pt pt Ref ref Sect sect".split())


def _abbreviation_kind(word):
    """None when `word` (the text before a period, opening quotes and brackets stripped) is no
    abbreviation; else "final" for one that may end a sentence (a known sentence-final one, or one
    with inner periods: U.S -> "U.S."), "title" for the others (a known one, an initial)."""
    if "@" in word or "/" in word or word[:4].lower() == "www.":   # an address, not an abbreviation
        return None
    if word in _FINAL_ABBREVIATIONS or _INNER_PERIODS.fullmatch(word) is not None:
        return "final"
    if word in ABBREVIATIONS or (len(word) == 1 and word.isupper()):
        return "title"
    return None


def _ends_sentence(text, start, m, endpos):
    """Whether the boundary candidate `m` (a _BOUNDARY match) in the sentence begun at `start` ends it."""
    first = _OPENERS.match(text, m.end(), endpos).end()   # the next word's first character
    word = _NEXT_WORD.match(text, first, endpos)
    word = word.group() if word else ""
    punct = m.group()
    if word[:1].isdigit():
        starts = True
    elif word[:1].isupper():
        starts = True
    else:   # lower case: only a word with capitals further in (iPhone, eBay) starts a sentence
        starts = not word.islower()
    if not starts or not punct.startswith(".") or punct.startswith(".."):
        return starts
    # The word before the period: back to the previous whitespace, never before `start`. The walks
    # of successive boundaries cover disjoint text (each ends at whitespace).
    i = m.start()
    while i > start and not text[i - 1].isspace():
        i -= 1
    before = text[i:m.start()].lstrip("`'\"([{\u2018\u201c")
    if word[:1].isdigit():
        return before not in _NUMBER_ABBREVIATIONS
    kind = _abbreviation_kind(before) if i < m.start() else None
    return kind is None or (kind == "final" and word in _STARTERS)


def sentence_spans(text: str) -> list[tuple[int, int]]:
    """Where the sentences of `text` are: (start, end) character offsets, the sentence being
    ``text[start:end]`` without surrounding whitespace, split by the rules at the top of this module.
    Linear time in the length of the text.

    Parameters
    ----------
    text : str
        Raw text.

    Returns
    -------
    list of (int, int)
        In order, none empty, none overlapping.

    Raises
    ------
    TypeError
        When `text` is not a str.
    """
    if not isinstance(text, str):
        raise TypeError(f"sentence_spans: text must be a str, got {type(text).__name__}")
    spans = []

    def add(a, b):
        while a < b and text[a].isspace():
            a += 1
        while b > a and text[b - 1].isspace():
            b -= 1
        if a < b:
            spans.append((a, b))

    paragraph_start = 0
    for end, after in [(p.start(), p.end()) for p in _PARAGRAPH.finditer(text)] + [(len(text), len(text))]:
        start = paragraph_start
        for m in _BOUNDARY.finditer(text, paragraph_start, end):
            if _ends_sentence(text, start, m, end):
                add(start, m.end())
                start = m.end()
        add(start, end)
        paragraph_start = after
    return spans


def sentences(text: str) -> list[str]:
    """The sentences of `text` (a str) as stripped strings, split by the rules at the top of this module.

    Parameters
    ----------
    text : str
        The text to split.

    Returns
    -------
    list of str
        The sentences, in order (``text[a:b]`` for each span of sentence_spans).

    Raises
    ------
    TypeError
        `text` is not a str.
    """
    if not isinstance(text, str):
        raise TypeError(f"sentences: text must be a str, got {type(text).__name__}")
    return [text[a:b] for a, b in sentence_spans(text)]
