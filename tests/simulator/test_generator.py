from __future__ import annotations

import numpy as np

from simulator.config import DEFAULT_ORGS
from simulator.default_modules import DEFAULT_SCHEMAS
from simulator.generator import ModuleGenerator, mix, stable_key
from simulator.schema import FieldDef

LEADS = DEFAULT_SCHEMAS[("crm", "Leads")]


def _gen(seed: int = 1) -> ModuleGenerator:
    return ModuleGenerator(seed, DEFAULT_ORGS[0], LEADS, {}, {})


def test_values_depend_only_on_the_index() -> None:
    gen = _gen()
    for field in LEADS.fields:
        whole = gen.column(field, np.arange(0, 100))
        parts = (
            gen.column(field, np.arange(0, 40)).to_pylist()
            + gen.column(field, np.arange(40, 100)).to_pylist()
        )
        assert whole.to_pylist() == parts, field.api_name


def test_seed_and_org_change_the_values() -> None:
    field = LEADS.field("Last_Name")
    assert field is not None
    idx = np.arange(200)
    assert _gen(1).column(field, idx) != _gen(2).column(field, idx)
    other_org = ModuleGenerator(1, DEFAULT_ORGS[1], LEADS, {}, {})
    assert _gen(1).column(field, idx) != other_org.column(field, idx)


def test_empty_share_follows_the_field() -> None:
    gen = _gen()
    idx = np.arange(20_000)
    mostly_empty = gen.column(FieldDef("X", "text", empty_pct=70), idx)
    never_empty = gen.column(FieldDef("Y", "text"), idx)
    assert 0.65 < mostly_empty.null_count / len(idx) < 0.75
    assert never_empty.null_count == 0


def test_ids_are_19_digit_strings() -> None:
    ids = _gen().ids(np.array([0, 1, 9_999_999])).to_pylist()
    assert all(len(i) == 19 and i.isdigit() for i in ids)
    assert int(ids[2]) - int(ids[0]) == 9_999_999


def test_mix_is_stable() -> None:
    key = stable_key("a", 1)
    assert key == stable_key("a", 1)
    assert key != stable_key("a", 2)
    first = mix(key, np.arange(5))
    assert (first == mix(key, np.arange(5))).all()
    assert len(set(first.tolist())) == 5


def test_every_data_type_generates_text() -> None:
    gen = _gen()
    for data_type in ("text", "email", "phone", "website", "picklist", "multiselectpicklist",
                      "date", "datetime", "boolean", "integer", "bigint", "double",
                      "currency", "percent", "textarea"):  # fmt: skip
        values = gen.column(FieldDef(f"F_{data_type}", data_type), np.arange(10))
        assert values.null_count == 0
        assert all(isinstance(v, str) and v for v in values.to_pylist())


def test_datetimes_match_python_isoformat() -> None:
    from datetime import datetime, timedelta, timezone

    from simulator import vocab
    from simulator.generator import format_datetimes

    minutes = np.array(
        [int(o[0] + "1") * (int(o[1:3]) * 60 + int(o[4:])) for o in vocab.UTC_OFFSETS]
    )
    epoch = np.array([0, 1_700_000_000, 1_672_531_199, -86_401, 1_767_225_599, 951_782_400])
    which = np.array([1, 2, 3, 4, 7, 0])
    expected = [
        datetime.fromtimestamp(int(e), timezone(timedelta(minutes=int(minutes[w])))).isoformat()
        for e, w in zip(epoch, which, strict=True)
    ]
    assert format_datetimes(epoch, which, minutes).to_pylist() == expected
