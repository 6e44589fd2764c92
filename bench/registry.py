"""One registry class for every kind of plug-in: estimators, encoders, models (and later attacks).

A registry maps a name to a factory (a class or a function). ``build(name, **params)`` calls it;
a name of the form ``"package.module:attr"`` imports a user's own factory instead, so a new estimator
or model plugs in from YAML without a fork. Unlike timm, registering a name twice is an error: in a
benchmark a silently shadowed entry changes the numbers.

>>> shapes = Registry("shape")
>>> @shapes.register("square")
... def square(side: float = 1.0) -> float:
...     return side * side
>>> shapes.build("square", side=3.0)
9.0
>>> shapes.available()
['square']
>>> shapes.build("circle")
Traceback (most recent call last):
...
KeyError: "unknown shape 'circle'; available: square (or a 'package.module:attr' import path)"
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any, Generic, TypeVar

__all__ = ["Registry"]

F = TypeVar("F", bound=Callable[..., Any])


class Registry(Generic[F]):
    """Names to factories for one kind of plug-in.

    Args:
        kind: what the entries are ("estimator", "model", ...); used in error messages.
    """

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._entries: dict[str, F] = {}  # registered name -> factory
        self._aliases: dict[str, str] = {}  # old name -> current name, for renames

    def register(self, name: str | None = None) -> Callable[[F], F]:
        """Decorator adding a factory under ``name`` (default: the factory's ``__name__``)."""

        def add(factory: F) -> F:
            key = name or factory.__name__
            if key in self._entries or key in self._aliases:
                raise ValueError(f"{self.kind} {key!r} is already registered")
            self._entries[key] = factory
            return factory

        return add

    def alias(self, old: str, new: str) -> None:
        """Keep an old name working after a rename (result files name their entries)."""
        if new not in self._entries:
            raise KeyError(f"cannot alias {old!r} to unknown {self.kind} {new!r}")
        self._aliases[old] = new

    def available(self) -> list[str]:
        """Registered names, sorted."""
        return sorted(self._entries)

    def get(self, name: str) -> F:
        """The factory for ``name`` or for an import path ``"package.module:attr"``."""
        if ":" in name:
            return _import(name, self.kind)
        name = self._aliases.get(name, name)
        if name not in self._entries:
            raise KeyError(
                f"unknown {self.kind} {name!r}; available: {', '.join(self.available())} "
                "(or a 'package.module:attr' import path)"
            )
        return self._entries[name]

    def build(self, name: str, **params: Any) -> Any:
        """Call the factory registered as ``name`` with ``params``."""
        return self.get(name)(**params)

    def __contains__(self, name: str) -> bool:
        return name in self._entries or name in self._aliases


def _import(path: str, kind: str) -> Any:
    module_name, _, attr = path.partition(":")
    try:
        return getattr(importlib.import_module(module_name), attr)
    except (ImportError, AttributeError) as err:
        raise KeyError(f"cannot import {kind} {path!r}: {err}") from err
