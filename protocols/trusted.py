"""Building pydantic models from data the engine made itself, without validating it again.

Validation belongs at the boundary: what an LLM or a JSON file sends goes through pydantic
(``protocols.actions.parse_action``). What the market builds from its own state each round
(observations, receipts) and what a scripted agent (code we ship) builds is trusted: it
is made with ``trusted`` here, which fills the model's fields in declaration order exactly
as validation would leave them, at a fraction of the cost. The protocol still checks every
action it is given (it reads plain attributes), so a trusted action with a bad value is
refused with a reason as before, not accepted.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from pydantic import BaseModel

M = TypeVar("M", bound=BaseModel)

_set = object.__setattr__
_ORDER: dict[type[BaseModel], tuple[str, ...]] = {}


def trusted(cls: type[M], /, **values: Any) -> M:
    """An instance of ``cls`` holding ``values`` unvalidated (the caller vouches for their types).

    The same as ``cls.model_construct(**values)`` (fields in declaration order, defaults for
    those not given, ``model_fields_set`` the names given) but quicker when every field is
    given; names that are not fields raise ``TypeError``.
    """
    names = _ORDER.get(cls)
    if names is None:
        plain = not cls.__pydantic_post_init__ and not cls.__pydantic_root_model__
        names = _ORDER[cls] = tuple(cls.__pydantic_fields__) if plain else ()
    if len(values) != len(names) or not names:
        unknown = set(values) - set(cls.__pydantic_fields__)
        if unknown:
            raise TypeError(f"{cls.__name__} has no field(s) {', '.join(sorted(unknown))}")
        return cls.model_construct(**values)
    if tuple(values) == names:  # given in declaration order (the engine's own callers do): kept as is
        data = values
    else:
        try:
            data = {n: values[n] for n in names}
        except KeyError as err:
            missing = ", ".join(sorted(set(values) - set(names)))
            raise TypeError(f"{cls.__name__} has no field(s) {missing}") from err
    m = cls.__new__(cls)
    _set(m, "__dict__", data)
    _set(m, "__pydantic_fields_set__", set(values))
    _set(m, "__pydantic_extra__", None)
    _set(m, "__pydantic_private__", None)
    return m


def builder(cls: type[M]) -> Callable[[dict[str, Any]], M]:
    """A maker of ``cls`` from a dict holding every field in declaration order (the caller vouches for
    keys, order and types: ``trusted`` without its checks, for the engine's hottest models). The dict
    becomes the instance's own, and every field counts as set. A class that makes its missing fields
    on first read (``sandbox.observe``'s on-demand observations) may be given some of them."""
    names = tuple(cls.__pydantic_fields__)
    if cls.__pydantic_post_init__ or cls.__pydantic_root_model__:
        raise TypeError(f"{cls.__name__} is not a plain model")
    new = cls.__new__
    # the slots' own setters (what ``object.__setattr__`` finds and calls for each name, one lookup less)
    set_dict, set_fields, set_extra, set_private = (_slot_setter(cls, n) for n in _SLOTS)

    def make(data: dict[str, Any]) -> M:
        m = new(cls)
        set_dict(m, data)
        set_fields(m, set(names))
        set_extra(m, None)
        set_private(m, None)
        return m

    make.names = names  # type: ignore[attr-defined]  # what tests compare callers' dicts with
    return make


_SLOTS = ("__dict__", "__pydantic_fields_set__", "__pydantic_extra__", "__pydantic_private__")


def _slot_setter(cls: type, name: str) -> Callable[[Any, Any], None]:
    """The ``__set__`` of the data descriptor ``object.__setattr__(instance, name, value)`` calls on ``cls``."""
    for klass in cls.__mro__:
        if name in klass.__dict__:
            setter: Callable[[Any, Any], None] = klass.__dict__[name].__set__
            return setter
    raise TypeError(f"{cls.__name__} has no slot {name}")


_PLAIN: dict[tuple[type, str], bool] = {}


def field_or_none(obj: object, name: str) -> Any:
    """``getattr(obj, name, None)``, without pydantic's slow miss.

    The checks ask actions for fields only some types have (``thread_id``, ``listing_id``,
    ``service``); on a pydantic model a missing one goes through ``__getattr__`` and an
    exception. For a model whose class defines nothing under ``name`` and that keeps pydantic's
    own ``__getattr__`` and no private attributes, the answer is read from its fields and
    extras directly, which is what ``getattr`` would find; anything else takes ``getattr``.
    """
    cls = type(obj)
    plain = _PLAIN.get((cls, name))
    if plain is None:
        plain = _PLAIN[(cls, name)] = (
            isinstance(obj, BaseModel)
            and getattr(cls, "__getattr__", None) is getattr(BaseModel, "__getattr__", None)
            and not getattr(cls, "__private_attributes__", None)
            and not any(name in k.__dict__ for k in cls.__mro__)
        )
    if not plain:
        return getattr(obj, name, None)
    found = obj.__dict__.get(name, _MISSING)
    if found is not _MISSING:
        return found
    extra = obj.__pydantic_extra__  # type: ignore[attr-defined]
    return extra.get(name) if extra else None


_MISSING = object()
