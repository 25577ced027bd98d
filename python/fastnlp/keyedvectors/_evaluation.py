"""KeyedVectors' standard evaluations: analogy accuracy (Google ``questions-words.txt``) and
word-similarity correlations (WordSim-353 and the like), in fastnlp's protocol (evaluate_analogies,
evaluate_similarity) and gensim's (evaluate_word_analogies, evaluate_word_pairs), with the
statistics they report (Spearman's rho, a correlation's p-value) computed here without SciPy.
"""

import collections
import logging
import math

from typing import Any, Dict, List, Optional, Tuple

import numpy as np

from ._formats import PathLike
from ._similarity import _analogy_scores

logger = logging.getLogger(__package__)  # fastnlp.keyedvectors, as before the split


def _rankdata(x):
    """Ranks 1..n with ties given their average rank (as scipy.stats.rankdata)."""
    x = np.asarray(x, dtype=np.float64)
    order = np.argsort(x, kind="mergesort")
    xs = x[order]
    ranks = np.empty(len(x), dtype=np.float64)
    i = 0
    while i < len(xs):
        j = i
        while j + 1 < len(xs) and xs[j + 1] == xs[i]:
            j += 1
        ranks[order[i:j + 1]] = 0.5 * (i + j) + 1.0
        i = j + 1
    return ranks


def spearman(a, b):
    """Spearman's rank correlation (Pearson correlation of the tie-averaged ranks)."""
    ra, rb = _rankdata(a), _rankdata(b)
    ra -= ra.mean()
    rb -= rb.mean()
    den = np.sqrt((ra * ra).sum() * (rb * rb).sum())
    return float((ra * rb).sum() / den) if den > 0 else float("nan")


CorrelationResult = collections.namedtuple("CorrelationResult", ["statistic", "pvalue"])
CorrelationResult.__doc__ = """A correlation and its two-sided p-value, indexable as scipy.stats'
PearsonRResult / SignificanceResult (``r[0]``, ``r[1]``) which gensim's evaluate_word_pairs returns."""


def _betacf(a, b, x, eps=1e-15, tiny=1e-300, max_iter=10000):
    """The continued fraction of the incomplete beta function (modified Lentz, Numerical Recipes 6.4)."""
    qab, qap, qam = a + b, a + 1.0, a - 1.0
    c, d = 1.0, 1.0 - qab * x / qap
    d = 1.0 / (d if abs(d) > tiny else tiny)
    h = d
    for m in range(1, max_iter + 1):
        m2 = 2 * m
        for aa in (m * (b - m) * x / ((qam + m2) * (a + m2)), -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2))):
            d = 1.0 + aa * d
            d = 1.0 / (d if abs(d) > tiny else tiny)
            c = 1.0 + aa / c
            c = c if abs(c) > tiny else tiny
            h *= d * c
        if abs(d * c - 1.0) < eps:
            break
    return h


def _betainc(a, b, x):
    """The regularized incomplete beta function I_x(a, b) for a, b > 0, x in [0, 1]."""
    if x <= 0.0:
        return 0.0
    if x >= 1.0:
        return 1.0
    front = math.exp(math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b) + a * math.log(x) + b * math.log1p(-x))
    if x < (a + 1.0) / (a + b + 2.0):
        return front * _betacf(a, b, x) / a
    return 1.0 - front * _betacf(b, a, 1.0 - x) / b


def correlation_pvalue(r: float, n: int) -> float:
    """Two-sided p-value of a correlation r over n pairs under independence: t = r sqrt((n-2) /
    (1-r^2)) with n-2 degrees of freedom, i.e. I_{1-r^2}((n-2)/2, 1/2), what scipy's pearsonr
    (exact for normal data) and spearmanr (the t approximation) report.

    Parameters
    ----------
    r : float
        The correlation, in [-1, 1].
    n : int
        The number of pairs it was computed on.

    Returns
    -------
    float
        The p-value; NaN when n < 3 or r is not finite.
    """
    if n < 3 or not math.isfinite(r):
        return float("nan")
    return _betainc((n - 2) / 2.0, 0.5, max(0.0, 1.0 - r * r))


