"""Plain data classes without `dataclasses`: fields from annotations, defaults from class attributes.

`import dataclasses` pulls in inspect, ast, dis and tokenize, and every
@dataclass compiles its methods with exec: together tens of milliseconds on a
slow machine, paid by every command that defines one. A Record gives the part
help.py uses (positional or keyword construction, defaults, factories for
mutable defaults, equality, repr) for the cost of one small class.

    class Point(Record):
        x: int
        y: int = 0
        tags: list[str] = Factory(list)
"""

from __future__ import annotations

TYPE_CHECKING = False  # typing itself costs ~5 ms to import; annotations are strings here
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any


class _Factory:
    __slots__ = ("make",)

    def __init__(self, make: Callable[[], Any]) -> None:
        self.make = make


def Factory(make: Callable[[], Any]) -> Any:
    """A default made fresh for each instance (like dataclasses.field(default_factory=...))."""
    return _Factory(make)


_MISSING = object()


class Record:
    __fields__: tuple[str, ...] = ()

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        names: list[str] = []
        for klass in reversed(cls.__mro__):
            # Not inspect.get_annotations: inspect is the import this module exists to avoid.
            for name in klass.__dict__.get("__annotations__", {}):  # noqa: RUF063
                if not name.startswith("_") and name not in names:
                    names.append(name)
        cls.__fields__ = tuple(names)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        fields = self.__fields__
        if len(args) > len(fields):
            raise TypeError(f"{type(self).__name__}() takes {len(fields)} arguments, {len(args)} given")
        for name, value in zip(fields, args, strict=False):
            if name in kwargs:
                raise TypeError(f"{type(self).__name__}() got two values for {name!r}")
            kwargs[name] = value
        for name in fields:
            if name in kwargs:
                value = kwargs.pop(name)
            else:
                value = getattr(type(self), name, _MISSING)
                if value is _MISSING:
                    raise TypeError(f"{type(self).__name__}() is missing {name!r}")
                if isinstance(value, _Factory):
                    value = value.make()
            setattr(self, name, value)
        if kwargs:
            raise TypeError(f"{type(self).__name__}() got unexpected {', '.join(map(repr, kwargs))}")

    def __eq__(self, other: object) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        return all(getattr(self, n) == getattr(other, n) for n in self.__fields__)

    __hash__ = None  # type: ignore[assignment]  # mutable, like a dataclass with eq=True

    def __repr__(self) -> str:
        return f"{type(self).__name__}({', '.join(f'{n}={getattr(self, n)!r}' for n in self.__fields__)})"
