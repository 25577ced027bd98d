"""Discrete token features of the SENNA window tagger (Collobert et al. 2011, sec. 3.2 and 4.1).

This module is the specification and the test oracle: the C++ featurizer (csrc/models/tagger_features.*)
must give the same ids. Everything is defined on ASCII so that C++ (UTF-8 bytes) and Python (str) agree;
other characters pass through unchanged, and suffixes/prefixes count Unicode code points.

Feature families, named in model files:
  "word"      the normalized word: ASCII letters lower-cased, every ASCII digit replaced by "0"
  "caps"      capitalization class of the raw token (CAPS_* below)
  "suffixN"   last N code points of the normalized word (the whole word when shorter), N in 1..9
  "prefixN"   first N code points of the normalized word, N in 1..9
  "clusterN"  first N bits of the Brown cluster bit string of the normalized word (all of it when
              shorter), N in 1..64 (Koo & Collins 2008 and Turian et al. 2010 use 4, 6, 10, 20); the
              bit strings come from a `clusters` map {normalized word: bit string} that the tagger
              keeps in its model file; a word missing from it is UNKNOWN
Lexicon ids (every family but caps): 0 = PADDING (outside the sentence), 1 = UNKNOWN, then entries.
"""

PADDING, UNKNOWN = 0, 1
FIRST_ENTRY = 2
PADDING_TOKEN, UNKNOWN_TOKEN = "<PADDING>", "<UNKNOWN>"

# Caps ids; CAPS_PADDING marks positions outside the sentence.
CAPS_PADDING, CAPS_LOWER, CAPS_INITIAL, CAPS_ALL, CAPS_MIXED, CAPS_NOLETTER = range(6)
CAPS_SIZE = 6

_NORMALIZE = {**{c: c + 32 for c in range(ord("A"), ord("Z") + 1)},
              **{c: ord("0") for c in range(ord("0"), ord("9") + 1)}}


def normalize_word(token):
    """ASCII-lower-case `token` and map every ASCII digit to "0" ("Sept.19" -> "sept.00")."""
    return token.translate(_NORMALIZE)


def _is_upper(ch):
    return "A" <= ch <= "Z"


def _is_lower(ch):
    return "a" <= ch <= "z"


def caps_feature(token):
    """CAPS_ALL when every ASCII letter is upper case, CAPS_INITIAL when only the first character is
    (the first character must be an upper letter), CAPS_MIXED when some other letter is upper,
    CAPS_LOWER when none is, CAPS_NOLETTER without ASCII letters."""
    n_upper = sum(1 for ch in token if _is_upper(ch))
    n_lower = sum(1 for ch in token if _is_lower(ch))
    if n_upper + n_lower == 0:
        return CAPS_NOLETTER
    if n_lower == 0:
        return CAPS_ALL
    if n_upper == 0:
        return CAPS_LOWER
    if _is_upper(token[0]) and n_upper == 1:
        return CAPS_INITIAL
    return CAPS_MIXED


MAX_CLUSTER_BITS = 64


def family_key(family, token, clusters=None):
    """The string a lexicon looks up for `token` in `family` (caps has no lexicon: None; clusterN:
    None when the word has no bit string in `clusters`)."""
    if family == "word":
        return normalize_word(token)
    if family == "caps":
        return None
    word = normalize_word(token)
    if family.startswith("cluster") and family[7:].isdigit():
        path = (clusters or {}).get(word)
        return None if path is None else path[:int(family[7:])]
    if family.startswith("suffix") and family[6:].isdigit():
        return word[-int(family[6:]):]
    if family.startswith("prefix") and family[6:].isdigit():
        return word[:int(family[6:])]
    raise ValueError(f"features: unknown feature family {family!r}; expected word, caps, suffixN, prefixN or "
                     "clusterN")


def is_cluster_family(family):
    return family.startswith("cluster")


def check_family(family):
    if family in ("word", "caps"):
        return
    if family[:7] == "cluster":
        digits = family[7:]
        if digits.isascii() and digits.isdigit() and digits[0] != "0" and int(digits) <= MAX_CLUSTER_BITS:
            return
        raise ValueError(f"features: {family!r} needs N in 1..{MAX_CLUSTER_BITS}")
    digits = family[6:]
    if family[:6] in ("suffix", "prefix") and digits.isascii() and digits.isdigit():
        if len(digits) == 1 and digits != "0":
            return
        raise ValueError(f"features: {family!r} needs N in 1..9")
    raise ValueError(f"features: unknown feature family {family!r}; expected word, caps, suffixN, prefixN or "
                     "clusterN")


def featurize_ref(sentences, families, lexicons, clusters=None):
    """Feature ids for `sentences` (lists of str tokens): int32 array (N, F), N = total tokens, with the
    families in the given order; `lexicons[f]` maps a key to its id (ignored for caps); `clusters`
    maps a normalized word to its bit string (clusterN families).
    Returns (ids, offsets) where sentence s holds rows offsets[s]:offsets[s+1]."""
    import numpy as np

    for family in families:
        check_family(family)
    if len(lexicons) != len(families):
        raise ValueError(f"features: {len(families)} families but {len(lexicons)} lexicons")
    rows, offsets = [], [0]
    for sentence in sentences:
        for token in sentence:
            row = []
            for family, lexicon in zip(families, lexicons):
                if family == "caps":
                    row.append(caps_feature(token))
                else:
                    key = family_key(family, token, clusters)
                    row.append(UNKNOWN if key is None else lexicon.get(key, UNKNOWN))
            rows.append(row)
        offsets.append(len(rows))
    ids = np.asarray(rows, dtype=np.int32).reshape(len(rows), len(families))
    return ids, np.asarray(offsets, dtype=np.int64)