class EvaluationMixin:
    """The evaluations of KeyedVectors (the class is in fastnlp.keyedvectors)."""

    def _fold_index(self, limit, case_insensitive, fold=str.lower):
        """word -> row among the first `limit`; case-insensitive keeps the most frequent spelling."""
        table = {}
        for i in range(limit - 1, -1, -1):
            k = self.index_to_key[i]
            table[fold(k) if case_insensitive else k] = i
        return table

    def _analogy_sections(self, path, table, fold, strict):
        """The questions of an analogy file by section: [{"section", "words": [(a, b, c, d)],
        "rows": [row ids, or None when a word is not in `table`]}] and the number of questions.
        strict: a line that is not 4 words is a ValueError; otherwise skipped (gensim's)."""
        sections, current, questions = [], None, 0
        with open(path, encoding="utf-8") as f:
            for lineno, line in enumerate(f, 1):
                line = line.strip()
                if not line:
                    continue
                if line.startswith(":"):
                    current = {"section": line[1:].strip(), "words": [], "rows": []}
                    sections.append(current)
                    continue
                parts = [fold(w) for w in line.split()]
                if len(parts) != 4:
                    if strict:
                        raise ValueError(f"{path}:{lineno}: an analogy line has 4 words, got {len(parts)}: {line!r}")
                    logger.info("skipping line %d of %s: not 4 words", lineno, path)
                    continue
                if current is None:
                    current = {"section": "(no section)", "words": [], "rows": []}
                    sections.append(current)
                questions += 1
                ids = [table.get(w) for w in parts]
                current["words"].append(tuple(parts))
                current["rows"].append(None if None in ids else ids)
        return sections, questions

    def _analogy_hits(self, rows, limit, method, batch_size, spellings=None, eps=1e-3):
        """Whether each question (Q, 4) of row ids is answered right: the best-scoring word among the
        first `limit`, a, b and c excluded. spellings (limit,): each row's canonical row (its
        most frequent spelling); when given, every spelling of a, b and c is excluded and any
        spelling of d counts as right (gensim's case-insensitive protocol)."""
        n = self.get_normed_vectors()[:limit]
        rows = np.asarray(rows, dtype=np.int64).reshape(-1, 4)
        hits = np.zeros(len(rows), dtype=bool)
        for s in range(0, len(rows), batch_size):
            r = rows[s:s + batch_size]
            scores = _analogy_scores(n, n[r[:, 0]], n[r[:, 1]], n[r[:, 2]], method, eps)
            j = np.arange(len(r))
            for col in range(3):
                if spellings is None:
                    scores[j, r[:, col]] = -np.inf
                else:
                    scores[spellings[None, :] == r[:, col, None]] = -np.inf
            best = scores.argmax(axis=1)
            hits[s:s + batch_size] = (best if spellings is None else spellings[best]) == r[:, 3]
        return hits

    def evaluate_analogies(self, path: PathLike, restrict_vocab: Optional[int] = 30000, method: str = "3cosadd",
                           case_insensitive: bool = True, batch_size: int = 1024) -> Dict[str, Any]:
        """Accuracy on analogy questions in the Google ``questions-words.txt`` format
        (``: section`` lines, then ``a b c d``), with the usual protocol: only the first
        `restrict_vocab` words are searched, questions using any other word are skipped (counted
        as out-of-vocabulary), a, b and c are excluded from the answers.

        Parameters
        ----------
        path : str or os.PathLike
            The analogy file (UTF-8).
        restrict_vocab : int, optional
            Search only the first words; None: all of them.
        method : {"3cosadd", "3cosmul"}
            The score (see analogy).
        case_insensitive : bool
            Compare lower-cased words (a word's most frequent spelling stands for it).
        batch_size : int
            Questions scored per matrix product.

        Returns
        -------
        dict
            {"sections": [{"section", "correct", "total", "accuracy"}], "total": {...},
            "questions", "oov_questions", "oov_rate", "accuracy_all" (correct / all questions),
            "restrict_vocab", "method"}.

        Raises
        ------
        ValueError
            An unknown method, or a line that is not 4 words.
        """
        if method not in ("3cosadd", "3cosmul"):
            raise ValueError(f"evaluate_analogies: method must be '3cosadd' or '3cosmul', got {method!r}")
        limit = self._limit(restrict_vocab)
        fold = str.lower if case_insensitive else str
        sections, questions = self._analogy_sections(path, self._fold_index(limit, case_insensitive), fold, True)
        out, correct_all, total_all = [], 0, 0
        for sec in sections:
            rows = [r for r in sec["rows"] if r is not None]
            correct = int(self._analogy_hits(rows, limit, method, batch_size).sum())
            total = len(rows)
            out.append({"section": sec["section"], "correct": correct, "total": total,
                        "accuracy": correct / total if total else 0.0})
            correct_all += correct
            total_all += total
        return {
            "sections": out,
            "total": {"correct": correct_all, "total": total_all,
                      "accuracy": correct_all / total_all if total_all else 0.0},
            "questions": questions,
            "oov_questions": questions - total_all,
            "oov_rate": (questions - total_all) / questions if questions else 0.0,
            "accuracy_all": correct_all / questions if questions else 0.0,
            "restrict_vocab": limit,
            "method": method,
        }

    def evaluate_word_analogies(self, analogies: PathLike, restrict_vocab: int = 300000, case_insensitive: bool = True,
                                dummy4unknown: bool = False, similarity_function: str = "most_similar",
                                batch_size: int = 1024) -> Tuple[float, List[dict]]:
        """gensim's evaluate_word_analogies: the evaluate_analogies protocol with gensim's return
        value and case handling (words compared upper-cased; every spelling of a, b, c excluded).

        Parameters
        ----------
        analogies : str or os.PathLike
            A ``questions-words.txt``-style file; lines that are not 4 words are skipped.
        restrict_vocab : int
            Only the first words are searched; questions using others are out-of-vocabulary.
        case_insensitive : bool
            Compare upper-cased words, each taking its most frequent spelling's vector.
        dummy4unknown : bool
            Count out-of-vocabulary questions as incorrect instead of skipping them.
        similarity_function : {"most_similar", "most_similar_cosmul"}
            3CosAdd, or 3CosMul with most_similar_cosmul's 1e-6 (gensim accepts the name and
            always uses most_similar).

        Returns
        -------
        score : float
            Accuracy over all the questions evaluated (0.0 when none).
        sections : list of dict
            Per section ``{"section", "correct": [(a, b, c, d)], "incorrect": [...]}``, then
            ``"Total accuracy"`` over all of them.

        Raises
        ------
        ValueError
            An unknown similarity_function.
        OSError
            The file cannot be read.
        """
        methods = {"most_similar": ("3cosadd", 1e-3), "most_similar_cosmul": ("3cosmul", 1e-6)}
        if similarity_function not in methods:
            raise ValueError(f"evaluate_word_analogies: similarity_function must be 'most_similar' or "
                             f"'most_similar_cosmul', got {similarity_function!r}")
        method, eps = methods[similarity_function]
        limit = self._limit(restrict_vocab)
        fold = str.upper if case_insensitive else str
        table = self._fold_index(limit, case_insensitive, str.upper)
        spellings = np.array([table[fold(k)] for k in self.index_to_key[:limit]], dtype=np.int64)
        sections, questions = self._analogy_sections(analogies, table, fold, False)
        out, oov = [], 0
        for sec in sections:
            known = [i for i, r in enumerate(sec["rows"]) if r is not None]
            hits = self._analogy_hits([sec["rows"][i] for i in known], limit, method, batch_size, spellings, eps)
            right = set(np.asarray(known)[hits].tolist()) if known else set()
            oov += len(sec["rows"]) - len(known)
            rows = range(len(sec["rows"])) if dummy4unknown else known
            out.append({"section": sec["section"], "correct": [sec["words"][i] for i in rows if i in right],
                        "incorrect": [sec["words"][i] for i in rows if i not in right]})
        total = {"section": "Total accuracy", "correct": [q for s in out for q in s["correct"]],
                 "incorrect": [q for s in out for q in s["incorrect"]]}
        out.append(total)
        n_eval = len(total["correct"]) + len(total["incorrect"])
        logger.info("analogies: %d of %d questions have out-of-vocabulary words", oov, questions)
        return (len(total["correct"]) / n_eval if n_eval else 0.0), out

    def _pair_scores(self, path, table, fold, delimiter, strict, dummy4unknown=False):
        """(human scores, model cosines, pairs read, pairs with an unknown word) of a word-pair file
        (``w1 w2 score`` per line, ``#`` comments). delimiter None: a tab if the line has one,
        else whitespace. strict: a malformed line is a ValueError; otherwise skipped (gensim's).
        dummy4unknown: a pair with an unknown word scores 0 instead of being left out."""
        n = self.get_normed_vectors()
        human, model, total, oov = [], [], 0, 0
        with open(path, encoding="utf-8") as f:
            for lineno, line in enumerate(f, 1):
                line = line.strip()
                if not line or line.startswith("#"):
                    continue
                if delimiter is None:
                    parts = line.split("\t") if "\t" in line else line.split()
                else:
                    parts = line.split(delimiter)
                try:
                    if len(parts) < 3 or (not strict and len(parts) != 3):
                        raise ValueError(f"{path}:{lineno}: expected 'word1 word2 score', got {line!r}")
                    try:
                        score = float(parts[2])
                    except ValueError:
                        raise ValueError(f"{path}:{lineno}: the score {parts[2]!r} is not a number") from None
                except ValueError:
                    if strict:
                        raise
                    logger.info("skipping invalid line %d of %s", lineno, path)
                    continue
                w1, w2 = fold(parts[0].strip()), fold(parts[1].strip())
                total += 1
                i1, i2 = table.get(w1), table.get(w2)
                if i1 is None or i2 is None:
                    oov += 1
                    if dummy4unknown:
                        human.append(score)
                        model.append(0.0)
                    continue
                human.append(score)
                model.append(float(n[i1] @ n[i2]))
        return human, model, total, oov

    def evaluate_similarity(self, path: PathLike, case_insensitive: bool = True,
                            restrict_vocab: Optional[int] = None) -> Dict[str, float]:
        """Spearman rho between human scores and cosine similarities on word pairs (``w1 w2 score``
        per line, tab- or space-separated, ``#`` comments), e.g. WordSim-353. Pairs with an
        unknown word are skipped and counted.

        Parameters
        ----------
        path : str or os.PathLike
            The pairs file (UTF-8).
        case_insensitive : bool
            Compare lower-cased words.
        restrict_vocab : int, optional
            Use only the first words; None: all of them.

        Returns
        -------
        dict
            {"spearman", "pearson", "pairs", "oov", "oov_rate"}; the correlations are NaN with
            fewer than 2 pairs.
        """
        limit = self._limit(restrict_vocab)
        fold = str.lower if case_insensitive else str
        human, model, total, oov = self._pair_scores(path, self._fold_index(limit, case_insensitive), fold, None, True)
        pearson = float(np.corrcoef(human, model)[0, 1]) if len(human) > 1 else float("nan")
        return {"spearman": spearman(human, model) if len(human) > 1 else float("nan"), "pearson": pearson,
                "pairs": len(human), "oov": oov, "oov_rate": oov / total if total else 0.0}

    def evaluate_word_pairs(self, pairs: PathLike, delimiter: str = "\t", encoding: str = "utf8",
                            restrict_vocab: int = 300000,
                            case_insensitive: bool = True,
                            dummy4unknown: bool = False) -> Tuple["CorrelationResult", "CorrelationResult", float]:
        """gensim's evaluate_word_pairs: correlation of the model's cosines with human similarity
        scores (the evaluate_similarity protocol, words compared upper-cased).

        Parameters
        ----------
        pairs : str or os.PathLike
            ``w1<delimiter>w2<delimiter>score`` per line, ``#`` comments; other lines are skipped.
        delimiter : str
            The field separator (a tab by default).
        encoding : str
            Only UTF-8 (or its aliases) is read.
        restrict_vocab : int
            Words beyond the first `restrict_vocab` count as unknown.
        case_insensitive : bool
            Compare upper-cased words, each taking its most frequent spelling's vector.
        dummy4unknown : bool
            Pairs with an unknown word get similarity 0 instead of being left out.

        Returns
        -------
        pearson : CorrelationResult
            (statistic, two-sided p-value), as scipy's pearsonr.
        spearman : CorrelationResult
            (statistic, two-sided p-value), as scipy's spearmanr.
        oov_ratio : float
            Percentage of pairs with an unknown word (of the pairs used when dummy4unknown).

        Raises
        ------
        ValueError
            No pair could be scored, or an encoding other than UTF-8.
        """
        if encoding.lower().replace("-", "").replace("_", "") not in ("utf8", "utf8sig"):
            raise ValueError(f"evaluate_word_pairs: only UTF-8 files are read, got encoding={encoding!r}")
        limit = self._limit(restrict_vocab)
        fold = str.upper if case_insensitive else str
        human, model, _, oov = self._pair_scores(pairs, self._fold_index(limit, case_insensitive, str.upper), fold,
                                                  delimiter, False, dummy4unknown)
        if not human:
            raise ValueError(f"evaluate_word_pairs: no valid similarity judgement in {pairs}: a malformed file, "
                             "or every pair has an unknown word")
        n = len(human)
        r_p = float(np.corrcoef(human, model)[0, 1]) if n > 1 else float("nan")
        r_s = spearman(human, model) if n > 1 else float("nan")
        oov_ratio = 100.0 * oov / n if dummy4unknown else 100.0 * oov / (n + oov)
        logger.info("word pairs: pearson %.4f, spearman %.4f, %.1f%% with unknown words", r_p, r_s, oov_ratio)
        return (CorrelationResult(r_p, correlation_pvalue(r_p, n)), CorrelationResult(r_s, correlation_pvalue(r_s, n)),
                oov_ratio)
