"""Request and response shapes of `/customers` (field names as API.md fixes them)."""

from __future__ import annotations

import json
import re
import uuid
from datetime import date, datetime
from enum import StrEnum
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    EmailStr,
    Field,
    StringConstraints,
    field_validator,
)

from crm_chassis.dates import Instant, PastDate
from crm_customer.interactions.schemas import Channel


class Kind(StrEnum):
    individual = "individual"
    organization = "organization"


class Gender(StrEnum):
    female = "female"
    male = "male"
    other = "other"
    undisclosed = "undisclosed"


class AgeBand(StrEnum):
    under_18 = "under_18"
    b18_24 = "18_24"
    b25_34 = "25_34"
    b35_44 = "35_44"
    b45_54 = "45_54"
    b55_64 = "55_64"
    b65_plus = "65_plus"


class Education(StrEnum):
    primary = "primary"
    secondary = "secondary"
    vocational = "vocational"
    associate = "associate"
    bachelor = "bachelor"
    master = "master"
    doctorate = "doctorate"
    other = "other"


class FamilyStatus(StrEnum):
    single = "single"
    married = "married"
    married_with_children = "married_with_children"
    divorced = "divorced"
    widowed = "widowed"
    other = "other"


class PurchasingPower(StrEnum):
    low = "low"
    medium = "medium"
    high = "high"
    very_high = "very_high"


class NeedLevel(StrEnum):
    """How much the customer needs the product, lowest first."""

    none = "none"
    low = "low"
    medium = "medium"
    high = "high"
    urgent = "urgent"


class InfluenceLevel(StrEnum):
    """How far the customer's word carries (重点客户: influence), as the account manager judges it."""

    low = "low"
    medium = "medium"
    high = "high"


class CompanySize(StrEnum):
    micro = "micro"  # 1-9 people
    small = "small"  # 10-49
    medium = "medium"  # 50-249
    large = "large"  # 250-999
    enterprise = "enterprise"  # 1000+


class AcquisitionChannel(StrEnum):
    market_analysis = "market_analysis"
    data_query = "data_query"
    advertising = "advertising"
    referral = "referral"
    trade_fair = "trade_fair"
    directory_lookup = "directory_lookup"
    other = "other"


class LifecycleStage(StrEnum):
    prospect = "prospect"
    new = "new"
    active = "active"
    at_risk = "at_risk"
    lost = "lost"
    won_back = "won_back"


class LoyaltyStage(StrEnum):
    potential = "potential"
    new = "new"
    repeat = "repeat"
    long_term = "long_term"
    loyal = "loyal"


class RelationshipLevel(StrEnum):
    basic = "basic"
    reactive = "reactive"
    accountable = "accountable"
    proactive = "proactive"
    partnership = "partnership"


class LoyaltyKind(StrEnum):
    monopoly = "monopoly"
    inertia = "inertia"
    latent = "latent"
    convenience = "convenience"
    price = "price"
    incentive = "incentive"
    super_value = "super_value"


# The channels of the contact log, as a customer's preference: the same values, its own name in the
# API. (mypy knows the members only of a literal list; none are named in code.)
PreferredChannel = StrEnum("PreferredChannel", [(c.name, c.value) for c in Channel])  # type: ignore[misc]
PreferredChannel.__doc__ = "The channels of the contact log (`interactions`), as a customer's preference."


class ContactType(StrEnum):
    phone = "phone"
    email = "email"
    wechat = "wechat"
    im = "im"
    other = "other"


Text200 = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
# An older field, written by people and imports as they please; the loyalty tiers did not replace it.
MEMBERSHIP_TIER_NOTE = (
    "a free-text membership label kept as written (by people, imports or a partner's system); not the "
    "loyalty tier the points or a manager give, which GET /customers/{id}/tier answers"
)
Text100 = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
LongText = Annotated[str, StringConstraints(max_length=10_000)]
Label = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
_CUSTOM_KEY = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
MAX_CUSTOM_FIELDS_BYTES = 16 * 1024


def _unique(values: list[str]) -> list[str]:
    return list(dict.fromkeys(values))


Labels = Annotated[list[Label], Field(max_length=50), AfterValidator(_unique)]
Tags = Annotated[
    list[Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=50)]],
    Field(max_length=50),
    AfterValidator(_unique),
]


BirthDate = PastDate


