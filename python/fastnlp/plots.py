"""Plots users ask for, drawn with matplotlib (the optional ``plots`` extra): a trainer's per-epoch
training curve (loss, and the development score where there is one) and a 2-D map of chosen word
vectors (PCA by NumPy's SVD, or t-SNE through scikit-learn). Figures are drawn off-screen
(matplotlib's Agg canvas, no pyplot state) and written to a file whose extension picks the format."""

import math
import os
from typing import Any, Dict, Optional, Sequence, Tuple, Union

import numpy as np
from numpy.typing import ArrayLike

__all__ = ["TrainingCurveMixin", "plot_training_curve", "plot_embedding", "project_2d"]

# The per-epoch keys holding a development / selection score, by trainer: taggers record "dev",
# classifiers "selection_accuracy", language models "valid_perplexity".
SCORE_KEYS = ("dev", "selection_accuracy", "valid_perplexity")


def _figure(figsize, dpi):
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError as e:
        raise ImportError("fastnlp.plots needs matplotlib: pip install 'fastnlp[plots]'") from e
    fig = Figure(figsize=figsize, dpi=dpi)
    FigureCanvasAgg(fig)
    return fig


def _save(fig, path):
    path = os.fspath(path)
    fig.savefig(path)
    return path


def _number(x):
    return x is not None and isinstance(x, (int, float, np.number)) and math.isfinite(float(x))


def plot_training_curve(history: Sequence[Dict[str, Any]], path: Union[str, os.PathLike], title: Optional[str] = None,
                        figsize: Tuple[float, float] = (6.4, 4.0), dpi: int = 100) -> str:
    """Draws the loss per epoch (left axis) and, where recorded, the development score (right axis).

    Parameters
    ----------
    history : list of dict
        One dict per epoch, as trainers record it (``training_history``): ``"loss"``, optional
        ``"epoch"`` (default: the position, from 1) and a score under ``"dev"``,
        ``"selection_accuracy"`` or ``"valid_perplexity"``. Epochs without a finite loss or score leave a gap.
    path : str or os.PathLike
        The image file; its extension picks the format (``.png``, ``.svg``, ``.pdf``).
    title : str, optional
        The figure's title.
    figsize : (float, float)
        Inches; with `dpi`, a PNG of (figsize * dpi) pixels (640 x 400 by default).
    dpi : int
        Dots per inch.

    Returns
    -------
    str
        The path written.

    Raises
    ------
    ValueError
        An empty history, or one without any finite loss.
    ImportError
        matplotlib is not installed.
    """
    history = list(history)
    if not history:
        raise ValueError("plot_training_curve: history is empty (train first)")
    for i, h in enumerate(history):
        if not isinstance(h, dict):
            raise ValueError(f"plot_training_curve: history[{i}] must be a dict, got {type(h).__name__}")
    epochs = [h.get("epoch", i + 1) for i, h in enumerate(history)]
    loss = [float(h["loss"]) if _number(h.get("loss")) else np.nan for h in history]
    if all(np.isnan(loss)):
        raise ValueError("plot_training_curve: no epoch of the history records a finite 'loss'")
    score_key = next((k for k in SCORE_KEYS if any(_number(h.get(k)) for h in history)), None)
    fig = _figure(figsize, dpi)
    ax = fig.add_subplot(1, 1, 1)
    ax.plot(epochs, loss, marker="o", color="tab:blue", label="loss")
    ax.set_xlabel("epoch")
    ax.set_ylabel("loss", color="tab:blue")
    ax.grid(alpha=0.3)
    if score_key is not None:
        score = [float(h[score_key]) if _number(h.get(score_key)) else np.nan for h in history]
        ax2 = ax.twinx()
        ax2.plot(epochs, score, marker="s", color="tab:orange", label=score_key)
        ax2.set_ylabel(score_key, color="tab:orange")
    if title:
        ax.set_title(title)
    fig.tight_layout()
    return _save(fig, path)


