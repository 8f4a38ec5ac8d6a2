"""A quicker ``__init__`` for the frozen, slotted dataclasses made once or more per order.

A frozen dataclass's own ``__init__`` stores each field with ``object.__setattr__(self, name,
value)``: an attribute lookup and a bound call per field, about twice the cost of the store itself.
``quick_init`` gives the class an ``__init__`` with the same parameters and defaults that stores
each field through its slot's descriptor, which is what ``object.__setattr__`` ends up calling; the
instance is the same (fields, equality, hash, repr, pickling and ``dataclasses.replace`` unchanged).
"""

from __future__ import annotations

import dataclasses
from typing import TypeVar

T = TypeVar("T", bound=type)


def quick_init(cls: T) -> T:
    """Replace the ``__init__`` of a frozen dataclass with slots, plain fields and no ``__post_init__``."""
    params = dataclasses.fields(cls)
    plain = (
        dataclasses.is_dataclass(cls)
        and cls.__dataclass_params__.frozen  # type: ignore[attr-defined]
        and "__slots__" in cls.__dict__
        and not hasattr(cls, "__post_init__")
        and all(f.init and not f.kw_only and f.default_factory is dataclasses.MISSING for f in params)
    )
    if not plain:
        raise TypeError(f"{cls.__name__} is not a frozen dataclass with slots and plain fields")
    names = [f.name for f in params]
    scope = {f"_set_{n}": cls.__dict__[n].__set__ for n in names}
    scope |= {f"_default_{f.name}": f.default for f in params if f.default is not dataclasses.MISSING}
    signature = ", ".join(
        n if f.default is dataclasses.MISSING else f"{n}=_default_{n}" for n, f in zip(names, params, strict=True)
    )
    body = "".join(f"\n    _set_{n}(self, {n})" for n in names)
    exec(f"def __init__(self, {signature}) -> None:{body}", scope)  # noqa: S102  (as dataclasses makes its own)
    init = scope["__init__"]
    init.__qualname__ = f"{cls.__qualname__}.__init__"
    init.__doc__ = vars(cls)["__init__"].__doc__
    cls.__init__ = init  # type: ignore[misc]
    return cls
