"""deploy/k8s: every manifest is valid for the pinned Kubernetes version, and safe to run.

No cluster is needed: each resource is checked against the API's own schemas by
kubernetes-validate, and the production overlay's patches are applied to the base the way
kustomize merges them (maps merged, containers by name) before they are checked too.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml
from deployment_settings import SETTINGS, read_by, required_by

K8S = Path(__file__).parents[1] / "deploy" / "k8s"
KUBERNETES_VERSION = "1.37.0"


def _docs(path: Path) -> list[dict[str, Any]]:
    return [doc for doc in yaml.safe_load_all(path.read_text()) if doc]


def _base() -> dict[tuple[str, str], dict[str, Any]]:
    kustomization = yaml.safe_load((K8S / "base" / "kustomization.yaml").read_text())
    listed = set(kustomization["resources"])
    on_disk = {p.name for p in (K8S / "base").glob("*.yaml")} - {"kustomization.yaml"}
    assert listed == on_disk, f"files and kustomization disagree: {sorted(listed ^ on_disk)}"
    return {
        (doc["kind"], doc["metadata"]["name"]): doc for name in sorted(listed) for doc in _docs(K8S / "base" / name)
    }


def _merge(base: Any, patch: Any) -> Any:
    """Strategic merge as kustomize does it for these patches: maps deep, named lists by name."""
    if isinstance(base, dict) and isinstance(patch, dict):
        merged = dict(base)
        for key, value in patch.items():
            merged[key] = _merge(base[key], value) if key in base else value
        return merged
    if isinstance(base, list) and isinstance(patch, list) and all(isinstance(i, dict) and "name" in i for i in patch):
        by_name = {item["name"]: item for item in patch}
        merged_list = [_merge(item, by_name.pop(item["name"])) if item["name"] in by_name else item for item in base]
        return merged_list + list(by_name.values())
    return patch


def _production() -> dict[tuple[str, str], dict[str, Any]]:
    resources = copy.deepcopy(_base())
    overlay = yaml.safe_load((K8S / "overlays" / "production" / "kustomization.yaml").read_text())
    assert overlay["resources"] == ["../../base"]
    for patch_file in overlay["patches"]:
        patch = yaml.safe_load((K8S / "overlays" / "production" / patch_file["path"]).read_text())
        key = (patch["kind"], patch["metadata"]["name"])
        assert key in resources, f"{patch_file['path']} patches {key}, which the base does not have"
        resources[key] = _merge(resources[key], patch)
    images = {c["image"] for d in resources.values() for c in _pod(d).get("containers", [])}
    assert {image["name"] for image in overlay["images"]} == images
    return resources


def _pod(doc: dict[str, Any]) -> dict[str, Any]:
    return doc["spec"]["template"]["spec"] if doc["kind"] in ("Deployment", "Job") else {}


@pytest.mark.parametrize("variant", ["base", "production"])
def test_every_resource_is_valid_for_the_pinned_kubernetes_version(variant: str) -> None:
    resources = _base() if variant == "base" else _production()
    kinds = {kind for kind, _ in resources}
    assert {"Deployment", "Service", "HorizontalPodAutoscaler", "PodDisruptionBudget", "NetworkPolicy", "Job"} <= kinds
    for key, doc in resources.items():
        try:
            kubernetes_validate.validate(doc, KUBERNETES_VERSION, strict=True)
        except kubernetes_validate.ValidationError as exc:
            pytest.fail(f"{key}: {exc.message} at {list(exc.path)}")


def test_each_process_runs_unprivileged_probed_bounded_and_gracefully() -> None:
    resources = _base()
    deployments = {name: doc for (kind, name), doc in resources.items() if kind == "Deployment"}
    assert set(deployments) == set(SETTINGS)
    for name, doc in deployments.items():
        pod = _pod(doc)
        assert pod["securityContext"]["runAsNonRoot"] is True
        assert pod["terminationGracePeriodSeconds"] >= 30
        for container in pod["containers"]:
            assert container["securityContext"]["readOnlyRootFilesystem"] is True
            assert container["securityContext"]["allowPrivilegeEscalation"] is False
            assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
            assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
            assert {"cpu", "memory"} <= set(container["resources"]["requests"])
            assert "memory" in container["resources"]["limits"]
        assert ("HorizontalPodAutoscaler", name) in resources and ("PodDisruptionBudget", name) in resources
        assert ("Service", name) in resources and ("Job", f"{name}-migrate") in resources
    assert not [key for key in resources if key[0] == "Secret"], "secret values must not be committed"


def test_only_the_gateway_reaches_the_services() -> None:
    resources = _base()
    policy = resources[("NetworkPolicy", "services-from-gateway-and-peers")]
    selected = policy["spec"]["podSelector"]["matchLabels"]
    services = [d for (kind, n), d in resources.items() if kind == "Deployment" and n != "gateway"]
    for doc in services:
        labels = doc["spec"]["template"]["metadata"]["labels"]
        assert selected.items() <= labels.items(), f"{doc['metadata']['name']} is not covered by the policy"
    gateway_labels = resources[("Deployment", "gateway")]["spec"]["template"]["metadata"]["labels"]
    assert not selected.items() <= gateway_labels.items()
    sources = [peer["podSelector"]["matchLabels"] for rule in policy["spec"]["ingress"] for peer in rule["from"]]
    assert {"app.kubernetes.io/name": "gateway"} in sources
    assert all(
        "namespaceSelector" not in peer and "ipBlock" not in peer
        for r in policy["spec"]["ingress"]
        for peer in r["from"]
    )


def test_every_variable_is_read_and_every_required_one_is_provided() -> None:
    resources = _base()
    config = set(resources[("ConfigMap", "crm-config")]["data"])
    every_read = set().union(*(read_by(name) for name in SETTINGS))
    assert not config - every_read, f"the ConfigMap sets variables nothing reads: {sorted(config - every_read)}"
    for (kind, name), doc in resources.items():
        if kind not in ("Deployment", "Job"):
            continue
        process = name.removesuffix("-migrate")
        for container in _pod(doc)["containers"]:
            env = {item["name"] for item in container.get("env", [])}
            assert not env - set(read_by(process)), f"{name} sets {sorted(env - set(read_by(process)))}"
            if kind == "Deployment":
                missing = required_by(process) - env - config
                assert not missing, f"{name} is not given {sorted(missing)}"
