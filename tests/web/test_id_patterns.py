"""The ids' and user names' patterns, written `+` with a max_length (cheap for pydantic-core's regex engine to
compile, docs/BENCHMARKS.md session 15), accept exactly the strings the counted forms `{1,64}`/`{1,100}` did."""

from typing import Annotated

import pytest
from pydantic import Field, TypeAdapter, ValidationError

from dashboards.routers.api import ID_MAX, ID_PATTERN
from dashboards.routers.users import NAME_MAX, NAME_PATTERN

SAMPLES = ["", "a", "r-0001", "cat-0001", "hub:1.2", "王奶奶", "x y", "a/b", "a\n", "\na", "é" * 5, "a@b.cn", "a_b",
           "-", ".", ":", "@", "a\x00", "١٢٣"]


def accepts(adapter: TypeAdapter[str], value: str) -> bool:
    try:
        adapter.validate_python(value)
    except ValidationError:
        return False
    return True


@pytest.mark.parametrize(("pattern", "limit", "counted"), [(ID_PATTERN, ID_MAX, r"^[\w.:-]{1,64}$"),
                                                          (NAME_PATTERN, NAME_MAX, r"^[\w.@-]{1,100}$")])
def test_same_strings_as_the_counted_pattern(pattern: str, limit: int, counted: str) -> None:
    new: TypeAdapter[str] = TypeAdapter(Annotated[str, Field(pattern=pattern, max_length=limit)])
    old: TypeAdapter[str] = TypeAdapter(Annotated[str, Field(pattern=counted)])
    lengths = ["a" * n for n in (limit - 1, limit, limit + 1)] + ["王" * n for n in (limit, limit + 1)]
    for value in SAMPLES + lengths + [s + "." for s in lengths]:
        assert accepts(new, value) == accepts(old, value), value
