"""Record: the small dataclass stand-in used on start-up paths."""

from __future__ import annotations

import pytest

from helper.records import Factory, Record


class Point(Record):
    x: int
    y: int = 0
    tags: list[str] = Factory(list)
    _cache: dict[str, int]  # private: not a field

    @property
    def norm(self) -> int:
        return abs(self.x) + abs(self.y)


class Labelled(Point):
    label: str = "p"


def test_construction_defaults_and_fresh_factories() -> None:
    a, b = Point(1), Point(x=1, y=2)
    assert (a.x, a.y, b.y, a.norm, b.norm) == (1, 0, 2, 1, 3)
    a.tags.append("a")
    assert Point(1).tags == [] and a.tags == ["a"]  # a new list for every instance
    assert Point.__fields__ == ("x", "y", "tags")
    assert Labelled(1, 2, ["t"], "q").label == "q" and Labelled.__fields__ == ("x", "y", "tags", "label")


def test_wrong_arguments_are_type_errors() -> None:
    with pytest.raises(TypeError, match="missing 'x'"):
        Point()
    with pytest.raises(TypeError, match="unexpected 'z'"):
        Point(1, z=3)
    with pytest.raises(TypeError, match="two values for 'x'"):
        Point(1, x=2)
    with pytest.raises(TypeError, match="takes 3 arguments"):
        Point(1, 2, [], 4)


def test_equality_and_repr() -> None:
    assert Point(1, 2) == Point(1, 2) and Point(1, 2) != Point(2, 1)
    assert Point(1) != Labelled(1)  # a different class is never equal
    assert repr(Point(1, 2)) == "Point(x=1, y=2, tags=[])"
    with pytest.raises(TypeError):
        hash(Point(1))
