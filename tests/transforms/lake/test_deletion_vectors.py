"""`transforms.lake.deletion_vectors`: vectors written here, read by delta-rs (delta-kernel)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
from deltalake import DeltaTable, write_deltalake

from transforms.lake.deletion_vectors import TableLog, write_vector, z85


def test_z85_is_zeromq_s_encoding() -> None:
    assert z85(bytes([0x86, 0x4F, 0xD2, 0x6F, 0xB5, 0x59, 0xF7, 0x5B])) == "HelloWorld"


def test_a_vector_written_here_is_what_delta_rs_reads(tmp_path: Path) -> None:
    rows = 140_000  # three 65,536-row chunks: a bitmap container, then array containers
    write_deltalake(tmp_path, pa.table({"id": pa.array(range(rows), pa.int64())}))
    rng = np.random.default_rng(7)
    deleted = np.unique(
        np.concatenate([rng.choice(65_536, 6_000, replace=False), [65_536, 139_999]])
    )
    log = TableLog.read(tmp_path)
    [(path, add)] = log.files.items()
    vector = write_vector(tmp_path, deleted)
    upgrade = log.protocol_with_deletion_vectors()
    remove = {"path": path, "deletionTimestamp": 0, "dataChange": True, "size": add["size"]}
    log.commit(
        [{"protocol": upgrade}, {"remove": remove}, {"add": {**add, "deletionVector": vector}}]
    )
    table = DeltaTable(tmp_path)
    [found] = pa.table(table.deletion_vectors()).to_pylist()
    assert np.array_equal(np.flatnonzero(~np.asarray(found["selection_vector"])), deleted)
    kept = pa.table(table.scan())["id"].to_numpy()
    assert np.array_equal(np.sort(kept), np.setdiff1d(np.arange(rows), deleted))
    assert vector["cardinality"] == len(deleted)
    assert TableLog.read(tmp_path).files[path]["deletionVector"] == vector
