from __future__ import annotations

from simulator.cursors import CursorCodec


def test_round_trip_and_tampering() -> None:
    codec = CursorCodec(seed=1)
    token = codec.encode({"kind": "bulk", "start_slot": 400_000, "criteria": {"a": ["ü", 1]}})
    assert codec.decode(token) == {
        "kind": "bulk",
        "start_slot": 400_000,
        "criteria": {"a": ["ü", 1]},
    }
    body, _, signature = token.partition(".")
    forged = CursorCodec(seed=1).encode({"kind": "bulk", "start_slot": 0})
    assert codec.decode(f"{forged.partition('.')[0]}.{signature}") is None
    assert codec.decode(body) is None
    assert codec.decode("!!!.abc") is None
    assert codec.decode("") is None
    assert CursorCodec(seed=2).decode(token) is None
    assert CursorCodec(seed=1).decode(token) is not None
