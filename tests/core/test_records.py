"""Record: the small dataclass stand-in used on start-up paths."""

from __future__ import annotations

import pytest

from helper.records import Factory, Frozen, Record, replace


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


class Pair(Frozen):
    left: str
    right: tuple[str, ...] = ()
    seen: list[str] = Factory(list)


def test_frozen_fields_are_set_once() -> None:
    pair = Pair("a", ("b",))
    assert (pair.left, pair.right, pair.seen) == ("a", ("b",), [])
    with pytest.raises(AttributeError, match="Pair is frozen: cannot set 'left'"):
        pair.left = "c"  # type: ignore[misc]
    with pytest.raises(AttributeError, match="cannot set 'other'"):
        pair.other = 1
    with pytest.raises(AttributeError, match="cannot delete 'right'"):
        del pair.right
    assert pair == Pair("a", ("b",)) and repr(pair) == "Pair(left='a', right=('b',), seen=[])"
    with pytest.raises(TypeError, match="missing 'left'"):
        Pair()  # type: ignore[call-arg]


def test_replace_makes_a_changed_copy() -> None:
    pair = Pair("a", ("b",), ["x"])
    other = replace(pair, right=("c",))
    assert other == Pair("a", ("c",), ["x"]) and pair.right == ("b",)
    assert replace(pair) == pair and replace(pair) is not pair
    with pytest.raises(TypeError, match="unexpected 'middle'"):
        replace(pair, middle=1)