def project_2d(vectors: ArrayLike, method: str = "pca", seed: int = 0,
               perplexity: Optional[float] = None) -> np.ndarray:
    """Coordinates (n, 2) of n vectors (n, D): their first two principal components (NumPy SVD of
    the centred vectors) or a t-SNE map (scikit-learn).

    Parameters
    ----------
    vectors : array_like
        (n, D), n >= 2.
    method : {"pca", "tsne"}
        The projection.
    seed : int
        t-SNE's random state.
    perplexity : float, optional
        t-SNE's perplexity (default min(30, n - 1), which it needs below n).

    Returns
    -------
    numpy.ndarray
        (n, 2) float64.

    Raises
    ------
    ValueError
        Fewer than 2 vectors, or an unknown method.
    ImportError
        method="tsne" without scikit-learn.
    """
    x = np.asarray(vectors, dtype=np.float64)
    if x.ndim != 2 or x.shape[0] < 2:
        raise ValueError(f"project_2d: vectors must be (n, D) with n >= 2, got shape {x.shape}")
    if method == "pca":
        x = x - x.mean(axis=0)
        _, _, vt = np.linalg.svd(x, full_matrices=False)
        out = np.zeros((x.shape[0], 2))
        k = min(2, vt.shape[0])
        out[:, :k] = x @ vt[:k].T
        return out
    if method == "tsne":
        try:
            from sklearn.manifold import TSNE
        except ImportError as e:
            raise ImportError("method='tsne' needs scikit-learn: pip install scikit-learn "
                              "(or use method='pca')") from e
        p = min(30.0, x.shape[0] - 1.0) if perplexity is None else float(perplexity)
        return TSNE(n_components=2, perplexity=p, init="pca", random_state=seed).fit_transform(x)
    raise ValueError(f"project_2d: method must be 'pca' or 'tsne', got {method!r}")


def plot_embedding(vectors: ArrayLike, labels: Sequence[str], path: Union[str, os.PathLike], method: str = "pca",
                   title: Optional[str] = None, seed: int = 0, figsize: Tuple[float, float] = (6.4, 6.4),
                   dpi: int = 100) -> str:
    """A scatter plot of vectors projected to 2-D (see project_2d), each point labelled.

    Parameters
    ----------
    vectors : array_like
        (n, D), n >= 2.
    labels : sequence of str
        n labels (the words).
    path : str or os.PathLike
        The image file; its extension picks the format.
    method : {"pca", "tsne"}
        The projection.
    title : str, optional
        Default: the method's name.
    seed : int
        t-SNE's random state.
    figsize, dpi
        The figure's size in inches and its resolution (640 x 640 pixels by default).

    Returns
    -------
    str
        The path written.

    Raises
    ------
    ValueError
        labels and vectors differ in number, fewer than 2 vectors, an unknown method.
    ImportError
        matplotlib (or, for t-SNE, scikit-learn) is not installed.
    """
    labels = list(labels)
    if len(labels) != len(vectors):
        raise ValueError(f"plot_embedding: {len(labels)} labels for {len(vectors)} vectors")
    xy = project_2d(vectors, method, seed)
    fig = _figure(figsize, dpi)
    ax = fig.add_subplot(1, 1, 1)
    ax.scatter(xy[:, 0], xy[:, 1], s=12, color="tab:blue")
    for (x, y), label in zip(xy, labels):
        ax.annotate(label, (x, y), xytext=(3, 3), textcoords="offset points", fontsize=8)
    ax.set_title(title or ("PCA" if method == "pca" else "t-SNE"))
    ax.set_xticks([])
    ax.set_yticks([])
    fig.tight_layout()
    return _save(fig, path)


class TrainingCurveMixin:
    """``save_training_curve`` for the trainers (Word2Vec, Classifier, Tagger), which keep one dict
    per epoch in ``training_history`` and name their curve in ``_curve_title()``."""

    def save_training_curve(self, path: Union[str, os.PathLike]) -> str:
        """Saves the loss per epoch of ``training_history``, and the development score where there
        is one, as an image (plot_training_curve).

        Parameters
        ----------
        path : str or os.PathLike
            The image file; its extension picks the format (``.png``, ``.svg``, ``.pdf``).

        Returns
        -------
        str
            The path written.

        Raises
        ------
        ValueError
            No training history yet.
        ImportError
            matplotlib is not installed (``pip install 'fastnlp[plots]'``).
        """
        if not self.training_history:
            raise ValueError(f"{type(self).__name__}.save_training_curve: no training history yet (train first)")
        return plot_training_curve(self.training_history, path, title=self._curve_title())
