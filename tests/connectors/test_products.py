from __future__ import annotations

from dataclasses import replace

import pytest

from connectors.credits import CallType
from connectors.datacenters import Endpoints
from connectors.products import CRM, RECRUIT, BulkPaging, product_for


def test_product_lookup() -> None:
    assert product_for("CRM") is CRM
    assert product_for(RECRUIT) is RECRUIT
    with pytest.raises(ValueError, match="unknown Zoho product"):
        product_for("desk")


def test_hosts_crm_follows_api_domain_recruit_ignores_it() -> None:
    eu = Endpoints.for_dc("eu")
    assert CRM.base_url(eu, "https://www.zohoapis.eu") == "https://www.zohoapis.eu"
    assert CRM.base_url(eu, None) == "https://www.zohoapis.eu"
    assert RECRUIT.base_url(eu, "https://www.zohoapis.eu") == "https://recruit.zoho.eu"
    pinned = replace(eu, crm_api="https://proxy.internal", crm_api_pinned=True)
    assert CRM.base_url(pinned, "https://www.zohoapis.eu") == "https://proxy.internal"


def test_differences_are_data() -> None:
    assert (CRM.bulk_read_path, RECRUIT.bulk_read_path) == (
        "/crm/bulk/v8/read",
        "/recruit/bulk/v2/read",
    )
    assert (CRM.bulk_write_path, RECRUIT.bulk_write_path) == (
        "/crm/bulk/v8/write",
        "/recruit/bulk/v2/write",
    )
    assert (CRM.upload_path, RECRUIT.upload_path) == ("/crm/v8/upload", "/recruit/v2/upload")
    assert (CRM.org_header, RECRUIT.org_header) == ("X-CRM-ORG", "X-RECRUIT-ORG")
    assert CRM.module_ref("Leads") == {"api_name": "Leads"}
    assert RECRUIT.module_ref("Candidates") == "Candidates"
    assert (CRM.bulk_paging, RECRUIT.bulk_paging) == (BulkPaging.PAGE_TOKEN, BulkPaging.PAGE)
    assert CRM.records_path.format(module="Leads") == "/crm/v8/Leads"
    assert RECRUIT.metadata_fields_path == "/recruit/v2/settings/fields"
    assert CRM.credit_costs[CallType.BULK_READ_CREATE] == 50
    assert RECRUIT.credit_costs[CallType.GET_RECORDS] == 3


def test_each_product_uploads_to_its_own_files_host() -> None:
    us = Endpoints.for_dc("us")
    assert CRM.upload_url(us) == "https://content.zohoapis.com/crm/v8/upload"
    assert RECRUIT.upload_url(us) == "https://upload.zoho.com/recruit/v2/upload"
    sim = Endpoints.for_simulator("http://127.0.0.1:9", "eu")
    assert RECRUIT.upload_url(sim) == "http://127.0.0.1:9/eu/upload/recruit/v2/upload"


def test_write_job_body_takes_each_products_shape() -> None:
    body = {
        "operation": "update",
        "ignore_empty": True,
        "resource": [{"type": "data", "module": {"api_name": "Candidates"}, "file_id": "1"}],
    }
    assert RECRUIT.write_job_body(body) == {
        "operation": "update",
        "resource": [
            {"type": "data", "module": "Candidates", "file_id": "1", "ignore_empty": True}
        ],
    }
    plain = {"operation": "insert", "resource": [{"module": "Leads", "file_id": "2"}]}
    assert CRM.write_job_body({**plain, "ignore_empty": False}) == {
        "operation": "insert",
        "resource": [{"module": {"api_name": "Leads"}, "file_id": "2"}],
        "ignore_empty": False,
    }
    assert CRM.write_job_body(plain) == {
        "operation": "insert",
        "resource": [{"module": {"api_name": "Leads"}, "file_id": "2"}],
    }
