"""Tagging scores: chunk precision/recall/F1 exactly as the CoNLL shared tasks' conlleval script computes
them (chunking, NER), and token accuracy (POS). Inputs are lists of sentences, each a list of tags;
all figures are percentages, as conlleval prints them.
"""

from dataclasses import dataclass, field


@dataclass
class ChunkScore:
    """Scores of one chunk type: `gold` chunks in the reference, `predicted` chunks, `correct` ones
    (same type, same first and last token in both); precision, recall, f1 in percent."""
    precision: float
    recall: float
    f1: float
    gold: int
    predicted: int
    correct: int


@dataclass
class ConllevalResult:
    """conlleval's output: overall chunk scores, token accuracy (percent of tokens whose tag equals the
    reference, "O" included), the counts behind them, and `per_type` {chunk type: ChunkScore}."""
    precision: float
    recall: float
    f1: float
    accuracy: float
    tokens: int
    gold: int
    predicted: int
    correct: int
    per_type: dict = field(default_factory=dict)

    def report(self):
        """The text conlleval prints for the same input (its default, non-LaTeX output)."""
        lines = [f"processed {self.tokens} tokens with {self.gold} phrases; "
                 f"found: {self.predicted} phrases; correct: {self.correct}."]
        if self.tokens > 0:
            lines.append(f"accuracy: {self.accuracy:6.2f}%; precision: {self.precision:6.2f}%; "
                         f"recall: {self.recall:6.2f}%; FB1: {self.f1:6.2f}")
        for chunk_type, s in self.per_type.items():
            lines.append(f"{chunk_type:>17}: precision: {s.precision:6.2f}%; recall: {s.recall:6.2f}%; "
                         f"FB1: {s.f1:6.2f}  {s.predicted}")
        return "\n".join(lines) + "\n"


def _scores(correct, gold, predicted):
    # conlleval's defaults: 0 when a denominator is 0
    precision = 100.0 * correct / predicted if predicted > 0 else 0.0
    recall = 100.0 * correct / gold if gold > 0 else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall > 0 else 0.0
    return precision, recall, f1


def _split(tag, which, s, t):
    """(prefix, type) as conlleval splits a tag: at the first hyphen. Only the prefixes of IOB1/IOB2
    are accepted: conlleval gives other schemes' tags (BIOES S-, E-) no error but wrong chunks.
    (Perl's truth test in the script also turns a type named "0" into ""; that quirk is not copied.)"""
    if tag == "O":
        return "O", ""
    prefix, dash, chunk_type = str(tag).partition("-")
    if dash and chunk_type and prefix in ("B", "I"):
        return prefix, chunk_type
    hint = (" (BIOES tags: convert them to IOB2 first with fastnlp.tagging.schemes.convert)"
            if prefix in ("S", "E") and dash else "")
    raise ValueError(f"conlleval: {which} tag {tag!r} (sentence {s}, token {t}) is not O, B-TYPE or I-TYPE{hint}")


# conlleval's endOfChunk / startOfChunk restricted to the B, I, O prefixes (_split admits no others).
# A chunk ends between two tokens after B or I when the next is B or O or has another type; it starts
# on B, on I after O, and on any non-O tag whose type differs from the previous token's.
def _end_of_chunk(prev_tag, tag, prev_type, chunk_type):
    return (prev_tag != "O" and tag in ("B", "O")) or (prev_tag != "O" and prev_type != chunk_type)


def _start_of_chunk(prev_tag, tag, prev_type, chunk_type):
    return tag == "B" or (prev_tag == "O" and tag == "I") or (tag != "O" and prev_type != chunk_type)


def _check_lengths(gold, pred, what):
    gold, pred = list(gold), list(pred)
    if len(gold) != len(pred):
        raise ValueError(f"{what}: gold has {len(gold)} sentences, pred has {len(pred)}")
    for s, (g, p) in enumerate(zip(gold, pred)):
        if isinstance(g, str) or isinstance(p, str):
            raise TypeError(f"{what}: expected lists of sentences, each a list of tags; sentence {s} is a str")
        if len(g) != len(p):
            raise ValueError(f"{what}: sentence {s} has {len(g)} gold tags but {len(p)} predicted tags")
    return gold, pred


