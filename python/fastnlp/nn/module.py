"""Parameter and Module: the small base every layer builds on."""

from __future__ import annotations

from typing import Any, List, Tuple


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
    def shape(self) -> Tuple[int, ...]:
        """The value's shape."""
        return self.value.shape

    def zero_grad(self) -> None:
        """Zeroes ``grad`` in place (it stays allocated) and drops ``sparse_grad``.

        Returns
        -------
        None
        """
        if self.grad is not None:
            self.grad[...] = 0
        self.sparse_grad = None

    def __repr__(self):
        return f"Parameter({self.name!r}, shape={tuple(self.value.shape)}, dtype={self.value.dtype})"


class Module:
    """Base layer: subclasses set Parameters and sub-Modules as attributes and define
    forward(...) and backward(grad_output)."""

    def parameters(self) -> List[Parameter]:
        """All Parameters of this module and its sub-modules, in attribute order.

        Returns
        -------
        list of Parameter
            This module's own Parameters and, depth first, those of the Modules it holds as
            attributes or in list / tuple attributes.
        """
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

    def zero_grad(self) -> None:
        """Clears the gradients of every Parameter (Parameter.zero_grad).

        Returns
        -------
        None
        """
        for p in self.parameters():
            p.zero_grad()

    def __call__(self, *args, **kwargs):
        return self.forward(*args, **kwargs)


def parameter_arrays(params: List[Parameter], prefix: str = "param") -> dict:
    """The values of `params` as a model file's arrays: ``{f"{prefix}.{i}": value}``.

    Parameters
    ----------
    params : list of Parameter
        In the order the model lists them (Module.parameters()).
    prefix : str
        The arrays' name prefix.

    Returns
    -------
    dict
        Name -> the parameter's value (the array itself, not a copy).
    """
    return {f"{prefix}.{i}": p.value for i, p in enumerate(params)}


def load_parameter_arrays(params: List[Parameter], arrays: dict, prefix: str, bad, what: str) -> None:
    """Copies ``arrays[f"{prefix}.{i}"]`` into each of `params`, the inverse of parameter_arrays: every
    array must be there with the parameter's shape and dtype, and no more of them than parameters.

    Parameters
    ----------
    params : list of Parameter
        The parameters to fill, in the order parameter_arrays wrote them.
    arrays : dict
        Name -> array, as read from a model file.
    prefix : str
        The arrays' name prefix.
    bad : callable
        ``bad(message)`` returns the exception to raise (naming the file).
    what : str
        What the parameters belong to, for the "more parameters than" message.

    Raises
    ------
    Exception
        ``bad(...)`` for a missing array, a shape or dtype mismatch, or an extra array.
    """
    for i, p in enumerate(params):
        v = arrays.get(f"{prefix}.{i}")
        if v is None or v.shape != p.value.shape or v.dtype != p.value.dtype:
            got = None if v is None else f"{v.shape} {v.dtype}"
            raise bad(f"parameter {i} ({p.name}) should be {p.value.shape} {p.value.dtype}, got {got}")
        p.value[...] = v
    if f"{prefix}.{len(params)}" in arrays:
        raise bad(f"more parameters than {what} has")