def _custom_fields(value: dict[str, Any]) -> dict[str, Any]:
    if len(value) > 50:
        raise ValueError("at most 50 custom fields")
    for key, item in value.items():
        if not _CUSTOM_KEY.match(key):
            raise ValueError(f"custom field name {key!r} must match {_CUSTOM_KEY.pattern}")
        if not (item is None or isinstance(item, str | int | float | bool)):
            raise ValueError(f"custom field {key!r} must be a string, number, boolean or null")
        if isinstance(item, str) and len(item) > 1000:
            raise ValueError(f"custom field {key!r} is longer than 1000 characters")
    if len(json.dumps(value, ensure_ascii=False).encode()) > MAX_CUSTOM_FIELDS_BYTES:
        raise ValueError("custom fields are larger than 16 KiB in all")
    return value


CustomFields = Annotated[dict[str, Any], AfterValidator(_custom_fields)]


class Address(BaseModel):
    model_config = ConfigDict(extra="forbid")

    country: Annotated[str, StringConstraints(pattern=r"^[A-Z]{2}$")] | None = Field(
        default=None, description="ISO 3166-1 alpha-2"
    )
    region: Text100 | None = None
    city: Text100 | None = None
    district: Text100 | None = None
    street: Text200 | None = None
    postal_code: Annotated[str, StringConstraints(strip_whitespace=True, max_length=20)] | None = None


class OtherContact(BaseModel):
    model_config = ConfigDict(extra="forbid")

    type: ContactType
    value: Text200
    label: Text100 | None = None


INDIVIDUAL_FIELDS = frozenset(
    {
        "gender",
        "birth_date",
        "age_band",
        "education",
        "occupation",
        "family_status",
        "hobbies",
        "personality_notes",
        "taboos",
        "preferences",
        "best_contact_time",
        "purchasing_power",
        "has_purchase_authority",
        "need_level",
    }
)
ORGANIZATION_FIELDS = frozenset({"industry", "company_size", "business_lines", "management", "purchasing_activities"})


class CustomerFields(BaseModel):
    """Every writable field except `kind`; all optional so that PATCH can reuse them."""

    model_config = ConfigDict(extra="forbid")

    name: Text200 | None = None
    email: EmailStr | None = None
    phone: Annotated[str, StringConstraints(strip_whitespace=True, min_length=3, max_length=40)] | None = None
    other_contacts: Annotated[list[OtherContact], Field(max_length=20)] | None = None
    owner_id: uuid.UUID | None = None
    external_ref: Text100 | None = None
    tags: Tags | None = None
    custom_fields: CustomFields | None = None
    address: Address | None = None
    notes: LongText | None = None

    gender: Gender | None = None
    birth_date: BirthDate | None = None
    age_band: AgeBand | None = None
    education: Education | None = None
    occupation: Text100 | None = None
    family_status: FamilyStatus | None = None
    hobbies: Labels | None = None
    personality_notes: LongText | None = None
    taboos: Labels | None = None
    preferences: Labels | None = None
    best_contact_time: Text100 | None = None
    preferred_channel: PreferredChannel | None = Field(
        default=None, description="how the customer likes to be contacted"
    )
    influence_level: InfluenceLevel | None = Field(
        default=None, description="scoring counts `high` as influence, beside referrals made"
    )
    industry_standing: Text200 | None = Field(default=None, description="the customer's standing in its industry")
    purchasing_power: PurchasingPower | None = None
    has_purchase_authority: bool | None = None
    need_level: NeedLevel | None = Field(
        default=None, description="how much the customer needs the product (replaces the yes/no needs_product)"
    )

    industry: Text100 | None = None
    company_size: CompanySize | None = None
    business_lines: Labels | None = None
    management: LongText | None = None
    purchasing_activities: LongText | None = None

    acquisition_channel: AcquisitionChannel | None = None
    referred_by: uuid.UUID | None = None
    lifecycle_stage: LifecycleStage | None = None
    loyalty_stage: LoyaltyStage | None = None
    relationship_level: RelationshipLevel | None = None
    loyalty_kind: LoyaltyKind | None = None
    membership_tier: Text100 | None = Field(default=None, description=MEMBERSHIP_TIER_NOTE)
    marketing_consent: bool | None = None
    is_key: bool | None = None
    key_reason: Text200 | None = None

    @field_validator("email")
    @classmethod
    def _lower_email(cls, value: str | None) -> str | None:
        return value.lower() if value else value


class CustomerCreate(CustomerFields):
    kind: Kind
    name: Text200


class CustomerUpdate(CustomerFields):
    """Only the fields sent are changed; `null` clears a field (`name` cannot be cleared)."""


class CustomerRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    kind: Kind
    name: str
    email: str | None
    phone: str | None
    other_contacts: list[OtherContact]
    owner_id: uuid.UUID | None
    owner_name: str | None = Field(
        default=None, description="the account manager's name, once the user is known to this service"
    )
    external_ref: str | None
    tags: list[str]
    custom_fields: dict[str, Any]
    address: Address | None
    notes: str | None
    gender: Gender | None
    birth_date: date | None
    age_band: AgeBand | None
    education: Education | None
    occupation: str | None
    family_status: FamilyStatus | None
    hobbies: list[str]
    personality_notes: str | None
    taboos: list[str]
    preferences: list[str]
    best_contact_time: str | None
    preferred_channel: PreferredChannel | None = None
    influence_level: InfluenceLevel | None = None
    industry_standing: str | None = None
    purchasing_power: PurchasingPower | None
    has_purchase_authority: bool | None
    need_level: NeedLevel | None = None
    industry: str | None
    company_size: CompanySize | None
    business_lines: list[str]
    management: str | None
    purchasing_activities: str | None
    acquisition_channel: AcquisitionChannel | None
    referred_by: uuid.UUID | None
    lifecycle_stage: LifecycleStage
    lifecycle_cause: str | None = Field(
        default=None, description="why the stage is what it is: the rule that moved it last, or `set by hand`"
    )
    lifecycle_set_by: str | None = Field(default=None, description="who set the stage by hand (null: a rule did)")
    lifecycle_changed_at: datetime | None = None
    loyalty_stage: LoyaltyStage | None
    relationship_level: RelationshipLevel | None
    loyalty_kind: LoyaltyKind | None
    membership_tier: str | None = Field(description=MEMBERSHIP_TIER_NOTE)
    marketing_consent: bool
    is_key: bool
    key_reason: str | None
    suggested_value_segment: str | None = Field(default=None, description="scoring's value segment")
    suggested_abc_class: str | None = Field(default=None, description="scoring's ABC class")
    suggested_churn_risk: float | None = Field(default=None, description="scoring's churn risk, 0 to 1")
    suggested_lifecycle_stage: str | None = Field(default=None, description="the stage scoring suggests")
    suggested_loyalty_stage: str | None = Field(default=None, description="beside `loyalty_stage`, set by people")
    suggested_relationship_level: str | None = Field(
        default=None, description="beside `relationship_level`, set by people"
    )
    suggested_at: datetime | None = Field(default=None, description="when scoring's suggestions were last taken")
    created_at: datetime
    updated_at: datetime
    version: int


class CustomerListItem(CustomerRead):
    key_reasons: list[str] | None = Field(default=None, description="with key=true: why the customer is key")


class CustomerSort(StrEnum):
    created_at = "created_at"
    created_at_desc = "-created_at"
    updated_at = "updated_at"
    updated_at_desc = "-updated_at"
    name = "name"
    name_desc = "-name"


class CustomerFilters(BaseModel):
    q: (
        Annotated[
            str,
            StringConstraints(strip_whitespace=True, min_length=1, max_length=100, pattern=r"^[^\x00-\x1f\x7f]*$"),
        ]
        | None
    ) = Field(
        default=None, description="text to find in names (also by pinyin), emails and phones; no control characters"
    )
    kind: Kind | None = None
    owner_id: uuid.UUID | None = None
    lifecycle_stage: LifecycleStage | None = None
    acquisition_channel: AcquisitionChannel | None = None
    tag: Annotated[str, StringConstraints(min_length=1, max_length=50)] | None = None
    external_ref: Text100 | None = None
    referred_by: uuid.UUID | None = None
    key: bool | None = Field(
        default=None, description="true: key customers, and the senior leaders of key organisations"
    )
    created_after: Instant | None = None
    created_before: Instant | None = None
    updated_after: Instant | None = None


class OwnerChangeCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    owner_id: uuid.UUID | None
    reason: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=500)] | None = None


class OwnerChangeRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    customer_id: uuid.UUID
    from_owner_id: uuid.UUID | None
    to_owner_id: uuid.UUID | None
    reason: str | None
    changed_by: str
    changed_at: datetime


class CustomerChangeRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    action: str
    field: str | None
    old: Any
    new: Any
    changed_by: str
    changed_at: datetime
    cause: str | None = Field(default=None, description="for a change a rule made: the rule and what fired it")


class ReferralRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    name: str
    kind: Kind
    acquisition_channel: AcquisitionChannel | None
    lifecycle_stage: LifecycleStage
    created_at: datetime


class ReferralPage(BaseModel):
    count: int
    items: list[ReferralRead]
    next_cursor: str | None = None
