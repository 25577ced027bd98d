"""PPMI (fastnlp.embeddings.ppmi) against a dense NumPy transcription of Levy, Goldberg & Dagan
(2015)'s formula (rtol 1e-6: float64 computed, float32 stored), the randomized SVD against
np.linalg.svd on matrices with a clear spectral gap (rtol 1e-3 on the singular values), the
eigenvalue weighting and W + C options, and `fastnlp embed ppmi-svd` end to end."""

import json
import os

import numpy as np
import pytest

from conftest import shared_data
from fastnlp.cli import main
from fastnlp.embeddings import CSRMatrix, cooccurrence_matrix, ppmi, ppmi_svd, ppmi_svd_from_counts, randomized_svd
from fastnlp.keyedvectors import KeyedVectors, load_vectors


def csr_of(dense):
    dense = np.asarray(dense, np.float32)
    rows, cols = np.nonzero(dense)
    indptr = np.concatenate([[0], np.cumsum((dense != 0).sum(1))]).astype(np.int64)
    return CSRMatrix(indptr, cols.astype(np.int32), dense[rows, cols], dense.shape)


def dense_ppmi(M, alpha, neg):
    M = M.astype(np.float64)
    pw = M.sum(1, keepdims=True) / M.sum()
    ca = M.sum(0) ** alpha
    pc = ca / ca.sum()
    with np.errstate(divide="ignore"):
        pmi = np.log(M / M.sum()) - np.log(pw) - np.log(pc)[None, :] - np.log(neg)
    return np.where((M > 0) & (pmi > 0), pmi, 0.0)


@pytest.mark.parametrize("alpha, neg", [(1.0, 1.0), (0.75, 1.0), (0.75, 5.0)])
def test_ppmi_matches_dense_formula(rng, alpha, neg):
    M = np.where(rng.random((13, 11)) < 0.5, rng.integers(1, 20, (13, 11)), 0)
    got = ppmi(csr_of(M), alpha=alpha, neg=neg)
    want = dense_ppmi(M, alpha, neg)
    np.testing.assert_allclose(got.toarray(), want, rtol=1e-6, atol=1e-7)
    assert np.all(got.data > 0) and got.nnz == np.count_nonzero(want)


@pytest.mark.parametrize("kwargs, message", [({"alpha": 0.0}, "alpha must be in \\(0, 1\\]"),
                                             ({"neg": 0.5}, "neg must be >= 1")])
def test_ppmi_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        ppmi(csr_of(np.eye(3)), **kwargs)


@pytest.mark.parametrize("as_csr", [True, False])
def test_randomized_svd_matches_numpy(rng, as_csr):
    # Rank-8 signal with decaying singular values plus small noise: the top 5 are well separated.
    R, C, r = 60, 45, 8
    U0, _ = np.linalg.qr(rng.standard_normal((R, r)))
    V0, _ = np.linalg.qr(rng.standard_normal((C, r)))
    A = (U0 * (2.0 ** -np.arange(r) * 10)) @ V0.T + 1e-4 * rng.standard_normal((R, C))
    A = A.astype(np.float32)
    U, s, Vt = randomized_svd(csr_of(A) if as_csr else A, 5, seed=3)
    s_ref = np.linalg.svd(A.astype(np.float64), compute_uv=False)[:5]
    np.testing.assert_allclose(s, s_ref, rtol=1e-3)
    np.testing.assert_allclose(U.T @ U, np.eye(5), atol=1e-4)
    np.testing.assert_allclose((U * s) @ Vt, A, atol=0.1)  # the rank-5 approximation: error ~ s_6 = 0.3
    assert np.linalg.norm((U * s) @ Vt - A, 2) < 1.1 * np.linalg.svd(A, compute_uv=False)[5]


def test_randomized_svd_bad_k():
    with pytest.raises(ValueError, match="k must be in \\[1, 3\\], got 4"):
        randomized_svd(np.eye(3, dtype=np.float32), 4)


@pytest.fixture(scope="module")
def small_counts(tmp_path_factory):
    path = tmp_path_factory.mktemp("ppmi") / "corpus.txt"
    with open(shared_data("corpus", "en-corpus.txt"), encoding="utf-8") as f:
        path.write_text("".join(next(f) for _ in range(300)), encoding="utf-8")
    return str(path), cooccurrence_matrix(str(path), window=2, min_count=5, progress=False)


