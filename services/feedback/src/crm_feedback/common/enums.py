"""Vocabularies of the feedback domain (DOMAIN.md §3; names as API.md fixes them)."""

from enum import StrEnum

from crm_chassis.dates import Instant


class Category(StrEnum):
    product_quality = "product_quality"
    service_attitude = "service_attitude"
    delivery = "delivery"
    billing = "billing"
    after_sales = "after_sales"
    other = "other"


class Severity(StrEnum):
    low = "low"
    medium = "medium"
    high = "high"
    critical = "critical"


class ComplaintChannel(StrEnum):
    phone = "phone"
    email = "email"
    web = "web"
    app = "app"
    sms = "sms"
    im = "im"
    visit = "visit"
    letter = "letter"
    social_media = "social_media"
    other = "other"


class SurveyChannel(StrEnum):
    on_site = "on_site"
    phone = "phone"
    mail = "mail"
    online = "online"


# An aware timestamp from a client, kept in UTC like every stored time, bounded in crm_chassis.dates.
UtcDateTime = Instant
