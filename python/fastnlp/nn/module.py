"""Parameter and Module: the small base every layer builds on."""

from __future__ import annotations

from typing import Any, List


class Parameter:
    """A trainable array with its gradient.

    ``grad`` is a dense array of the value's shape (or None before the first backward);
    ``sparse_grad`` is (ids, rows) for layers such as Embedding whose gradient touches a few
    rows only. Optimizers apply whichever is set, and zero_grad clears both.

    Parameters
    ----------
    value : array
        The parameter's array (NumPy or CuPy), updated in place by optimizers.
    name : str
        A name for messages and reprs.
    """

    def __init__(self, value: Any, name: str = "") -> None:
        self.value = value
        self.name = name
        self.grad = None
        self.sparse_grad = None

    @property
    def shape(self):
        return self.value.shape

    def zero_grad(self):
        if self.grad is not None:
            self.grad[...] = 0
        self.sparse_grad = None

    def __repr__(self):
        return f"Parameter({self.name!r}, shape={tuple(self.value.shape)}, dtype={self.value.dtype})"


class Module:
    """Base layer: subclasses set Parameters and sub-Modules as attributes and define
    forward(...) and backward(grad_output)."""

    def parameters(self) -> List[Parameter]:
        """All Parameters of this module and its sub-modules, in attribute order."""
        seen = []
        for value in vars(self).values():
            if isinstance(value, Parameter):
                seen.append(value)
            elif isinstance(value, Module):
                seen.extend(value.parameters())
            elif isinstance(value, (list, tuple)):
                for item in value:
                    if isinstance(item, Module):
                        seen.extend(item.parameters())
        return seen

    def zero_grad(self):
        for p in self.parameters():
            p.zero_grad()

    def __call__(self, *args, **kwargs):
        return self.forward(*args, **kwargs)
