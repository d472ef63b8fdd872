from __future__ import annotations

import datetime

import numpy as np
import pyarrow as pa
import pytest

from transforms.writeback.row_order import content_digest, content_order

TABLE = pa.table(
    {
        "no": [f"n{i}" for i in range(30)],
        "amount": [i * 1.5 if i % 4 else None for i in range(30)],
        "day": [datetime.date(2025, 1, 1 + i % 28) for i in range(30)],
        "tags": [[str(i)] if i % 2 else [] for i in range(30)],
    }
)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_the_same_rows_in_any_order_give_the_same_order_and_digest(seed: int) -> None:
    shuffled = TABLE.take(pa.array(np.random.default_rng(seed).permutation(30)))
    assert content_digest(shuffled) == content_digest(TABLE)
    ours = shuffled.take(pa.array(content_order(shuffled)))
    theirs = TABLE.take(pa.array(content_order(TABLE)))
    assert ours.equals(theirs)


def test_other_rows_give_another_digest() -> None:
    changed = TABLE.set_column(0, "no", pa.array([f"m{i}" for i in range(30)]))
    assert content_digest(changed) != content_digest(TABLE)
    assert content_digest(TABLE.slice(1)) != content_digest(TABLE)
    assert content_digest(pa.concat_tables([TABLE.slice(0, 7), TABLE.slice(7)])) == (
        content_digest(TABLE)
    )
