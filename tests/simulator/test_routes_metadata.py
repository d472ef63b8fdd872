from __future__ import annotations

import pytest

from simulator.default_modules import DEFAULT_SCHEMAS
from simulator.testing import SimServer
from tests.simulator.conftest import ZohoCaller

EXPECTED_TYPES = {
    "text", "email", "phone", "picklist", "multiselectpicklist", "ownerlookup", "date",
    "datetime", "boolean", "integer", "currency", "textarea",
}  # fmt: skip


MODULES = sorted(k for k, s in DEFAULT_SCHEMAS.items() if s.parent_module is None)
SUBFORMS = sorted(k for k, s in DEFAULT_SCHEMAS.items() if s.parent_module is not None)


@pytest.mark.parametrize(("product", "module"), SUBFORMS)
def test_subform_metadata_has_a_parent_lookup(sim: SimServer, product: str, module: str) -> None:
    caller = ZohoCaller(sim, product=product)
    response = caller.get(f"{caller.host}/crm/v8/settings/fields", params={"module": module})
    caller.close()
    assert response.status_code == 200
    by_name = {f["api_name"]: f for f in response.json()["fields"]}
    parent = DEFAULT_SCHEMAS[(product, module)].parent_module
    assert by_name["Parent_Id"]["lookup"]["module"]["api_name"] == parent
    assert by_name["Parent_Id"]["system_mandatory"] is True


@pytest.mark.parametrize(("product", "module"), MODULES)
def test_every_module_has_rich_metadata(sim: SimServer, product: str, module: str) -> None:
    caller = ZohoCaller(sim, product=product)
    path = "/crm/v8" if product == "crm" else "/recruit/v2"
    response = caller.get(f"{caller.host}{path}/settings/fields", params={"module": module})
    caller.close()
    assert response.status_code == 200
    fields = response.json()["fields"]
    assert len(fields) >= 25
    types = {f["data_type"] for f in fields}
    assert types >= EXPECTED_TYPES
    assert types & {"double", "percent"}
    for f in fields:
        assert {"api_name", "data_type", "json_type", "length", "decimal_place",
                "pick_list_values", "lookup", "system_mandatory", "unique",
                "read_only", "field_read_only"} <= set(f)  # fmt: skip
    by_name = {f["api_name"]: f for f in fields}
    assert by_name["Modified_Time"]["read_only"] is True
    assert any(f["system_mandatory"] for f in fields)
    picklist = next(f for f in fields if f["data_type"] == "picklist")
    assert picklist["pick_list_values"][0]["actual_value"]
    owner = next(f for f in fields if f["data_type"] == "ownerlookup")
    assert owner["lookup"]["module"]["api_name"] == "users"
    assert owner["json_type"] == "jsonobject"
    money = next(f for f in fields if f["data_type"] == "currency")
    assert money["decimal_place"] == 2


def test_lookup_metadata_names_the_parent_module(crm: ZohoCaller) -> None:
    fields = crm.get(f"{crm.api}/crm/v8/settings/fields", params={"module": "Deals"}).json()
    lookups = {f["api_name"]: f["lookup"]["module"]["api_name"] for f in fields["fields"]
               if f["data_type"] == "lookup"}  # fmt: skip
    assert lookups == {"Account_Name": "Accounts", "Contact_Name": "Contacts"}


def test_unknown_or_missing_module(crm: ZohoCaller) -> None:
    url = f"{crm.api}/crm/v8/settings/fields"
    unknown = crm.get(url, params={"module": "Nope"})
    assert unknown.status_code == 400
    assert unknown.json()["code"] == "INVALID_MODULE"
    missing = crm.get(url)
    assert missing.status_code == 400
    assert missing.json()["code"] == "REQUIRED_PARAM_MISSING"


def test_recruit_modules_are_not_crm_modules(crm: ZohoCaller) -> None:
    response = crm.get(f"{crm.api}/crm/v8/settings/fields", params={"module": "Candidates"})
    assert response.json()["code"] == "INVALID_MODULE"


def test_org_api_gives_the_zgid(crm: ZohoCaller) -> None:
    org = crm.get(f"{crm.api}/crm/v8/org").json()["org"][0]
    assert org["zgid"] == "700000001"
    assert org["license_details"]["paid_type"] == "enterprise"
