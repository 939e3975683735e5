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
    from typing import Any, TypeVar, dataclass_transform

    R = TypeVar("R", bound="Record")
else:

    def dataclass_transform(**kwargs: object) -> Callable[[type], type]:
        """For type checkers only: a Frozen subclass is checked as a frozen dataclass."""
        return lambda cls: cls


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


@dataclass_transform(frozen_default=True)
class Frozen(Record):
    """A Record whose fields are set once, when it is made (like a frozen dataclass); copies by `replace`."""

    def __setattr__(self, name: str, value: Any) -> None:
        if name in self.__dict__ or name not in self.__fields__:
            raise AttributeError(f"{type(self).__name__} is frozen: cannot set {name!r}")
        object.__setattr__(self, name, value)

    def __delattr__(self, name: str) -> None:
        raise AttributeError(f"{type(self).__name__} is frozen: cannot delete {name!r}")


def replace(record: R, **changes: Any) -> R:
    """A copy of `record` with the fields in `changes` set anew (like dataclasses.replace)."""
    values = {name: getattr(record, name) for name in record.__fields__}
    values.update(changes)
    return type(record)(**values)