def test_eigenvalue_weighting_and_context(small_counts):
    _, cooc = small_counts
    d = 20
    P = ppmi(cooc)
    U, s, Vt = randomized_svd(P, d, seed=0)
    for eig in (0.0, 0.5, 1.0):
        kv = ppmi_svd_from_counts(cooc, dim=d, eig=eig, progress=False)
        assert isinstance(kv, KeyedVectors) and kv.vectors.shape == (len(cooc.words), d)
        assert kv.index_to_key == cooc.words
        np.testing.assert_allclose(kv.vectors, (U * s ** eig).astype(np.float32), rtol=1e-5, atol=1e-6)
    wc = ppmi_svd_from_counts(cooc, dim=d, eig=0.5, add_context=True, progress=False)
    W, Cx = U * s ** 0.5, Vt.T * s ** 0.5
    unit = lambda X: X / np.linalg.norm(X, axis=1, keepdims=True)  # noqa: E731
    np.testing.assert_allclose(wc.vectors, unit(W) + unit(Cx), rtol=1e-4, atol=1e-5)


def test_arpack_agrees_with_randomized(small_counts):
    pytest.importorskip("scipy.sparse.linalg")
    _, cooc = small_counts
    a = ppmi_svd_from_counts(cooc, dim=10, eig=1.0, svd="randomized", n_iter=8, progress=False)
    b = ppmi_svd_from_counts(cooc, dim=10, eig=1.0, svd="arpack", progress=False)
    # With eig = 1 a column's norm is its singular value, whatever the signs. The randomized ones (8
    # power iterations) are those of a projection of the matrix, so never above ARPACK's; where the
    # spectrum has a gap (the first 3 here: 94, 40, 37, then a flat tail from 35) they agree closely.
    sa, sb = np.linalg.norm(a.vectors, axis=0), np.linalg.norm(b.vectors, axis=0)
    assert np.all(sa <= sb * (1 + 1e-5))
    np.testing.assert_allclose(sa[:3], sb[:3], rtol=1e-4)
    np.testing.assert_allclose(sa, sb, rtol=1e-2)


@pytest.mark.parametrize("kwargs, message", [({"dim": 0}, "dim must be an int in"), ({"eig": 2.0}, "eig must be"),
                                             ({"svd": "lanczos"}, "svd must be one of")])
def test_ppmi_svd_bad_arguments(small_counts, kwargs, message):
    _, cooc = small_counts
    with pytest.raises(ValueError, match=message):
        ppmi_svd_from_counts(cooc, progress=False, **{"dim": 5, **kwargs})


def test_cli_ppmi_svd_writes_vectors_word2vec_eval_scores(small_counts, tmp_path, capsys):
    corpus, _ = small_counts
    want = ppmi_svd(corpus, dim=16, progress=False)
    for fmt in ("text", "binary"):
        out = str(tmp_path / f"vec.{fmt}")
        assert main(["embed", "ppmi-svd", corpus, "-o", out, "--dim", "16", "--format", fmt, "--no-progress"]) == 0
        report = json.loads(capsys.readouterr().out)
        assert report["dim"] == 16 and report["format"] == fmt
        kv = load_vectors(out)
        assert kv.index_to_key == want.index_to_key
        np.testing.assert_allclose(kv.vectors, want.vectors, rtol=1e-5, atol=1e-6)
    sim = tmp_path / "sim.txt"
    sim.write_text("the of 5\nthe and 3\nof and 7\n")
    assert main(["word2vec", "eval", out, "--similarity", str(sim)]) == 0
    assert json.loads(capsys.readouterr().out)["similarity"]["pairs"] == 3


def test_cli_bad_input(tmp_path, capsys):
    assert main(["embed", "ppmi-svd", str(tmp_path / "missing.txt"), "-o", str(tmp_path / "v")]) == 1
    assert "is not a file" in capsys.readouterr().err
    assert main(["embed", "cw", "x", "-o", "y", "--dim", "0"]) == 1
    assert "--dim must be >= 1, got 0" in capsys.readouterr().err
    assert not os.path.exists(tmp_path / "v")


def test_cli_brown_without_the_brown_module(tmp_path, capsys):
    import importlib.util

    if importlib.util.find_spec("fastnlp.embeddings.brown") is not None:
        pytest.skip("fastnlp.embeddings.brown is built here: its own tests cover `fastnlp embed brown`")
    corpus = tmp_path / "c.txt"
    corpus.write_text("a b c\n")
    assert main(["embed", "brown", str(corpus), "-o", str(tmp_path / "paths.txt")]) == 2
    assert "Brown clustering is not part of this fastnlp build" in capsys.readouterr().err
