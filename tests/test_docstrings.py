"""Docstring and type-hint lint of the public API: every name a module exports (its ``__all__``,
else the public functions and classes it defines) has a numpy-style docstring -- with a
Parameters or Returns section when it takes arguments -- and type hints on every argument and on
the return value (for a class: on ``__init__``'s arguments). The package ships ``py.typed``, so
these hints are what type checkers see."""

import importlib
import inspect
import re

import pytest

MODULES = ["fastnlp", "fastnlp.ops", "fastnlp.nn", "fastnlp.optim", "fastnlp.classify", "fastnlp.tagging.tagger",
           "fastnlp.safeformat", "fastnlp.glove", "fastnlp.keyedvectors", "fastnlp.word2vec", "fastnlp.pipeline",
           "fastnlp.tagging.tokenizer", "fastnlp.lm", "fastnlp.embeddings", "fastnlp.plots", "fastnlp.dask"]
SECTION = re.compile(r"^\s*(Parameters|Returns)\s*\n\s*-{3,}\s*$", re.M)


def _exports(module):
    names = getattr(module, "__all__", None)
    if names is None:   # a package without __all__: the public names it takes from its own modules
        names = [n for n, o in vars(module).items() if not n.startswith("_")
                 and str(getattr(o, "__module__", "")).startswith(module.__name__)]
    for name in names:
        obj = getattr(module, name)
        if (inspect.isfunction(obj) or inspect.isclass(obj)):
            yield f"{module.__name__}.{name}", obj


PUBLIC = sorted({qual: obj for m in MODULES for qual, obj in _exports(importlib.import_module(m))}.items())


def _methods(qual, cls):
    """The public methods an exported class defines in fastnlp's own modules (its own or a fastnlp base
    class's; not those inherited from object or from a third-party base)."""
    for klass in cls.__mro__:
        if not str(getattr(klass, "__module__", "")).startswith("fastnlp"):
            continue
        for name, attr in vars(klass).items():
            if name.startswith("_"):
                continue
            fn = attr.__func__ if isinstance(attr, (staticmethod, classmethod)) else attr
            if inspect.isfunction(fn) and fn.__module__.startswith("fastnlp"):
                yield f"{qual}.{name}", getattr(cls, name)


# the classes whose public methods the lint covers (the rest of the exported classes' methods: a later pass):
# these five, and every class fastnlp.nn and fastnlp.optim export (layers' forward / backward, optimizers' step,
# state_dict ...)
METHOD_CLASSES = ["fastnlp.keyedvectors.KeyedVectors", "fastnlp.word2vec.Word2Vec", "fastnlp.lm.RNNLanguageModel",
                  "fastnlp.pipeline.Pipeline", "fastnlp.pipeline.Doc"] + [
    qual for qual, obj in PUBLIC if inspect.isclass(obj) and qual.startswith(("fastnlp.nn.", "fastnlp.optim."))]
METHODS = sorted({mq: m for qual, obj in PUBLIC if qual in METHOD_CLASSES for mq, m in _methods(qual, obj)}.items())


def _arguments(fn):
    try:
        params = list(inspect.signature(fn).parameters.values())
    except (TypeError, ValueError):
        return []
    return [p for p in params if p.name not in ("self", "cls")]


def test_the_lint_sees_the_public_api():
    names = {q for q, _ in PUBLIC}
    for expected in ("fastnlp.ops.linear", "fastnlp.nn.LSTM", "fastnlp.optim.Adam", "fastnlp.classify.Classifier",
                     "fastnlp.tagging.tagger.Tagger", "fastnlp.safeformat.load", "fastnlp.glove.load_glove",
                     "fastnlp.set_num_threads"):
        assert expected in names
    assert len(names) > 80


@pytest.mark.parametrize("qual, obj", PUBLIC, ids=[q for q, _ in PUBLIC])
def test_public_names_have_numpy_docstrings_and_type_hints(qual, obj):
    doc = inspect.getdoc(obj) or ""
    assert doc.strip(), f"{qual} has no docstring"
    fn = obj.__init__ if inspect.isclass(obj) else obj
    args = _arguments(fn) if not inspect.isclass(obj) or "__init__" in vars(obj) or any(
        "__init__" in vars(c) for c in obj.__mro__[1:-1]) else []
    if args:
        text = doc + "\n" + (inspect.getdoc(obj.__init__) or "" if inspect.isclass(obj) else "")
        assert SECTION.search(text), f"{qual} takes arguments but its docstring has no Parameters or Returns section"
    missing = [p.name for p in args if p.annotation is inspect.Parameter.empty]
    assert not missing, f"{qual}: arguments without a type hint: {missing}"
    if not inspect.isclass(obj):
        assert inspect.signature(obj).return_annotation is not inspect.Signature.empty, \
            f"{qual} has no return type hint"


def test_the_lint_sees_public_methods():
    names = {q for q, _ in METHODS}
    for expected in ("fastnlp.keyedvectors.KeyedVectors.most_similar", "fastnlp.word2vec.Word2Vec.train",
                     "fastnlp.lm.RNNLanguageModel.fit", "fastnlp.word2vec.Word2Vec.save_training_curve",
                     "fastnlp.nn.Linear.backward", "fastnlp.nn.LSTM.forward", "fastnlp.nn.GRU.backward",
                     "fastnlp.nn.Module.parameters", "fastnlp.nn.Parameter.zero_grad", "fastnlp.optim.Adam.step",
                     "fastnlp.optim.SGD.load_state_dict", "fastnlp.optim.Optimizer.state_dict"):
        assert expected in names


@pytest.mark.parametrize("qual, fn", METHODS, ids=[q for q, _ in METHODS])
def test_public_methods_have_numpy_docstrings_and_type_hints(qual, fn):
    doc = inspect.getdoc(fn) or ""
    assert doc.strip(), f"{qual} has no docstring"
    args = _arguments(fn)
    if args:
        assert SECTION.search(doc), f"{qual} takes arguments but its docstring has no Parameters or Returns section"
    missing = [p.name for p in args if p.annotation is inspect.Parameter.empty]
    assert not missing, f"{qual}: arguments without a type hint: {missing}"
    assert inspect.signature(fn).return_annotation is not inspect.Signature.empty, f"{qual} has no return type hint"
