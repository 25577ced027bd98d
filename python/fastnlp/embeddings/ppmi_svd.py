"""LSA-style word vectors from co-occurrence counts (Levy, Goldberg & Dagan 2015): shifted positive
PMI with context-distribution smoothing, then a truncated SVD (randomized, Halko et al. 2011, on
fastnlp's CSR product or SciPy's; or SciPy's ARPACK svds) with eigenvalue weighting, optionally W + C."""

from typing import Optional, Tuple, Union

import numpy as np

from .. import ops
from ..keyedvectors import KeyedVectors
from ._progress import progress_bar
from .cooccurrence import Cooccurrences, CSRMatrix, cooccurrence_matrix

SVD_METHODS = ("randomized", "arpack")


def _row_ids(m: CSRMatrix) -> np.ndarray:
    return np.repeat(np.arange(m.shape[0], dtype=np.int64), np.diff(m.indptr))


def ppmi(cooc: Union[Cooccurrences, CSRMatrix], alpha: float = 0.75, neg: float = 1.0) -> CSRMatrix:
    """Shifted positive PMI of a co-occurrence matrix M (words x contexts):

    ``max(log(M[w, c] * sum_c' Mc'^alpha / (M[w, :].sum() * Mc^alpha)) - log(neg), 0)`` with
    Mc = M[:, c].sum(), i.e. PMI against the smoothed context distribution P_alpha(c).

    Parameters
    ----------
    cooc : Cooccurrences or CSRMatrix
        The counts.
    alpha : float
        Context-distribution smoothing exponent, in (0, 1] (1: plain PMI; 0.75 as word2vec's noise).
    neg : float
        The shift k >= 1: log(k) is subtracted (k = 1: no shift).

    Returns
    -------
    CSRMatrix
        The positive entries only (float32, same shape), computed in float64.

    Raises
    ------
    ValueError
        alpha outside (0, 1] or neg < 1.
    """
    m = cooc.matrix if isinstance(cooc, Cooccurrences) else cooc
    if not isinstance(m, CSRMatrix):
        raise TypeError(f"ppmi: cooc must be Cooccurrences or CSRMatrix, got {type(cooc).__name__}")
    if not 0.0 < alpha <= 1.0:
        raise ValueError(f"ppmi: alpha must be in (0, 1], got {alpha}")
    if not neg >= 1.0:
        raise ValueError(f"ppmi: neg must be >= 1, got {neg}")
    data = m.data.astype(np.float64)
    rows = _row_ids(m)
    row_sum = np.bincount(rows, weights=data, minlength=m.shape[0])
    col_sum = np.bincount(m.indices, weights=data, minlength=m.shape[1])
    col_alpha = col_sum ** alpha
    log_pc = np.log(col_alpha, where=col_alpha > 0, out=np.full_like(col_alpha, -np.inf)) - np.log(col_alpha.sum())
    pmi = np.log(data) - np.log(row_sum[rows]) - log_pc[m.indices] - np.log(neg)
    keep = pmi > 0
    counts = np.bincount(rows[keep], minlength=m.shape[0])
    indptr = np.zeros(m.shape[0] + 1, dtype=np.int64)
    np.cumsum(counts, out=indptr[1:])
    return CSRMatrix(indptr, m.indices[keep], pmi[keep].astype(np.float32), m.shape)


def _products(A):
    """(A @ X, A.T @ X) as functions, for a CSRMatrix, a SciPy sparse matrix or a dense array."""
    if isinstance(A, CSRMatrix):
        At = A.transpose()
        return A.matmul, At.matmul
    return (lambda X: np.asarray(A @ X)), (lambda X: np.asarray(A.T @ X))


