"""The mapping files we ship (used by prefect.yaml and the docs) validate against Zoho metadata.

Each file is checked against the simulator's field metadata for its module: every field exists
and is writable, mandatory fields are mapped, defaults are valid values, and every value-map
target is a known picklist value. A typo in a shipped mapping fails here, not in production.
"""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pytest

from simulator.testing import SimServer
from tests.connectors.simhelpers import sim_client
from transforms.writeback import load_mapping
from transforms.writeback.validate import preflight

ROOT = Path(__file__).resolve().parents[2]
MAPPING_FILES = sorted(
    [
        *ROOT.joinpath("mappings").glob("*.yaml"),
        *ROOT.joinpath("transforms", "writeback", "examples").glob("*.yaml"),
    ]
)
PRODUCT_OF_MODULE = {"Candidates": "recruit", "Job_Openings": "recruit", "Interviews": "recruit"}


def test_the_mapping_the_paused_deployment_uses_is_shipped() -> None:
    prefect_yaml = (ROOT / "prefect.yaml").read_text(encoding="utf-8")
    assert "mapping_path: mappings/leads.yaml" in prefect_yaml
    assert ROOT / "mappings" / "leads.yaml" in MAPPING_FILES


@pytest.mark.parametrize("path", MAPPING_FILES, ids=lambda p: p.name)
def test_shipped_mapping_validates_against_the_module_metadata(sim: SimServer, path: Path) -> None:
    mapping = load_mapping(path)
    product = PRODUCT_OF_MODULE.get(mapping.module, "crm")
    with sim_client(sim, product) as client:
        specs = client.metadata.fields_by_name(mapping.module)
    empty = pa.table({column: pa.array([], pa.string()) for column in mapping.source_columns})

    checked = preflight(empty, mapping, specs)  # raises PreflightError on batch-level faults

    assert checked.rendered.num_rows == 0
    for field in mapping.fields:
        spec = specs[field.api_name]
        assert not spec.read_only, f"{path.name}: {field.api_name} is read-only"
        if field.values and spec.picklist_values:
            unknown = {target for _, target in field.values} - set(spec.picklist_values)
            assert not unknown, f"{path.name}: {field.api_name} maps to unknown values {unknown}"