def conlleval(gold_sentences_tags, pred_sentences_tags):
    """Chunk scores of the predicted tags against the gold ones, computed as the conlleval script
    (version 2004-01-26) computes them over a file holding the same sentences separated by blank lines.

    Tags are IOB1 or IOB2, mixed freely: "O", "B-TYPE", "I-TYPE". A chunk starts on B, on I after O,
    and on I whose type differs from the previous tag's (so "O I-NP" and "B-NP I-VP" start chunks);
    sentence ends close chunks. A predicted chunk is correct when a gold chunk of the same type starts
    and ends on the same tokens. Returns a ConllevalResult (percentages). ValueError when the numbers
    of sentences or of tags in a sentence differ, or for a tag that is not O/B-/I-.
    """
    gold, pred = _check_lengths(gold_sentences_tags, pred_sentences_tags, "conlleval")
    correct_chunk = found_gold = found_pred = correct_tags = tokens = 0
    per_correct, per_gold, per_pred = {}, {}, {}
    in_correct = False
    last_gold, last_pred, last_gold_type, last_pred_type = "O", "O", "", ""
    for s, (gold_tags, pred_tags) in enumerate(zip(gold, pred)):
        # The blank line after the sentence is one more item, O in both columns and not a token:
        # it closes open chunks.
        items = [(_split(g, "gold", s, t), _split(p, "predicted", s, t))
                 for t, (g, p) in enumerate(zip(gold_tags, pred_tags))]
        for i, ((cg, cg_type), (cp, cp_type)) in enumerate(items + [(("O", ""), ("O", ""))]):
            is_token = i < len(items)
            gold_end = _end_of_chunk(last_gold, cg, last_gold_type, cg_type)
            pred_end = _end_of_chunk(last_pred, cp, last_pred_type, cp_type)
            if in_correct:
                if gold_end and pred_end and last_pred_type == last_gold_type:
                    in_correct = False
                    correct_chunk += 1
                    per_correct[last_gold_type] = per_correct.get(last_gold_type, 0) + 1
                elif gold_end != pred_end or cp_type != cg_type:
                    in_correct = False
            gold_start = _start_of_chunk(last_gold, cg, last_gold_type, cg_type)
            pred_start = _start_of_chunk(last_pred, cp, last_pred_type, cp_type)
            if gold_start and pred_start and cp_type == cg_type:
                in_correct = True
            if gold_start:
                found_gold += 1
                per_gold[cg_type] = per_gold.get(cg_type, 0) + 1
            if pred_start:
                found_pred += 1
                per_pred[cp_type] = per_pred.get(cp_type, 0) + 1
            if is_token:
                correct_tags += cg == cp and cg_type == cp_type
                tokens += 1
            last_gold, last_pred, last_gold_type, last_pred_type = cg, cp, cg_type, cp_type
    # The script also counts a chunk still open at the end of the file; the blank item after the
    # last sentence has always closed it here.

    precision, recall, f1 = _scores(correct_chunk, found_gold, found_pred)
    per_type = {}
    for chunk_type in sorted(set(per_gold) | set(per_pred)):
        c, g, p = per_correct.get(chunk_type, 0), per_gold.get(chunk_type, 0), per_pred.get(chunk_type, 0)
        per_type[chunk_type] = ChunkScore(*_scores(c, g, p), gold=g, predicted=p, correct=c)
    return ConllevalResult(precision=precision, recall=recall, f1=f1,
                           accuracy=100.0 * correct_tags / tokens if tokens > 0 else 0.0,
                           tokens=tokens, gold=found_gold, predicted=found_pred, correct=correct_chunk,
                           per_type=per_type)


def accuracy(gold_sentences_tags, pred_sentences_tags):
    """Percent of tokens whose predicted tag equals the gold tag (POS tagging). Lists of sentences, each
    a list of tags (str or ids). ValueError for mismatched lengths or when there is no token at all."""
    gold, pred = _check_lengths(gold_sentences_tags, pred_sentences_tags, "accuracy")
    tokens = sum(len(g) for g in gold)
    if tokens == 0:
        raise ValueError("accuracy: no tokens to score")
    right = sum(1 for g, p in zip(gold, pred) for a, b in zip(g, p) if a == b)
    return 100.0 * right / tokens
