"""Field metadata: ``GET {base}/crm/v8/settings/fields?module=X`` -> ``tuple[FieldSpec, ...]``.

Results are cached per client (one run): the metadata does not change during an export,
and each call costs a credit. The cache is thread-safe and fetches each module once even
when several threads ask at the same time.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping

from connectors.credits import CallType
from connectors.errors import UnexpectedResponseError
from connectors.fields import FieldSpec
from connectors.http import ZohoHttp
from connectors.products import Product

log = logging.getLogger("connectors.metadata")


class MetadataClient:
    """Typed field descriptions of a module, cached for the life of the client."""

    def __init__(self, http: ZohoHttp, product: Product, base_url: Callable[[], str]) -> None:
        self._http = http
        self._product = product
        self._base_url = base_url
        self._cache: dict[str, tuple[FieldSpec, ...]] = {}
        self._locks: dict[str, threading.Lock] = {}
        self._guard = threading.Lock()

    def fields(self, module: str) -> tuple[FieldSpec, ...]:
        """Every field of ``module``, in Zoho's order."""
        with self._guard:
            cached = self._cache.get(module)
            if cached is not None:
                return cached
            lock = self._locks.setdefault(module, threading.Lock())
        with lock:
            with self._guard:
                cached = self._cache.get(module)
            if cached is not None:
                return cached
            specs = self._fetch(module)
            with self._guard:
                self._cache[module] = specs
            return specs

    def fields_by_name(self, module: str) -> Mapping[str, FieldSpec]:
        return {spec.api_name: spec for spec in self.fields(module)}

    def clear_cache(self) -> None:
        with self._guard:
            self._cache.clear()

    def _fetch(self, module: str) -> tuple[FieldSpec, ...]:
        url = self._base_url() + self._product.metadata_fields_path
        payload = self._http.request_json(
            "GET", url, call_type=CallType.METADATA, params={"module": module}
        )
        raw_fields = payload.get("fields") if isinstance(payload, dict) else None
        if not isinstance(raw_fields, list):
            raise UnexpectedResponseError(
                f"field metadata of {module!r} has no 'fields' list",
                method="GET",
                path=url,
            )
        try:
            specs = tuple(FieldSpec.from_api(raw) for raw in raw_fields)
        except (ValueError, TypeError) as exc:
            raise UnexpectedResponseError(
                f"field metadata of {module!r} is malformed: {exc}", method="GET", path=url
            ) from None
        log.debug("loaded %d field specs of %s %s", len(specs), self._product.label, module)
        return specs