def randomized_svd(A: Union[CSRMatrix, np.ndarray, "scipy.sparse.spmatrix"], k: int, n_oversamples: int = 10,
                   n_iter: int = 4, seed: int = 0,
                   progress: bool = False) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The k largest singular triplets of A by randomized range finding with power iterations
    (Halko, Martinsson & Tropp 2011, Alg. 4.4; each product re-orthonormalized, by CholeskyQR2).

    Parameters
    ----------
    A : CSRMatrix, scipy.sparse matrix or ndarray (R, C)
        The matrix; a CSRMatrix is multiplied by fastnlp's C++ kernel (no SciPy needed).
    k : int
        Number of singular values, 1 <= k <= min(R, C).
    n_oversamples : int
        Extra random directions (>= 0).
    n_iter : int
        Power iterations (>= 0); more sharpen the spectrum for slowly decaying ones.
    seed : int
        Seed of the Gaussian test matrix.
    progress : bool
        A tqdm bar over the sparse products.

    Returns
    -------
    U (R, k), s (k,) descending, Vt (k, C)

    Raises
    ------
    ValueError
        k out of range or negative n_oversamples / n_iter.
    """
    R, C = A.shape
    if not 1 <= k <= min(R, C):
        raise ValueError(f"randomized_svd: k must be in [1, {min(R, C)}], got {k}")
    if n_oversamples < 0 or n_iter < 0:
        raise ValueError(f"randomized_svd: n_oversamples and n_iter must be >= 0, got {n_oversamples}, {n_iter}")
    dtype = np.float64 if getattr(A, "dtype", None) == np.float64 or (
        isinstance(A, CSRMatrix) and A.data.dtype == np.float64) else np.float32
    mm, mmT = _products(A)
    L = min(k + n_oversamples, min(R, C))
    rng = np.random.default_rng(seed)
    bar = progress_bar(2 * n_iter + 2, "randomized SVD", progress, unit="product")
    try:
        Q = _orthonormalize(mm(rng.standard_normal((C, L)).astype(dtype)))
        bar.update()
        for _ in range(n_iter):
            Z = _orthonormalize(mmT(Q.astype(dtype)))
            bar.update()
            Q = _orthonormalize(mm(Z.astype(dtype)))
            bar.update()
        Bt = mmT(Q.astype(dtype)).astype(np.float64)  # B = Q^T A (L, C), as its transpose
        bar.update()
    finally:
        bar.close()
    # B's SVD from the L x L eigenproblem B B^T = Ub S^2 Ub^T, then V = B^T Ub / S: in float64 the
    # squaring costs nothing at the top-k singular values that are kept.
    lam, Ub = np.linalg.eigh(_gram(Bt))
    order = np.argsort(lam)[::-1][:k]
    s = np.sqrt(np.maximum(lam[order], 0.0))
    Ub = Ub[:, order]
    V = _right_mul(Bt, Ub) / np.where(s > 0, s, 1.0)
    return _right_mul(Q, Ub), s, np.ascontiguousarray(V.T)


# The dense products of the SVD go through fastnlp's BLAS (its own thread pool, sized by
# fastnlp.set_num_threads) and only L x L work through NumPy's LAPACK: on a loaded 2-core machine
# NumPy's multi-threaded OpenBLAS took ~0.15 s for a (874, 26) QR that takes 3 ms on one thread.

def _gram(Y: np.ndarray) -> np.ndarray:
    """Y^T Y (L, L) for Y (R, L) float64."""
    Yt = np.ascontiguousarray(Y.T)
    return ops.linear(Yt, Yt)


def _right_mul(Y: np.ndarray, M: np.ndarray) -> np.ndarray:
    """Y (R, L) @ M (L, K) in float64."""
    return ops.linear(np.ascontiguousarray(Y, dtype=np.float64), np.ascontiguousarray(M.T, dtype=np.float64))


def _orthonormalize(Y: np.ndarray) -> np.ndarray:
    """Orthonormal columns spanning Y (R, L): CholeskyQR2 (Fukaya et al. 2014) in float64, i.e. twice
    Y <- Y R^-1 with R^T R = Y^T Y; np.linalg.qr where Y^T Y is not positive definite."""
    Q = np.asarray(Y, dtype=np.float64)
    for _ in range(2):
        try:
            Rt = np.linalg.cholesky(_gram(Q))  # lower: Y^T Y = Rt Rt^T
        except np.linalg.LinAlgError:
            return np.linalg.qr(Q)[0]
        Q = _right_mul(Q, np.linalg.inv(Rt.T))
    return Q


def _unit_rows(X: np.ndarray) -> np.ndarray:
    n = np.linalg.norm(X, axis=1, keepdims=True)
    return X / np.where(n > 0, n, 1.0)


def ppmi_svd_from_counts(cooc: Cooccurrences, dim: int = 100, alpha: float = 0.75, neg: float = 1.0,
                         eig: float = 0.5, add_context: bool = False, svd: str = "randomized",
                         n_iter: int = 4, seed: int = 0, progress: bool = True) -> KeyedVectors:
    """Word vectors from co-occurrence counts: SVD of the shifted PPMI matrix, M = U S V^T,
    W = U_d S_d^eig (and C = V_d S_d^eig).

    Parameters
    ----------
    cooc : Cooccurrences
        Counts from cooccurrence_matrix.
    dim : int
        Vector size d, 1 <= d < V.
    alpha, neg : float
        PPMI's context smoothing and shift (see ppmi).
    eig : float
        Eigenvalue weighting p in [0, 1]: 0 (U only), 0.5 (symmetric, Levy et al.'s best) or 1 (classic LSA).
    add_context : bool
        Return W + C, each row normalized first (as Levy et al.'s hyperwords).
    svd : str
        "randomized" (NumPy + fastnlp's sparse product) or "arpack" (scipy.sparse.linalg.svds; needs SciPy).
    n_iter : int
        Power iterations of the randomized SVD.
    seed : int
        Seed of the randomized SVD (and of ARPACK's start vector).
    progress : bool
        tqdm bars.

    Returns
    -------
    KeyedVectors
        (V, dim) float32 vectors keyed by cooc.words, with their counts.

    Raises
    ------
    ValueError
        A bad argument, named.
    """
    if not isinstance(cooc, Cooccurrences):
        raise TypeError(f"ppmi_svd_from_counts: cooc must be Cooccurrences, got {type(cooc).__name__}")
    V = len(cooc.words)
    if isinstance(dim, bool) or not isinstance(dim, (int, np.integer)) or not 1 <= dim < V:
        raise ValueError(f"ppmi_svd: dim must be an int in [1, {V - 1}] (below the vocabulary size {V}), got {dim}")
    if not 0.0 <= eig <= 1.0:
        raise ValueError(f"ppmi_svd: eig must be in [0, 1], got {eig}")
    if svd not in SVD_METHODS:
        raise ValueError(f"ppmi_svd: svd must be one of {SVD_METHODS}, got {svd!r}")
    P = ppmi(cooc, alpha=alpha, neg=neg)
    if svd == "randomized":
        U, s, Vt = randomized_svd(P, int(dim), n_iter=n_iter, seed=seed, progress=progress)
    else:
        from scipy.sparse.linalg import svds

        v0 = np.random.default_rng(seed).standard_normal(min(P.shape))
        U, s, Vt = svds(P.to_scipy().astype(np.float64), k=int(dim), v0=v0)
        order = np.argsort(-s)
        U, s, Vt = U[:, order], s[order], Vt[order]
    weight = s ** eig
    W = U * weight
    if add_context:
        W = _unit_rows(W) + _unit_rows(Vt.T * weight)
    return KeyedVectors(cooc.words, W.astype(np.float32), cooc.counts)


def ppmi_svd(corpus_path: str, dim: int = 100, window: int = 2, min_count: int = 5,
             distance_weighting: bool = False, alpha: float = 0.75, neg: float = 1.0, eig: float = 0.5,
             add_context: bool = False, svd: str = "randomized", n_iter: int = 4, seed: int = 0,
             threads: Optional[int] = None, memory_mb: Optional[float] = None, progress: bool = True) -> KeyedVectors:
    """PPMI-SVD word vectors of a corpus file: cooccurrence_matrix, then ppmi_svd_from_counts.

    Parameters
    ----------
    corpus_path : str
        One sentence per line, whitespace tokens.
    dim, alpha, neg, eig, add_context, svd, n_iter, seed, progress
        As ppmi_svd_from_counts (defaults: Levy et al.'s recommendations for SVD: window 2,
        alpha 0.75, no shift, eig 0.5).
    window, min_count, distance_weighting, threads, memory_mb
        As cooccurrence_matrix.

    Returns
    -------
    KeyedVectors

    Raises
    ------
    ValueError
        A bad argument, named; FileNotFoundError for a missing corpus.
    """
    cooc = cooccurrence_matrix(corpus_path, window=window, min_count=min_count, distance_weighting=distance_weighting,
                               threads=threads, memory_mb=memory_mb, progress=progress)
    return ppmi_svd_from_counts(cooc, dim=dim, alpha=alpha, neg=neg, eig=eig, add_context=add_context, svd=svd,
                                n_iter=n_iter, seed=seed, progress=progress)
