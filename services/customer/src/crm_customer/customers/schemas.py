"""Request and response shapes of `/customers` (field names as API.md fixes them)."""

from __future__ import annotations

import json
import re
import unicodedata
import uuid
from datetime import UTC, date, datetime
from enum import StrEnum
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    EmailStr,
    Field,
    StringConstraints,
    field_validator,
)


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


class ContactType(StrEnum):
    phone = "phone"
    email = "email"
    wechat = "wechat"
    im = "im"
    other = "other"


Text200 = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
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


def _past_date(value: date | None) -> date | None:
    if value is not None and (value > datetime.now(UTC).date() or value.year < 1900):
        raise ValueError("must be a date between 1900-01-01 and today")
    return value


BirthDate = Annotated[date, AfterValidator(_past_date)]


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
        "needs_product",
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
    purchasing_power: PurchasingPower | None = None
    has_purchase_authority: bool | None = None
    needs_product: bool | None = None

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
    membership_tier: Text100 | None = None
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
    purchasing_power: PurchasingPower | None
    has_purchase_authority: bool | None
    needs_product: bool | None
    industry: str | None
    company_size: CompanySize | None
    business_lines: list[str]
    management: str | None
    purchasing_activities: str | None
    acquisition_channel: AcquisitionChannel | None
    referred_by: uuid.UUID | None
    lifecycle_stage: LifecycleStage
    loyalty_stage: LoyaltyStage | None
    relationship_level: RelationshipLevel | None
    loyalty_kind: LoyaltyKind | None
    membership_tier: str | None
    marketing_consent: bool
    is_key: bool
    key_reason: str | None
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
    q: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)] | None = None
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
    created_after: AwareDatetime | None = None
    created_before: AwareDatetime | None = None
    updated_after: AwareDatetime | None = None


def normalise_text(value: str) -> str:
    """Width- and case-insensitive form of any script: 'Ｚｈａｎｇ' and 'zhang' match, '张伟' stays."""
    return unicodedata.normalize("NFKC", value).casefold()


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
