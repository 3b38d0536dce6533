"""The route table on its own: which service owns which public path."""

from __future__ import annotations

import pytest

from crm_gateway.proxy.headers import public_location
from crm_gateway.proxy.routing import resolve, split_path


@pytest.mark.parametrize(
    ("path", "upstream"),
    [
        ("customers/42/scores", "scoring"),
        ("customers/42/scores/history", "scoring"),
        ("scores", "scoring"),
        ("scoring/runs/7", "scoring"),
        ("scoring/model", "scoring"),
        ("care/due", "scoring"),
        ("analytics/retention", "scoring"),
        ("analytics/segments", "scoring"),
        ("analytics/abc", "scoring"),
        ("analytics/churn", "scoring"),
        ("complaints/5/transitions", "feedback"),
        ("sla-policies", "feedback"),
        ("suggestions", "feedback"),
        ("service-records/1", "feedback"),
        ("surveys/3/report", "feedback"),
        ("analytics/satisfaction", "feedback"),
        ("customers", "customer"),
        ("customers/", "customer"),
        ("customers/42", "customer"),
        ("customers/42/orders", "customer"),
        ("customers/duplicates", "customer"),
        ("orders", "customer"),
        ("interactions/9", "customer"),
        ("imports/1", "customer"),
        ("exports", "customer"),
    ],
)
def test_each_prefix_belongs_to_its_service(path, upstream):
    assert resolve(path) == upstream


@pytest.mark.parametrize(
    "path",
    [
        "",
        "internal/events",
        "analytics",
        "analytics/unknown",
        "customersx",
        "users",
        "customers/../internal/events",
        "customers/./42",
        "customers//42",
        "//customers",
    ],
)
def test_paths_outside_the_table_belong_to_nobody(path):
    assert resolve(path) is None


def test_dot_segments_are_refused():
    assert split_path("customers/..") is None
    assert split_path("customers/42/") == ["customers", "42"]


@pytest.mark.parametrize(
    ("location", "public"),
    [
        ("/customers/42", "/api/v1/customers/42"),
        ("http://127.0.0.1:8001/customers/42?x=1", "/api/v1/customers/42?x=1"),
        ("/api/v1/customers/42", "/api/v1/customers/42"),
        ("https://partner.example/callback", "https://partner.example/callback"),
        ("//evil.example/x", "//evil.example/x"),
    ],
)
def test_locations_are_moved_under_the_public_prefix(location, public):
    assert public_location(location, "http://127.0.0.1:8001") == public
