"""The optimizer state inside a classifier checkpoint: nested state as a JSON skeleton plus named
arrays (the safe format holds no pickles), and back."""

import numpy as np


def flatten(obj, prefix, arrays):
    """A JSON skeleton of a nested optimizer state, its arrays moved into `arrays`."""
    if isinstance(obj, np.ndarray):
        arrays[prefix] = obj
        return {"__array__": prefix}
    if isinstance(obj, dict):
        return {"__dict__": [[k, flatten(v, f"{prefix}.{i}", arrays)] for i, (k, v) in enumerate(obj.items())]}
    if isinstance(obj, (list, tuple)):
        return [flatten(v, f"{prefix}.{i}", arrays) for i, v in enumerate(obj)]
    if isinstance(obj, (np.integer, np.floating)):
        return obj.item()
    if obj is None or isinstance(obj, (int, float, str, bool)):
        return obj
    raise TypeError(f"checkpoint: cannot store optimizer state of type {type(obj).__name__}")


def unflatten(obj, arrays):
    if isinstance(obj, dict) and "__array__" in obj:
        return arrays[obj["__array__"]]
    if isinstance(obj, dict) and "__dict__" in obj:
        return {k: unflatten(v, arrays) for k, v in obj["__dict__"]}
    if isinstance(obj, list):
        return [unflatten(v, arrays) for v in obj]
    return obj


def optimizer_state(opt):
    """The optimizer's state_dict(); for one without (SGD, AdaGrad here before optim grew them) its
    lists of per-parameter arrays and its numbers, which is all such an optimizer keeps."""
    if hasattr(opt, "state_dict"):
        return {"state_dict": opt.state_dict()}
    return {"attrs": {k: v for k, v in vars(opt).items()
                      if isinstance(v, (int, float)) or (isinstance(v, list) and v and
                                                         all(isinstance(a, np.ndarray) for a in v))}}


def load_optimizer_state(opt, state):
    if "state_dict" in state:
        opt.load_state_dict(state["state_dict"])
        return
    for k, v in state["attrs"].items():
        current = getattr(opt, k)
        if isinstance(current, list):   # copy in place: the optimizer may hold other references to them
            for dst, src in zip(current, v):
                dst[...] = src
        else:
            setattr(opt, k, v)
