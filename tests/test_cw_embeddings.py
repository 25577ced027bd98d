"""Collobert & Weston ranking embeddings (fastnlp.embeddings.CWEmbeddings): one step with given
windows and corruptions against a NumPy transcription (float64 reference; float32 kernels, atol
1e-6 + rtol 1e-5 * |ref| on the updated parameters), that transcription against central differences
(float64, rtol 1e-6), the corruption sampler's distribution, the window padding, seeding and a
falling ranking loss on a slice of the shared corpus."""

import numpy as np
import pytest

from conftest import shared_data
from fastnlp import _C
from fastnlp.embeddings import CWEmbeddings, cw_embeddings
from fastnlp.embeddings.cooccurrence import build_vocab


def numpy_forward(p, windows, corrupt, half):
    """(both windows (2B, n), x, pre-activations a, h, margins (B,)) in float64: hinge on
    f(real) - f(corrupted)."""
    B = windows.shape[0]
    bad = windows.copy()
    bad[:, half] = corrupt
    both = np.concatenate([windows, bad])
    x = p["E"][both].reshape(2 * B, -1)
    a = x @ p["W1"].T + p["b1"]
    h = np.clip(a, -1, 1)
    f = (h @ p["w2"].T + p["b2"])[:, 0]
    return both, x, a, h, 1 - f[:B] + f[B:]


def numpy_grads(p, windows, corrupt, half):
    """(gradients of the mean hinge loss by parameter, the activations a, the margins) in float64."""
    p = {k: v.astype(np.float64) for k, v in p.items()}
    B, n = windows.shape
    both, x, a, h, margin = numpy_forward(p, windows, corrupt, half)
    active = (margin > 0) / B
    df = np.concatenate([-active, active])[:, None]
    g = {"w2": df.T @ h, "b2": df.sum(0)}
    dh = (df @ p["w2"]) * (np.abs(h) < 1)
    g["W1"], g["b1"] = dh.T @ x, dh.sum(0)
    dx = (dh @ p["W1"]).reshape(2 * B, n, -1)
    g["E"] = np.zeros_like(p["E"])
    np.add.at(g["E"], both, dx)
    return g, a, margin


def numpy_step(p, acc, windows, corrupt, half, lr, optimizer):
    """The step in float64 from parameters p and AdaGrad accumulators acc: hinge on
    f(real) - f(corrupted), mean over the batch."""
    g, a, margin = numpy_grads(p, windows, corrupt, half)
    p = {k: v.astype(np.float64) for k, v in p.items()}
    acc = {k: v.astype(np.float64) for k, v in acc.items()}
    for k in p:
        if optimizer == "adagrad":
            touched = np.any(g[k] != 0, axis=-1) if k == "E" else slice(None)
            acc[k][touched] += g[k][touched] ** 2
            p[k][touched] -= lr * g[k][touched] / (np.sqrt(acc[k][touched]) + 1e-8)
        else:
            p[k] -= lr * g[k]
    # How far the step is from a kink (hardtanh's corners, the hinge's): float32 rounding can put a
    # value on the other side of one when it is closer than this.
    kink = min(np.abs(np.abs(a) - 1).min(), np.abs(margin).min())
    return p, float(np.maximum(margin, 0).mean()), kink


@pytest.mark.parametrize("optimizer", ["adagrad", "sgd"])
@pytest.mark.parametrize("B", [1, 7, 33])
def test_one_step_matches_numpy(rng, optimizer, B):
    words = [f"w{i}" for i in range(23)]
    m = CWEmbeddings(words, dim=9, half_window=2, hidden=15, lr=0.1, optimizer=optimizer, seed=5)
    # Larger weights than the init so that the margins and the hardtanh's flat parts are both hit.
    m.W1 *= 40
    m.E *= 10
    before = {k: getattr(m, k).copy() for k in ("E", "W1", "b1", "w2", "b2")}
    # A non-zero AdaGrad state: from zero, AdaGrad's first step is lr * g / (|g| + 1e-8), which
    # turns float32 rounding left where the real and corrupted windows' gradients cancel (their
    # shared context words) into steps of ~lr; from acc > 0 the step is smooth in g.
    for k, a in m._acc.items():
        a[...] = rng.uniform(0.5, 1.5, a.shape)
    acc = {k: a.copy() for k, a in m._acc.items()}
    for _ in range(100):  # a batch whose values all stay 1e-3 away from the kinks
        windows = rng.integers(0, 24, (B, 5)).astype(np.int32)  # 23 = the padding row
        windows[:, 2] = rng.integers(0, 23, B)
        corrupt = rng.integers(0, 23, B).astype(np.int32)
        want, want_loss, kink = numpy_step(before, acc, windows, corrupt, 2, 0.1, optimizer)
        if kink > 1e-3:
            break
    assert kink > 1e-3
    loss = m.step(windows, corrupt)
    assert loss == pytest.approx(want_loss, rel=1e-5, abs=1e-6)
    for k, v in want.items():
        np.testing.assert_allclose(getattr(m, k), v, rtol=1e-5, atol=1e-6, err_msg=k)


