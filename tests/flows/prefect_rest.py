"""Reading a Prefect test server's REST API: task runs and artifacts."""

from __future__ import annotations

from typing import Any

import httpx


def api_post(api: str, path: str, body: dict[str, Any]) -> Any:
    response = httpx.post(f"{api}{path}", json=body, timeout=30)
    response.raise_for_status()
    return response.json()


def latest_artifact(api: str, key: str) -> dict[str, Any]:
    body = {"artifacts": {"key": {"any_": [key]}}, "limit": 1, "sort": "CREATED_DESC"}
    found: list[dict[str, Any]] = api_post(api, "/artifacts/filter", body)
    assert found, f"no artifact {key}"
    return found[0]


def artifact_keys(api: str, keys: list[str]) -> set[str]:
    """Keys of the artifacts the Prefect server holds, among ``keys``."""
    body = {"artifacts": {"key": {"any_": keys}}, "limit": 100, "offset": 0, "sort": "CREATED_DESC"}
    response = httpx.post(f"{api}/artifacts/filter", json=body, timeout=30)
    response.raise_for_status()
    return {a["key"] for a in response.json() if a.get("key")}
