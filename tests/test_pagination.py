import datetime as dt
import uuid

import pytest
from pydantic import BaseModel, ConfigDict

from app.errors import BadRequest
from app.pagination import decode_cursor, encode_cursor, examples_of, page_example, split_page


def test_cursor_round_trip():
    when = dt.datetime(2026, 1, 2, 3, 4, 5, 678, tzinfo=dt.UTC)
    row_id = uuid.uuid4()
    assert decode_cursor(encode_cursor(when, row_id)) == (when, row_id)


@pytest.mark.parametrize(
    "cursor", ["", "!!!", "bm90IGpzb24", "eyJ0IjoiMjAyNi0wMS0wMlQwMzowNDowNSIsImlkIjoieCJ9", "e30"]
)
def test_bad_cursors_are_400(cursor):
    with pytest.raises(BadRequest) as info:
        decode_cursor(cursor)
    assert info.value.extra["errors"][0]["field"] == "query.cursor"


class Row:
    def __init__(self, i):
        self.id = uuid.UUID(int=i)
        self.created_at = dt.datetime(2026, 1, 1, tzinfo=dt.UTC) + dt.timedelta(seconds=i)


def test_split_page_cuts_extra_row_and_points_at_last_kept():
    rows = [Row(i) for i in range(4)]
    kept, cursor = split_page(rows, 3)
    assert kept == rows[:3]
    assert cursor is not None
    assert decode_cursor(cursor) == (rows[2].created_at, rows[2].id)
    assert split_page(rows[:3], 3) == (rows[:3], None)


class WithExamples(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"n": 1}, {"n": 2}]})

    n: int


class WithoutExamples(BaseModel):
    model_config = ConfigDict(json_schema_extra={"description": "no examples here"})

    n: int


def test_examples_of_and_page_example_read_the_declared_examples():
    assert examples_of(WithExamples) == [{"n": 1}, {"n": 2}]
    page = page_example(WithExamples, total=1)
    assert page["items"] == [{"n": 1}]
    assert page["total"] == 1
    assert decode_cursor(page["next_cursor"])


@pytest.mark.parametrize("model", [WithoutExamples, BaseModel])
def test_examples_of_refuses_a_schema_without_examples(model):
    with pytest.raises(TypeError, match="declares no json_schema_extra examples"):
        examples_of(model)
