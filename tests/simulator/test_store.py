from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest

from simulator.state import SimState
from simulator.store import INDEX


@pytest.fixture
def state() -> SimState:
    return SimState()


def test_get_find_insert_update_delete(state: SimState) -> None:
    store = state.store("us-enterprise", "crm", "Accounts")
    assert store is not None
    assert len(store) == 300
    first = store.get(str(store.base_id))
    assert first is not None
    assert first["id"] == str(store.base_id)
    assert store.find("Account_Name", first["Account_Name"] or "") == [first["id"]]
    new_id = store.insert({"Account_Name": "Brand New Ltd"})
    assert store.find("Account_Name", "Brand New Ltd") == [new_id]
    assert len(store) == 301
    store.update(new_id, {"Phone": "+49 30 1234"})
    updated = store.get(new_id)
    assert updated is not None
    assert updated["Phone"] == "+49 30 1234"
    store.delete(first["id"])
    assert store.get(first["id"]) is None
    assert len(store) == 300
    assert [d.id for d in store.deleted()] == [first["id"]]
    with pytest.raises(KeyError):
        store.update(first["id"], {"Phone": "x"})
    with pytest.raises(KeyError):
        store.delete("123")
    with pytest.raises(KeyError, match="Nope"):
        store.insert({"Nope": "x"})
    assert store.get("not-a-number") is None
    state.close()


def test_chunk_boundaries_do_not_change_the_records(state: SimState) -> None:
    store = state.store("us-enterprise", "crm", "Contacts")
    assert store is not None
    fields = ["Last_Name", "Account_Name.Account_Name", "Owner.email", "Modified_Time"]
    store.update(str(store.base_id + 10), {"Last_Name": "Patched"})
    store.delete(str(store.base_id + 11))
    whole = pa.concat_tables(store.iter_chunks(fields))
    store.chunk_size = 97
    pieces = pa.concat_tables(store.iter_chunks(fields))
    assert whole.equals(pieces)
    assert whole.num_rows == 1499
    assert whole.column(INDEX).to_pylist() == sorted(whole.column(INDEX).to_pylist())
    state.close()


def test_values_at_applies_the_overlay(state: SimState) -> None:
    store = state.store("us-enterprise", "crm", "Accounts")
    assert store is not None
    store.update(str(store.base_id + 3), {"Account_Name": "Renamed"})
    values = store.values_at("Account_Name", np.array([2, 3, 4]))
    assert values[1].as_py() == "Renamed"
    assert values[0].as_py() != "Renamed"
    state.close()


def test_large_modules_cost_nothing_until_read(state: SimState) -> None:
    state.configure(records={"Leads": 10_000_000})
    store = state.store("us-enterprise", "crm", "Leads")
    assert store is not None
    assert len(store) == 10_000_000
    last = store.get(str(store.base_id + 9_999_999))
    assert last is not None
    assert last["Last_Name"]
    state.close()
