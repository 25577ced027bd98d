"""Chunk tag schemes IOB1, IOB2 and BIOES: reading the chunks out of a tag sequence, and converting
between schemes. Used by the tagger's data preparation (SENNA trains on BIOES) and by its decoding.

A tag is "O" or PREFIX-TYPE with a non-empty TYPE (which may itself hold hyphens: "B-ORG-X" has the
type "ORG-X"). A chunk is (type, start, end) with `end` exclusive, so tokens[start:end] is the chunk.

  IOB1   I-X inside chunks; B-X only on the first token of a chunk that directly follows a chunk of
         the same type (CoNLL-2003's original files)
  IOB2   B-X on the first token of every chunk, I-X on the others (CoNLL-2000, CoNLL-2003 as shipped here)
  BIOES  S-X single-token chunk; B-X first, I-X inside, E-X last token of longer chunks (SENNA's IOBES)

Ill-formed sequences are read as conlleval reads them: I-X that does not continue a chunk of type X
(after O, after another type, at the sentence start) starts a new chunk. In BIOES, E-X that does not
close a chunk of type X is a one-token chunk, and B-X or I-X not followed by I-X/E-X of the same type
ends its chunk there. Reading and re-writing therefore repairs an ill-formed sequence.
"""

SCHEMES = ("IOB1", "IOB2", "BIOES")
_PREFIXES = {"IOB1": "BI", "IOB2": "BI", "BIOES": "BIES"}


def _check_scheme(scheme, argument):
    if scheme not in _PREFIXES:
        raise ValueError(f"schemes: {argument} must be one of {', '.join(SCHEMES)}, got {scheme!r}")


def split_tag(tag, scheme):
    """("O", None) for "O", else (prefix, type) of PREFIX-TYPE; ValueError for a prefix `scheme` lacks."""
    if tag == "O":
        return "O", None
    prefix, dash, chunk_type = str(tag).partition("-")
    if not dash or not chunk_type or prefix not in _PREFIXES[scheme]:
        allowed = ", ".join(p + "-" for p in _PREFIXES[scheme])
        raise ValueError(f"schemes: tag {tag!r} is not valid in {scheme}: expected O or one of "
                         f"{allowed} followed by a chunk type")
    return prefix, chunk_type


def chunks(tags, scheme):
    """The chunks of one sentence's `tags` read in `scheme`: list of (type, start, end), end exclusive,
    in order. ValueError for an unknown scheme or a tag whose prefix the scheme does not have."""
    _check_scheme(scheme, "scheme")
    found = []
    chunk_type, start = None, 0          # the open chunk, None when outside
    for i, tag in enumerate(tags):
        prefix, tag_type = split_tag(tag, scheme)
        continues = chunk_type is not None and tag_type == chunk_type and prefix in "IE"
        if chunk_type is not None and not continues:
            found.append((chunk_type, start, i))
            chunk_type = None
        if prefix == "O":
            continue
        if not continues:
            chunk_type, start = tag_type, i
        if prefix in "ES":               # BIOES: this token closes the chunk
            found.append((chunk_type, start, i + 1))
            chunk_type = None
    if chunk_type is not None:
        found.append((chunk_type, start, len(tags)))
    return found


def from_chunks(found, length, scheme):
    """Tags of a sentence of `length` tokens holding the chunks `found` ((type, start, end), in order,
    not overlapping), written in `scheme`."""
    _check_scheme(scheme, "scheme")
    tags = ["O"] * length
    previous_end, previous_type = -1, None
    for chunk_type, start, end in found:
        if not chunk_type or not 0 <= start < end <= length or start < previous_end:
            raise ValueError(f"schemes: chunk ({chunk_type!r}, {start}, {end}) has no type, is empty, is "
                             f"out of the sentence of {length} tokens or overlaps the previous chunk")
        for i in range(start, end):
            tags[i] = "I-" + chunk_type
        if scheme != "IOB1" or (previous_end == start and previous_type == chunk_type):
            tags[start] = "B-" + chunk_type
        if scheme == "BIOES":
            tags[end - 1] = "E-" + chunk_type if end - start > 1 else "S-" + chunk_type
        previous_end, previous_type = end, chunk_type
    return tags


def convert(tags, from_scheme, to_scheme):
    """One sentence's `tags` read in `from_scheme` and written in `to_scheme` (a new list). The chunks
    are kept; ill-formed input is read as described at the top of this module."""
    _check_scheme(from_scheme, "from_scheme")
    _check_scheme(to_scheme, "to_scheme")
    tags = list(tags)
    return from_chunks(chunks(tags, from_scheme), len(tags), to_scheme)


def transition_constraints(tagset, scheme):
    """Which moves a decoder may make so that its output is a well-formed `scheme` sequence:
    (allowed (K, K) bool indexed [from, to], start_allowed (K,) bool) for the tags of `tagset`.

    IOB2: I-X only after B-X or I-X, never first. IOB1: B-X only after a chunk of type X (I-X or
    B-X), never first. BIOES: I-X and E-X only after B-X or I-X; after B-X or I-X only I-X or E-X of the same
    type; I-X and E-X never first. (BIOES also forbids ending on B-X or I-X, which a [from, to]
    mask cannot say; the decoders here read such an end as a chunk, like conlleval.)"""
    _check_scheme(scheme, "scheme")
    parts = [split_tag(t, scheme) for t in tagset]
    K = len(parts)
    allowed = [[True] * K for _ in range(K)]
    start = [True] * K
    for j, (p, ty) in enumerate(parts):
        if p == {"IOB2": "I", "IOB1": "B"}.get(scheme) or scheme == "BIOES" and p in "IE":
            start[j] = False
        for i, (q, prev_ty) in enumerate(parts):
            same = prev_ty == ty
            if scheme == "IOB2":
                ok = p != "I" or (q in "BI" and same)
            elif scheme == "IOB1":
                ok = p != "B" or (q in "BI" and same)
            else:  # BIOES: inside a chunk only its continuation; outside, no continuation
                inside = q in "BI"
                ok = (p in "IE" and same) if inside else p not in "IE"
            allowed[i][j] = ok
    return allowed, start
