from __future__ import annotations

import pytest

from transforms.writeback.sql_source import SourceQueryError, single_select


@pytest.mark.parametrize(
    "sql",
    ["SELECT 1", "  select * from t;  ", "WITH a AS (SELECT 1) SELECT * FROM a", "FROM t"],
)
def test_one_select_passes(sql: str) -> None:
    assert single_select(sql) == sql.strip()


@pytest.mark.parametrize(
    ("sql", "message"),
    [
        ("", "empty"),
        ("SELECT 1; SELECT 2", "2 statements"),
        ("SELECT 1; DROP TABLE t; SELECT 2", "3 statements"),
        ("DROP TABLE t", "not a DROP statement"),
        ("INSERT INTO t VALUES (1)", "not a INSERT statement"),
        ("COPY t TO '/tmp/x.csv'", "not a COPY statement"),
        ("ATTACH 'x.db'", "not a ATTACH statement"),
        ("SELEC 1", "does not parse"),
    ],
)
def test_anything_else_is_refused(sql: str, message: str) -> None:
    with pytest.raises(SourceQueryError, match=message):
        single_select(sql)


def test_unparsable_text_is_left_to_the_server_only_when_not_strict() -> None:
    pg_only = "SELECT a FROM t FOR UPDATE"
    with pytest.raises(SourceQueryError, match="does not parse"):
        single_select(pg_only)
    assert single_select(pg_only, strict=False) == pg_only
    with pytest.raises(SourceQueryError, match="2 statements"):
        single_select("SELECT 1; DELETE FROM t", strict=False)
