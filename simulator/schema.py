"""Field definitions of every simulated module, and their field-metadata JSON.

A ``FieldDef`` says what the metadata API reports (``data_type``, ``json_type``, length,
picklist values, lookup target, flags) and how ``generator`` makes its values (``kind``).
``ModuleSchema`` is the ordered field list of one module in one org; schema drift (a field
added, removed or changing type) replaces it with a modified copy.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

JSON_TYPES: dict[str, str] = {
    "text": "string",
    "textarea": "string",
    "email": "string",
    "phone": "string",
    "website": "string",
    "picklist": "string",
    "multiselectpicklist": "jsonarray",
    "lookup": "jsonobject",
    "ownerlookup": "jsonobject",
    "date": "string",
    "datetime": "string",
    "boolean": "boolean",
    "integer": "integer",
    "bigint": "string",
    "double": "double",
    "currency": "double",
    "percent": "double",
}

DEFAULT_LENGTHS: dict[str, int] = {
    "text": 255,
    "textarea": 32_000,
    "email": 100,
    "phone": 30,
    "website": 255,
    "picklist": 120,
    "multiselectpicklist": 2_000,
    "integer": 9,
    "bigint": 19,
    "double": 16,
    "currency": 16,
    "percent": 5,
}


@dataclass(frozen=True)
class FieldDef:
    """One field of a simulated module."""

    api_name: str
    data_type: str
    kind: str = ""  # generator kind; "" means "by data_type"
    picklist: tuple[str, ...] = ()
    lookup: str | None = None  # target module of a lookup; "users" for owner lookups
    mandatory: bool = False
    unique: bool = False
    read_only: bool = False
    empty_pct: int = 0  # share of records (0-100) where the value is empty
    #: an external-id field (metadata ``external``): bulk read cannot export it (§1.1)
    external: bool = False

    @property
    def json_type(self) -> str:
        return JSON_TYPES[self.data_type]

    @property
    def is_lookup(self) -> bool:
        return self.data_type in ("lookup", "ownerlookup")

    @property
    def decimal_place(self) -> int | None:
        return 2 if self.data_type in ("double", "currency", "percent") else None

    def metadata(self, field_id: str, module_id: str) -> dict[str, Any]:
        """The field as ``GET /crm/v8/settings/fields`` describes it."""
        lookup: dict[str, Any] = {}
        if self.data_type == "lookup" and self.lookup:
            lookup = {
                "display_label": self.lookup.replace("_", " "),
                "api_name": self.api_name,
                "module": {"api_name": self.lookup, "id": module_id},
                "id": field_id,
            }
        elif self.data_type == "ownerlookup":
            lookup = {"module": {"api_name": "users", "id": None}}
        label = self.api_name.replace("_", " ")
        return {
            "api_name": self.api_name,
            "id": field_id,
            "field_label": label,
            "display_label": label,
            "data_type": self.data_type,
            "json_type": self.json_type,
            "length": DEFAULT_LENGTHS.get(self.data_type),
            "decimal_place": self.decimal_place,
            "pick_list_values": [
                {"display_value": v, "actual_value": v, "id": f"{field_id}{i:03d}"}
                for i, v in enumerate(self.picklist)
            ],
            "lookup": lookup,
            "system_mandatory": self.mandatory,
            "unique": {"casesensitive": False} if self.unique else {},
            "read_only": self.read_only,
            "field_read_only": self.read_only,
            "custom_field": False,
            "external": (
                {"show": True, "type": "user", "allow_multiple_config": False}
                if self.external
                else None
            ),
        }


@dataclass(frozen=True)
class ModuleSchema:
    """The ordered fields of one module (``id`` is implicit and always present)."""

    product: str
    module: str
    number: int  # used in record ids: id_prefix * 10**12 + number * 10**10 + index
    display_field: str
    fields: tuple[FieldDef, ...]
    #: for a subform / line-item module: the module its rows belong to (via ``Parent_Id``)
    parent_module: str | None = None

    def field(self, api_name: str) -> FieldDef | None:
        for f in self.fields:
            if f.api_name == api_name:
                return f
        return None

    @property
    def names(self) -> list[str]:
        return [f.api_name for f in self.fields]

    @property
    def bulk_names(self) -> list[str]:
        """The fields a bulk read exports when asked for all of them (no external fields)."""
        return [f.api_name for f in self.fields if not f.external]

    def with_field_added(self, new: FieldDef) -> ModuleSchema:
        if self.field(new.api_name) is not None:
            raise ValueError(f"{self.module} already has a field {new.api_name}")
        return replace(self, fields=(*self.fields, new))

    def with_field_removed(self, api_name: str) -> ModuleSchema:
        if self.field(api_name) is None:
            raise ValueError(f"{self.module} has no field {api_name}")
        return replace(self, fields=tuple(f for f in self.fields if f.api_name != api_name))

    def with_field_type(self, api_name: str, data_type: str) -> ModuleSchema:
        if data_type not in JSON_TYPES or data_type in ("lookup", "ownerlookup"):
            raise ValueError(f"cannot change {api_name} to data type {data_type!r}")
        if self.field(api_name) is None:
            raise ValueError(f"{self.module} has no field {api_name}")
        return replace(
            self,
            fields=tuple(
                replace(f, data_type=data_type, kind="", picklist=default_picklist(data_type))
                if f.api_name == api_name
                else f
                for f in self.fields
            ),
        )


def default_picklist(data_type: str) -> tuple[str, ...]:
    if data_type in ("picklist", "multiselectpicklist"):
        return ("Alpha", "Beta", "Gamma", "Delta")
    return ()


def _audit() -> tuple[FieldDef, ...]:
    return (
        FieldDef("Created_Time", "datetime", kind="created_time", read_only=True),
        FieldDef("Modified_Time", "datetime", kind="modified_time", read_only=True),
        FieldDef("Created_By", "ownerlookup", lookup="users", read_only=True),
        FieldDef("Modified_By", "ownerlookup", lookup="users", read_only=True),
    )


LEAD_SOURCES = ("Advertisement", "Cold Call", "Employee Referral", "Web", "Trade Show", "Chat")
INDUSTRIES = ("ASP", "Data/Telecom OEM", "ERP", "Government/Military", "Manufacturing", "Retail")
RATINGS = ("Acquired", "Active", "Market Failed", "Project Cancelled", "Shut Down")

F = FieldDef

LEADS = ModuleSchema(
    "crm",
    "Leads",
    2,
    "Last_Name",
    (
        F("Owner", "ownerlookup", lookup="users"),
        F("First_Name", "text", kind="first_name", empty_pct=5),
        F("Last_Name", "text", kind="last_name", mandatory=True),
        F("Company", "text", kind="company", mandatory=True),
        F("Email", "email", kind="email", unique=True, empty_pct=3),
        F("Secondary_Email", "email", kind="email", empty_pct=70),
        F("Phone", "phone", kind="phone", empty_pct=10),
        F("Mobile", "phone", kind="phone", empty_pct=30),
        F("Designation", "text", kind="title", empty_pct=15),
        F("Lead_Source", "picklist", picklist=LEAD_SOURCES, empty_pct=5),
        F("Lead_Status", "picklist", picklist=("Not Contacted", "Attempted", "Qualified", "Lost")),
        F("Industry", "picklist", picklist=INDUSTRIES, empty_pct=10),
        F(
            "Product_Interest",
            "multiselectpicklist",
            picklist=("CRM", "Analytics", "Desk", "Books"),
        ),
        F("Annual_Revenue", "currency", empty_pct=20),
        F("No_of_Employees", "integer", empty_pct=20),
        F("Rating", "picklist", picklist=RATINGS, empty_pct=25),
        F("Email_Opt_Out", "boolean"),
        F("Website", "website", kind="website", empty_pct=30),
        F("Street", "text", kind="street", empty_pct=10),
        F("City", "text", kind="city", empty_pct=10),
        F("State", "text", kind="state", empty_pct=10),
        F("Zip_Code", "text", kind="zip", empty_pct=10),
        F("Country", "text", kind="country", empty_pct=10),
        F("Description", "textarea", kind="notes", empty_pct=40),
        F("Lead_Score", "integer", empty_pct=5),
        F("Conversion_Probability", "percent", empty_pct=10),
        F("Budget", "double", empty_pct=30),
        F("Follow_Up_Date", "date", empty_pct=20),
        F("Last_Activity_Time", "datetime", kind="activity_time", empty_pct=15),
        *_audit(),
    ),
)

ACCOUNTS = ModuleSchema(
    "crm",
    "Accounts",
    4,
    "Account_Name",
    (
        F("Owner", "ownerlookup", lookup="users"),
        F("Account_Name", "text", kind="company", mandatory=True, unique=True),
        F("Account_Number", "bigint", empty_pct=10),
        F("Account_Type", "picklist", picklist=("Analyst", "Competitor", "Customer", "Partner")),
        F("Industry", "picklist", picklist=INDUSTRIES, empty_pct=10),
        F("Annual_Revenue", "currency", empty_pct=15),
        F("Employees", "integer", empty_pct=15),
        F("Phone", "phone", kind="phone", empty_pct=5),
        F("Fax", "phone", kind="phone", empty_pct=60),
        F("Billing_Email", "email", kind="email", empty_pct=20),
        F("Website", "website", kind="website", empty_pct=10),
        F("Ownership", "picklist", picklist=("Private", "Public", "Subsidiary", "Other")),
        F("Rating", "picklist", picklist=RATINGS, empty_pct=30),
        F("SIC_Code", "integer", empty_pct=40),
        F("Ticker_Symbol", "text", kind="ticker", empty_pct=50),
        F("Billing_Street", "text", kind="street", empty_pct=5),
        F("Billing_City", "text", kind="city", empty_pct=5),
        F("Billing_State", "text", kind="state", empty_pct=5),
        F("Billing_Code", "text", kind="zip", empty_pct=5),
        F("Billing_Country", "text", kind="country", empty_pct=5),
        F("Description", "textarea", kind="notes", empty_pct=40),
        F("Tax_Rate", "percent", empty_pct=20),
        F("Credit_Limit", "double", empty_pct=20),
        F("Customer_Since", "date", empty_pct=10),
        F("Is_Key_Account", "boolean"),
        F("Regions", "multiselectpicklist", picklist=("EMEA", "APAC", "Americas", "Africa")),
        F("Last_Activity_Time", "datetime", kind="activity_time", empty_pct=15),
        F("External_Account_Id", "text", kind="ticker", empty_pct=30, external=True),
        *_audit(),
    ),
)

CONTACTS = ModuleSchema(
    "crm",
    "Contacts",
    3,
    "Last_Name",
    (
        F("Owner", "ownerlookup", lookup="users"),
        F("First_Name", "text", kind="first_name", empty_pct=5),
        F("Last_Name", "text", kind="last_name", mandatory=True),
        F("Email", "email", kind="email", unique=True, empty_pct=3),
        F("Secondary_Email", "email", kind="email", empty_pct=70),
        F("Phone", "phone", kind="phone", empty_pct=10),
        F("Mobile", "phone", kind="phone", empty_pct=30),
        F("Title", "text", kind="title", empty_pct=15),
        F("Department", "text", kind="department", empty_pct=25),
        F("Account_Name", "lookup", lookup="Accounts", empty_pct=10),
        F("Lead_Source", "picklist", picklist=LEAD_SOURCES, empty_pct=5),
        F("Date_of_Birth", "date", kind="birth_date", empty_pct=40),
        F("Mailing_Street", "text", kind="street", empty_pct=10),
        F("Mailing_City", "text", kind="city", empty_pct=10),
        F("Mailing_State", "text", kind="state", empty_pct=10),
        F("Mailing_Zip", "text", kind="zip", empty_pct=10),
        F("Mailing_Country", "text", kind="country", empty_pct=10),
        F("Description", "textarea", kind="notes", empty_pct=40),
        F("Email_Opt_Out", "boolean"),
        F("Languages", "multiselectpicklist", picklist=("English", "Deutsch", "हिन्दी", "日本語")),
        F("Contact_Score", "integer", empty_pct=5),
        F("Engagement_Rate", "percent", empty_pct=10),
        F("Lifetime_Value", "currency", empty_pct=20),
        F("Assistant", "text", kind="full_name", empty_pct=60),
        F("Last_Activity_Time", "datetime", kind="activity_time", empty_pct=15),
        *_audit(),
    ),
)

DEALS = ModuleSchema(
    "crm",
    "Deals",
    5,
    "Deal_Name",
    (
        F("Owner", "ownerlookup", lookup="users"),
        F("Deal_Name", "text", kind="deal_name", mandatory=True),
        F("Account_Name", "lookup", lookup="Accounts", empty_pct=5),
        F("Contact_Name", "lookup", lookup="Contacts", empty_pct=20),
        F("Amount", "currency", empty_pct=5),
        F(
            "Stage",
            "picklist",
            mandatory=True,
            picklist=("Qualification", "Needs Analysis", "Proposal", "Closed Won", "Closed Lost"),
        ),
        F("Probability", "percent"),
        F("Expected_Revenue", "currency", empty_pct=10),
        F("Closing_Date", "date", mandatory=True),
        F("Type", "picklist", picklist=("New Business", "Existing Business"), empty_pct=10),
        F("Lead_Source", "picklist", picklist=LEAD_SOURCES, empty_pct=10),
        F("Next_Step", "text", kind="next_step", empty_pct=30),
        F("Campaign_Source", "text", kind="campaign", empty_pct=50),
        F("Description", "textarea", kind="notes", empty_pct=40),
        F("Competitors", "multiselectpicklist", picklist=("Acme", "Globex", "Initech", "Umbrella")),
        F("Discount", "double", empty_pct=40),
        F("Quantity", "integer", empty_pct=10),
        F("Is_Renewal", "boolean"),
        F("Region", "picklist", picklist=("EMEA", "APAC", "Americas"), empty_pct=5),
        F("Forecast_Category", "picklist", picklist=("Pipeline", "Best Case", "Commit", "Closed")),
        F("Lost_Reason", "text", kind="next_step", empty_pct=80),
        F("Contact_Email", "email", kind="email", empty_pct=25),
        F("Contact_Phone", "phone", kind="phone", empty_pct=25),
        F("Last_Activity_Time", "datetime", kind="activity_time", empty_pct=15),
        *_audit(),
    ),
)

#: A subform of Deals (line items). Its rows only come from bulk write parent/child
#: imports (no generated records); ``Parent_Id`` links each row to its deal.
DEAL_LINE_ITEMS = ModuleSchema(
    "crm",
    "Deal_Line_Items",
    6,
    "Product_Name",
    (
        F("Parent_Id", "lookup", lookup="Deals", mandatory=True),
        F("Product_Name", "text", kind="next_step", mandatory=True),
        F("Quantity", "integer"),
        F("Unit_Price", "currency"),
        F("Line_Discount", "percent"),
        *_audit(),
    ),
    parent_module="Deals",
)

CANDIDATES = ModuleSchema(
    "recruit",
    "Candidates",
    11,
    "Last_Name",
    (
        F("Candidate_Owner", "ownerlookup", lookup="users"),
        F("First_Name", "text", kind="first_name", empty_pct=3),
        F("Last_Name", "text", kind="last_name", mandatory=True),
        F("Email", "email", kind="email", unique=True, empty_pct=2),
        F("Phone", "phone", kind="phone", empty_pct=10),
        F("Mobile", "phone", kind="phone", empty_pct=20),
        F("Current_Job_Title", "text", kind="title", empty_pct=10),
        F("Current_Employer", "text", kind="company", empty_pct=15),
        F("Experience_in_Years", "integer", empty_pct=5),
        F(
            "Highest_Qualification_Held",
            "picklist",
            picklist=("Secondary", "Bachelor", "Master", "Doctorate"),
            empty_pct=10,
        ),
        F("Skill_Set", "multiselectpicklist", picklist=("Python", "SQL", "Java", "Go", "Excel")),
        F("Expected_Salary", "currency", empty_pct=20),
        F("Current_Salary", "currency", empty_pct=25),
        F(
            "Candidate_Status",
            "picklist",
            picklist=("New", "In Review", "Interview", "Offered", "Hired", "Rejected"),
        ),
        F("Source", "picklist", picklist=("Added by User", "Import", "Job Board", "Referral")),
        F("Street", "text", kind="street", empty_pct=20),
        F("City", "text", kind="city", empty_pct=10),
        F("State", "text", kind="state", empty_pct=10),
        F("Zip_Code", "text", kind="zip", empty_pct=15),
        F("Country", "text", kind="country", empty_pct=10),
        F("Date_Available", "date", empty_pct=30),
        F("Willing_to_Relocate", "boolean"),
        F("Rating", "double", empty_pct=30),
        F("Notice_Period_Days", "integer", empty_pct=20),
        F("Match_Percentage", "percent", empty_pct=15),
        F("Additional_Info", "textarea", kind="notes", empty_pct=50),
        F("Website", "website", kind="website", empty_pct=60),
        *_audit(),
    ),
)

JOB_OPENINGS = ModuleSchema(
    "recruit",
    "Job_Openings",
    12,
    "Posting_Title",
    (
        F("Assigned_Recruiter", "ownerlookup", lookup="users"),
        F("Posting_Title", "text", kind="posting_title", mandatory=True),
        F("Client_Name", "text", kind="company", mandatory=True),
        F("Contact_Name", "text", kind="full_name", empty_pct=20),
        F("Department_Name", "text", kind="department", empty_pct=10),
        F(
            "Job_Opening_Status",
            "picklist",
            picklist=("Draft", "Open", "In-progress", "Filled", "Cancelled"),
        ),
        F("Job_Type", "picklist", picklist=("Full time", "Part time", "Contract", "Temporary")),
        F("Industry", "picklist", picklist=INDUSTRIES, empty_pct=10),
        F(
            "Work_Experience",
            "picklist",
            picklist=("Fresher", "0-1 year", "1-3 years", "4-5 years"),
        ),
        F("Salary", "currency", empty_pct=20),
        F("Number_of_Positions", "integer"),
        F("Target_Date", "date", empty_pct=10),
        F("Date_Opened", "date"),
        F("City", "text", kind="city", empty_pct=5),
        F("State", "text", kind="state", empty_pct=5),
        F("Country", "text", kind="country", empty_pct=5),
        F("Zip_Code", "text", kind="zip", empty_pct=10),
        F("Remote_Job", "boolean"),
        F("Required_Skills", "multiselectpicklist", picklist=("Python", "SQL", "Java", "Go")),
        F("Job_Description", "textarea", kind="notes", empty_pct=5),
        F("Revenue_per_Position", "currency", empty_pct=30),
        F("Expected_Revenue", "currency", empty_pct=30),
        F("Fill_Rate", "percent", empty_pct=20),
        F("Account_Manager", "ownerlookup", lookup="users", empty_pct=20),
        F("Contact_Email", "email", kind="email", empty_pct=20),
        F("Contact_Phone", "phone", kind="phone", empty_pct=20),
        *_audit(),
    ),
)

INTERVIEWS = ModuleSchema(
    "recruit",
    "Interviews",
    13,
    "Interview_Name",
    (
        F("Interview_Owner", "ownerlookup", lookup="users"),
        F("Interview_Name", "text", kind="interview_name", mandatory=True),
        F("Candidate_Name", "lookup", lookup="Candidates", mandatory=True),
        F("Job_Opening_Name", "lookup", lookup="Job_Openings", empty_pct=5),
        F("Interviewer", "ownerlookup", lookup="users", empty_pct=10),
        F("Type", "picklist", picklist=("Phone", "Video", "Onsite", "Panel")),
        F(
            "Interview_Status",
            "picklist",
            picklist=("Scheduled", "Completed", "Cancelled", "No Show"),
        ),
        F("Start_DateTime", "datetime", kind="activity_time"),
        F("End_DateTime", "datetime", kind="activity_time", empty_pct=10),
        F("Interview_Date", "date"),
        F("Venue", "text", kind="street", empty_pct=40),
        F("Location", "text", kind="city", empty_pct=30),
        F("Duration_Minutes", "integer", empty_pct=5),
        F("Score", "double", empty_pct=25),
        F("Rating", "picklist", picklist=("1", "2", "3", "4", "5"), empty_pct=25),
        F("Overall_Percentage", "percent", empty_pct=25),
        F("Feedback", "textarea", kind="notes", empty_pct=35),
        F("Recommended", "boolean"),
        F("Panel_Skills", "multiselectpicklist", picklist=("Python", "SQL", "Design", "Culture")),
        F("Interview_Round", "integer"),
        F("Reimbursement", "currency", empty_pct=70),
        F("Meeting_Link", "website", kind="website", empty_pct=40),
        F("Candidate_Email", "email", kind="email", empty_pct=10),
        F("Contact_Phone", "phone", kind="phone", empty_pct=30),
        *_audit(),
    ),
)

DEFAULT_SCHEMAS: dict[tuple[str, str], ModuleSchema] = {
    (s.product, s.module): s
    for s in (
        LEADS,
        CONTACTS,
        ACCOUNTS,
        DEALS,
        DEAL_LINE_ITEMS,
        CANDIDATES,
        JOB_OPENINGS,
        INTERVIEWS,
    )
}

#: modules Zoho cannot bulk-read (answered MODULE_NOT_SUPPORTED rather than "not available")
BULK_UNSUPPORTED_MODULES = frozenset({"Notes", "Attachments", "Emails"})