def test_windows_are_padded_at_sentence_edges():
    m = CWEmbeddings(["a", "b", "c", "d"], dim=2, half_window=2, hidden=2)
    ids = np.array([0, 1, 2, 3, 1], np.int32)
    offsets = np.array([0, 3, 3, 5], np.int64)  # sentences [0 1 2], [], [3 1]
    w = m.windows_at(ids, offsets, np.array([0, 1, 2, 3, 4]))
    P = m.pad_id
    assert w.tolist() == [[P, P, 0, 1, 2], [P, 0, 1, 2, P], [0, 1, 2, P, P], [P, P, 3, 1, P], [P, 3, 1, P, P]]


def test_seeded_training_is_reproducible_and_the_loss_falls(tmp_path):
    path = tmp_path / "corpus.txt"
    with open(shared_data("corpus", "en-corpus.txt"), encoding="utf-8") as f:
        path.write_text("".join(next(f) for _ in range(40)), encoding="utf-8")
    words, counts, _ = build_vocab(str(path), 3)
    ids, offsets, _ = _C.corpus_ids(str(path), _C.Vocab(words, counts), -1)
    # C&W's uniform corruption: the loss falls fast (on 93 words, unigram-drawn corruptions are
    # mostly the same few words as the real centres, and its loss stays near 1 at this size).
    for corruption in ("uniform", "unigram"):
        runs = []
        for _ in range(2):
            m = CWEmbeddings(words, dim=16, hidden=16, lr=0.05, seed=11, counts=counts, corruption=corruption)
            first = m.train(ids, offsets, epochs=0.05, batch_size=64, progress=False)["loss"]
            last = m.train(ids, offsets, epochs=2, batch_size=64, progress=False)["loss"]
            runs.append(m.E.copy())
        if corruption == "uniform":
            assert last < 0.7 * first
        np.testing.assert_array_equal(runs[0], runs[1])
    kv = cw_embeddings(str(path), dim=8, hidden=8, min_count=3, epochs=0.1, progress=False)
    assert kv.index_to_key == words and kv.vectors.shape == (len(words), 8)
    # the command line passes --corruption on: the same vectors as the function with the same seed
    from fastnlp.cli import main
    from fastnlp.keyedvectors import load_vectors

    out = tmp_path / "cw.txt"
    assert main(["embed", "cw", str(path), "-o", str(out), "--dim", "8", "--min-count", "3", "--epochs", "0.1",
                 "--corruption", "uniform", "--format", "text", "--no-progress"]) == 0
    want = cw_embeddings(str(path), dim=8, min_count=3, epochs=0.1, corruption="uniform", progress=False)
    np.testing.assert_allclose(load_vectors(str(out)).vectors, want.vectors, rtol=1e-5, atol=1e-6)
    assert not np.allclose(want.vectors, cw_embeddings(str(path), dim=8, min_count=3, epochs=0.1,
                                                       progress=False).vectors)


@pytest.mark.parametrize("kwargs, message", [({"dim": 0}, "dim must be an int >= 1"),
                                             ({"optimizer": "adam"}, "optimizer must be one of"),
                                             ({"lr": 0.0}, "lr must be > 0")])
def test_bad_model_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        CWEmbeddings(["a", "b"], **kwargs)


