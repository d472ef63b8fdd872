"""Creator applications, forms, reports and fields of the simulator, as data.

Field type codes are Zoho's (``zoho-creator-api.md`` §4): a lookup reports its display type
(12 for a single lookup) and carries the form it points to. ``kind`` says how values are
generated. Two applications with different date formats and time zones cover every field type
the facts file lists; the ``Added_Time`` / ``Modified_Time`` system fields are in every record
but, like Zoho's, not in the fields metadata.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

SINGLE_LINE = 1
EMAIL = 3
NUMBER = 5
DECIMAL = 6
PERCENT = 7
CURRENCY = 8
DATE = 10
DATE_TIME = 11
DROP_DOWN = 12
MULTI_SELECT = 14
DECISION_BOX = 16
URL = 17

NUMERIC_TYPES = frozenset({NUMBER, DECIMAL, PERCENT, CURRENCY})
SYSTEM_FIELDS = ("Added_Time", "Modified_Time")

#: Zoho's date_format values -> strftime (months in English, like Zoho's samples)
DATE_FORMATS: Mapping[str, str] = MappingProxyType(
    {"dd-MMM-yyyy": "%d-%b-%Y", "MMM dd,yyyy": "%b %d,%Y", "MM-dd-yyyy": "%m-%d-%Y"}
)


@dataclass(frozen=True)
class CreatorField:
    link_name: str
    display_name: str
    type: int
    kind: str = "text"
    choices: tuple[str, ...] = ()
    lookup_form: str | None = None
    mandatory: bool = False
    unique: bool = False
    max_char: int = 255
    empty_pct: int = 0

    @property
    def is_lookup(self) -> bool:
        return self.lookup_form is not None

    def metadata(self) -> dict[str, object]:
        meta: dict[str, object] = {
            "link_name": self.link_name,
            "display_name": self.display_name,
            "type": self.type,
            "max_char": self.max_char,
            "unique": self.unique,
            "mandatory": self.mandatory,
        }
        if self.choices:
            meta["choices"] = [{"key": c, "value": c} for c in self.choices]
        return meta


@dataclass(frozen=True)
class CreatorForm:
    link_name: str
    display_name: str
    fields: tuple[CreatorField, ...]
    #: the field whose value a lookup to this form displays
    display_field: str
    number: int  # distinguishes the forms' record ids

    def field(self, link_name: str) -> CreatorField | None:
        return next((f for f in self.fields if f.link_name == link_name), None)


@dataclass(frozen=True)
class CreatorReport:
    link_name: str
    display_name: str
    form: str
    #: ``field_config=quick_view`` (the default) returns these; ``detail_view`` all fields
    quick_view: tuple[str, ...]
    type: int = 1


@dataclass(frozen=True)
class CreatorApp:
    link_name: str
    application_name: str
    date_format: str
    time_zone: str
    category: int
    creation_date: str
    forms: tuple[CreatorForm, ...]
    reports: tuple[CreatorReport, ...]
    #: default generated records per form
    records: Mapping[str, int] = field(default_factory=dict)

    def form(self, link_name: str) -> CreatorForm | None:
        return next((f for f in self.forms if f.link_name == link_name), None)

    def report(self, link_name: str) -> CreatorReport | None:
        return next((r for r in self.reports if r.link_name == link_name), None)

    @property
    def strftime_date(self) -> str:
        return DATE_FORMATS[self.date_format]

    @property
    def strftime_datetime(self) -> str:
        return DATE_FORMATS[self.date_format] + " %H:%M:%S"


def _typed_form(prefix: str, number: int, parent: str) -> tuple[CreatorField, ...]:
    """Fields of every listed type, link names prefixed per app."""
    return (
        CreatorField(f"{prefix}_Name", f"{prefix} name", SINGLE_LINE, "name", mandatory=True),
        CreatorField("Contact_Email", "Contact email", EMAIL, "email", empty_pct=10),
        CreatorField("Quantity", "Quantity", NUMBER, "number"),
        CreatorField("Weight", "Weight", DECIMAL, "decimal", empty_pct=5),
        CreatorField("Discount", "Discount", PERCENT, "percent"),
        CreatorField("Amount", "Amount", CURRENCY, "currency"),
        CreatorField("Due_Date", "Due date", DATE, "date", empty_pct=5),
        CreatorField("Visit_Time", "Visit time", DATE_TIME, "datetime"),
        CreatorField("Status", "Status", DROP_DOWN, "choice", ("Open", "In Progress", "Closed")),
        CreatorField("Tags", "Tags", MULTI_SELECT, "multi", ("Urgent", "Fragile", "VIP", "Bulk")),
        CreatorField("Expedited", "Expedited", DECISION_BOX, "decision"),
        CreatorField(parent, parent.replace("_", " "), DROP_DOWN, "lookup", lookup_form=parent),
        CreatorField("Website", "Website", URL, "url", empty_pct=20),
    )


def _parent_form(link_name: str, number: int) -> CreatorForm:
    return CreatorForm(
        link_name=link_name,
        display_name=link_name.replace("_", " "),
        fields=(
            CreatorField("Name", "Name", SINGLE_LINE, "name", mandatory=True, unique=True),
            CreatorField("City", "City", SINGLE_LINE, "city"),
        ),
        display_field="Name",
        number=number,
    )


ORDER_DESK = CreatorApp(
    link_name="order-desk",
    application_name="Order Desk",
    date_format="dd-MMM-yyyy",
    time_zone="Asia/Kolkata",
    category=1,
    creation_date="14-Apr-2020",
    forms=(
        _parent_form("Customer", 1),
        CreatorForm("Order", "Order", _typed_form("Order", 2, "Customer"), "Order_Name", 2),
    ),
    reports=(
        CreatorReport("All_Customers", "All Customers", "Customer", ("Name", "City")),
        CreatorReport(
            "All_Orders",
            "All Orders",
            "Order",
            ("Order_Name", "Status", "Amount", "Due_Date", "Customer"),
        ),
    ),
    records={"Customer": 300, "Order": 2_500},
)

FIELD_INSPECTIONS = CreatorApp(
    link_name="field-inspections",
    application_name="Field Inspections",
    date_format="MM-dd-yyyy",
    time_zone="America/Los_Angeles",
    category=1,
    creation_date="09-07-2021",
    forms=(
        _parent_form("Site", 3),
        CreatorForm(
            "Inspection", "Inspection", _typed_form("Inspection", 4, "Site"), "Inspection_Name", 4
        ),
    ),
    reports=(
        CreatorReport("All_Sites", "All Sites", "Site", ("Name", "City")),
        CreatorReport(
            "Inspection_Report",
            "Inspection Report",
            "Inspection",
            ("Inspection_Name", "Status", "Visit_Time", "Site"),
            type=6,
        ),
    ),
    records={"Site": 120, "Inspection": 1_200},
)

DEFAULT_APPS: tuple[CreatorApp, ...] = (ORDER_DESK, FIELD_INSPECTIONS)
