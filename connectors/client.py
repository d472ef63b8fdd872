"""``ZohoClient``: one object wiring credentials, endpoints, session, meter and the clients.

    client = ZohoClient.for_product("crm", credentials, dc="eu", budget=20_000)
    for page in client.bulk_read.iter_pages(BulkReadQuery("Leads"), Path("out")):
        ...
    client.meter.report()

Point it at the simulator with ``endpoints=Endpoints.for_simulator(sim.base_url, "eu")``.
"""

from __future__ import annotations

from types import TracebackType

import requests

from connectors.auth import OAuthCredentials, TokenManager
from connectors.bulk_read import BulkReadClient, PollPolicy
from connectors.credits import CreditMeter, CreditObserver
from connectors.datacenters import Endpoints, Environment
from connectors.http import Timeouts, ZohoHttp, build_session
from connectors.metadata import MetadataClient
from connectors.products import Product, product_for
from connectors.rest_records import RestRecordsClient
from connectors.retry import RetryPolicy
from connectors.zipcheck import DEFAULT_MAX_UNCOMPRESSED


class ZohoClient:
    """Everything needed to talk to one Zoho org in one product."""

    def __init__(
        self,
        product: Product,
        endpoints: Endpoints,
        tokens: TokenManager,
        http: ZohoHttp,
        *,
        org_id: str | None = None,
        poll: PollPolicy | None = None,
        max_uncompressed_bytes: int = DEFAULT_MAX_UNCOMPRESSED,
        extract_csv: bool = False,
        verify_crc: bool = True,
    ) -> None:
        self.product = product
        self.endpoints = endpoints
        self.tokens = tokens
        self.http = http
        self.org_id = org_id
        self.metadata = MetadataClient(http, product, self.base_url)
        self.bulk_read = BulkReadClient(
            http,
            product,
            self.base_url,
            poll=poll,
            max_uncompressed_bytes=max_uncompressed_bytes,
            extract_csv=extract_csv,
            verify_crc=verify_crc,
            fields_of=self.metadata.fields_by_name,
        )
        self.records = RestRecordsClient(http, product, self.base_url)

    @classmethod
    def for_product(
        cls,
        product: str | Product,
        credentials: OAuthCredentials,
        *,
        dc: str = "us",
        environment: Environment | str = Environment.PRODUCTION,
        endpoints: Endpoints | None = None,
        org_id: str | None = None,
        budget: int | None = None,
        meter: CreditMeter | None = None,
        observer: CreditObserver | None = None,
        session: requests.Session | None = None,
        timeouts: Timeouts | None = None,
        retry: RetryPolicy | None = None,
        poll: PollPolicy | None = None,
        refresh_margin_s: float = 60.0,
        max_uncompressed_bytes: int = DEFAULT_MAX_UNCOMPRESSED,
        extract_csv: bool = False,
        verify_crc: bool = True,
    ) -> ZohoClient:
        """Build a client. ``meter`` may be shared between clients of the same org; without
        one, a meter of the product's prices, ``budget`` and ``observer`` is made."""
        prod = product_for(product)
        ends = endpoints or Endpoints.for_dc(dc, environment=environment)
        sess = session or build_session()
        tmo = timeouts or Timeouts()
        policy = retry or RetryPolicy()
        tokens = TokenManager(
            credentials,
            ends.accounts,
            session=sess,
            timeout=tmo.as_tuple(),
            retry=policy,
            refresh_margin_s=refresh_margin_s,
        )
        the_meter = meter or CreditMeter(prod.credit_costs, budget=budget, observer=observer)
        http = ZohoHttp(
            tokens,
            the_meter,
            trusted_origins=ends.trusted_origins(),
            session=sess,
            timeouts=tmo,
            retry=policy,
        )
        return cls(
            prod,
            ends,
            tokens,
            http,
            org_id=org_id,
            poll=poll,
            max_uncompressed_bytes=max_uncompressed_bytes,
            extract_csv=extract_csv,
            verify_crc=verify_crc,
        )

    @property
    def meter(self) -> CreditMeter:
        return self.http.meter

    def base_url(self) -> str:
        """This product's API base URL (CRM: the token's ``api_domain`` unless pinned)."""
        api_domain = self.tokens.api_domain if self.product.honours_api_domain else None
        return self.product.base_url(self.endpoints, api_domain)

    def upload_url(self) -> str:
        """Bulk write upload endpoint (the product's files host + upload path)."""
        return self.product.upload_url(self.endpoints)

    def org_headers(self) -> dict[str, str]:
        """``X-CRM-ORG`` / ``X-RECRUIT-ORG`` for uploads (needs ``org_id``)."""
        if not self.org_id:
            raise ValueError(f"{self.product.label} uploads need the org id (zgid): pass org_id=")
        return {self.product.org_header: self.org_id}

    def close(self) -> None:
        self.http.close()

    def __enter__(self) -> ZohoClient:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
