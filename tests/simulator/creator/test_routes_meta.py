from __future__ import annotations

from simulator.creator.model import DEFAULT_APPS
from tests.simulator.creator.conftest import CreatorCaller

LISTED_TYPES = {1, 3, 5, 6, 7, 8, 10, 11, 12, 14, 16, 17}


def test_applications_carry_date_format_and_time_zone(creator: CreatorCaller) -> None:
    for url in (f"{creator.root}/meta/applications", f"{creator.root}/meta/jason18/applications"):
        response = creator.get(url)
        assert response.status_code == 200
        body = response.json()
        assert body["code"] == 3000
        apps = {a["link_name"]: a for a in body["applications"]}
        assert apps["order-desk"]["date_format"] == "dd-MMM-yyyy"
        assert apps["order-desk"]["time_zone"] == "Asia/Kolkata"
        assert apps["field-inspections"]["date_format"] == "MM-dd-yyyy"
        assert {a["workspace_name"] for a in apps.values()} == {"jason18"}


def test_reports_forms_and_fields_with_zoho_type_codes(creator: CreatorCaller) -> None:
    for app in DEFAULT_APPS:
        reports = creator.get(f"{creator.root}/meta/jason18/{app.link_name}/reports").json()
        assert reports["code"] == 3000
        assert {r["link_name"] for r in reports["reports"]} == {r.link_name for r in app.reports}
        forms = creator.get(f"{creator.root}/meta/jason18/{app.link_name}/forms").json()
        assert [f["link_name"] for f in forms["forms"]] == [f.link_name for f in app.forms]
        typed = app.forms[1].link_name
        fields = creator.get(f"{creator.root}/meta/jason18/{app.link_name}/form/{typed}/fields")
        types = {f["type"] for f in fields.json()["fields"]}
        assert types == LISTED_TYPES  # every listed type; the lookup reports 12 (drop-down)
        status = next(f for f in fields.json()["fields"] if f["link_name"] == "Status")
        assert [c["value"] for c in status["choices"]] == ["Open", "In Progress", "Closed"]


def test_unknown_owner_app_form_answer_their_codes(creator: CreatorCaller) -> None:
    cases = {
        f"{creator.root}/meta/nobody/applications": 1040,
        f"{creator.root}/meta/jason18/nope/reports": 2892,
        f"{creator.root}/meta/jason18/order-desk/form/Nope/fields": 2893,
    }
    for url, code in cases.items():
        response = creator.get(url)
        assert response.status_code == 404
        assert response.json() == {"code": code, "message": response.json()["message"]}


def test_bad_token_is_1030_and_missing_scope_is_2945(creator: CreatorCaller) -> None:
    response = creator.session.get(
        f"{creator.root}/meta/applications", headers={"Authorization": "Zoho-oauthtoken nope"}
    )
    assert (response.status_code, response.json()["code"]) == (401, 1030)
    creator.creator.revoke_scope("us-enterprise", "ZohoCreator.meta.form.READ")
    response = creator.get(f"{creator.root}/meta/jason18/order-desk/form/Order/fields")
    assert (response.status_code, response.json()["code"]) == (401, 2945)
    assert creator.get(f"{creator.root}/meta/jason18/order-desk/reports").status_code == 200
