"""A name → object table, used for models, view makers and methods."""

from __future__ import annotations

import difflib
from typing import Callable, Generic, Iterator, TypeVar

T = TypeVar("T")


class Registry(Generic[T]):
    """Objects registered under unique names; an unknown name lists the valid ones."""

    def __init__(self, kind: str):
        self.kind = kind
        self._items: dict[str, T] = {}

    def add(self, name: str, item: T) -> T:
        if name in self._items:
            raise ValueError(f"{self.kind} {name!r} is already registered")
        self._items[name] = item
        return item

    def decorator(self, name: str) -> Callable[[T], T]:
        """``@registry.decorator(name)`` registers the decorated object and returns it."""
        return lambda item: self.add(name, item)

    def class_decorator(self, name: str, attr: str = "name") -> Callable[[T], T]:
        """``@registry.class_decorator(name)`` sets ``cls.<attr> = name`` and registers ``cls``."""
        def wrap(cls: T) -> T:
            setattr(cls, attr, name)
            return self.add(name, cls)
        return wrap

    def get(self, name: str) -> T:
        try:
            return self._items[name]
        except KeyError:
            close = difflib.get_close_matches(str(name), list(self._items), n=3)
            hint = f" Did you mean {', '.join(close)}?" if close else ""
            raise ValueError(f"unknown {self.kind} {name!r}.{hint} "
                             f"Valid: {', '.join(self._items)}") from None

    def names(self) -> list[str]:
        """Names in registration order."""
        return list(self._items)

    def __contains__(self, name: object) -> bool:
        return name in self._items

    def __iter__(self) -> Iterator[str]:
        return iter(self._items)
