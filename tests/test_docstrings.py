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
           "fastnlp.safeformat", "fastnlp.glove"]
SECTION = re.compile(r"^\s*(Parameters|Returns)\s*\n\s*-{3,}\s*$", re.M)


# Edited by others this session (issue 20's gensim-parity work): linted once that lands.
OTHERS = ("fastnlp.keyedvectors", "fastnlp.word2vec")


def _exports(module):
    names = getattr(module, "__all__", None)
    if names is None:   # a package without __all__: the public names it takes from its own modules
        names = [n for n, o in vars(module).items() if not n.startswith("_")
                 and str(getattr(o, "__module__", "")).startswith(module.__name__)]
    for name in names:
        obj = getattr(module, name)
        if (inspect.isfunction(obj) or inspect.isclass(obj)) and obj.__module__ not in OTHERS:
            yield f"{module.__name__}.{name}", obj


PUBLIC = sorted({qual: obj for m in MODULES for qual, obj in _exports(importlib.import_module(m))}.items())


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