def test_bad_step_input():
    m = CWEmbeddings(["a", "b", "c"], dim=2, half_window=1, hidden=2)
    with pytest.raises(ValueError, match="windows must have shape \\(B, 3\\)"):
        m.step(np.zeros((2, 5), np.int32), np.zeros(2, np.int32))
    with pytest.raises(ValueError, match="corrupt ids must be in \\[0, 3\\)"):
        m.step(np.zeros((2, 3), np.int32), np.array([0, 3], np.int32))
    with pytest.raises(ValueError, match="windows ids must be in \\[0, 3\\]"):
        m.step(np.full((2, 3), 4, np.int32), np.zeros(2, np.int32))


def test_numpy_gradients_match_central_differences(rng):
    """The transcription the step is held to is itself the loss's gradient: float64 central
    differences (eps 1e-6) on every parameter entry, at a point 1e-3 away from every kink."""
    words = [f"w{i}" for i in range(11)]
    m = CWEmbeddings(words, dim=3, half_window=1, hidden=7, seed=2, corruption="uniform")
    p = {k: getattr(m, k).astype(np.float64) for k in ("E", "W1", "b1", "w2", "b2")}
    p["E"] *= 60
    p["W1"] *= 3
    for _ in range(200):
        windows = rng.integers(0, 12, (5, 3)).astype(np.int32)
        windows[:, 1] = rng.integers(0, 11, 5)
        corrupt = rng.integers(0, 11, 5).astype(np.int32)
        g, a, margin = numpy_grads(p, windows, corrupt, 1)
        if min(np.abs(np.abs(a) - 1).min(), np.abs(margin).min()) > 1e-3 and (margin > 0).any():
            break
    assert (margin > 0).any() and (np.abs(a) < 1).any()
    eps = 1e-6
    for k, v in p.items():
        num = np.zeros_like(v)
        for i in np.ndindex(v.shape):
            old = v[i]
            v[i] = old + eps
            up = np.maximum(numpy_forward(p, windows, corrupt, 1)[-1], 0).mean()
            v[i] = old - eps
            down = np.maximum(numpy_forward(p, windows, corrupt, 1)[-1], 0).mean()
            v[i] = old
            num[i] = (up - down) / (2 * eps)
        np.testing.assert_allclose(g[k], num, rtol=1e-6, atol=1e-8, err_msg=k)


def test_corruptions_follow_the_unigram_distribution_to_the_075():
    counts = np.array([1000, 300, 50, 10, 1, 1, 7], np.int64)
    m = CWEmbeddings([f"w{i}" for i in range(7)], dim=2, hidden=2, seed=3, counts=counts)
    draws = m.sample_corruptions(200_000)
    assert draws.dtype == np.int32 and draws.min() >= 0 and draws.max() < 7
    want = counts ** 0.75 / (counts ** 0.75).sum()
    freq = np.bincount(draws, minlength=7) / len(draws)
    # 5 binomial standard deviations of each frequency (at most 0.0056 here).
    np.testing.assert_array_less(np.abs(freq - want), 5 * np.sqrt(want * (1 - want) / len(draws)))
    again = CWEmbeddings([f"w{i}" for i in range(7)], dim=2, hidden=2, seed=3, counts=counts)
    np.testing.assert_array_equal(again.sample_corruptions(200_000), draws)
    uniform = CWEmbeddings([f"w{i}" for i in range(7)], dim=2, hidden=2, seed=3, counts=counts,
                           corruption="uniform").sample_corruptions(70_000)
    np.testing.assert_array_less(np.abs(np.bincount(uniform, minlength=7) / 70_000 - 1 / 7), 0.01)


def test_unigram_corruption_needs_counts():
    with pytest.raises(ValueError, match="corruption must be one of"):
        CWEmbeddings(["a", "b"], corruption="zipf")
    with pytest.raises(ValueError, match=r"counts must hold one positive count per word \(3,\), got shape \(2,\)"):
        CWEmbeddings(["a", "b", "c"], counts=[1, 2])
    with pytest.raises(ValueError, match="with a count <= 0"):
        CWEmbeddings(["a", "b", "c"], counts=[1, 0, 2])
    with pytest.raises(ValueError, match="corruption='unigram' draws by the word counts: pass counts"):
        CWEmbeddings(["a", "b", "c"]).sample_corruptions(4)
