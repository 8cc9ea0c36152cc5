"""deploy/k8s/ read as data: its manifests, their pod templates and containers, the Settings
names a container's environment may use. For tests/deploy/."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from actors.contracts.config import PREFIX, Settings, load_settings

REPO = Path(__file__).resolve().parents[2]
DEPLOY = REPO / "deploy"
K8S = DEPLOY / "k8s"
SECRET_TEMPLATE = K8S / "secret.example.yaml"
# The version the manifests are validated against: kubernetes-validate bundles its schemas.
KUBERNETES_VERSION = "1.30"
IMAGE = "loan-actors"  # the name the manifests use; deploy/k8s/kustomization.yaml maps it


@dataclass(frozen=True)
class Manifest:
    path: Path
    doc: dict[str, Any]

    @property
    def kind(self) -> str:
        return str(self.doc["kind"])

    @property
    def name(self) -> str:
        return str(self.doc["metadata"]["name"])

    def __str__(self) -> str:
        return f"{self.path.name}:{self.kind}/{self.name}"


def load_yaml(path: Path) -> list[dict[str, Any]]:
    return [doc for doc in yaml.safe_load_all(path.read_text()) if doc]


def manifest_files() -> list[Path]:
    return sorted(p for p in K8S.glob("*.yaml") if p.name != "kustomization.yaml")


def manifests() -> list[Manifest]:
    return [Manifest(path, doc) for path in manifest_files() for doc in load_yaml(path)]


def of_kind(kind: str) -> list[Manifest]:
    return [m for m in manifests() if m.kind == kind]


def pod_spec(manifest: Manifest) -> dict[str, Any]:
    spec: dict[str, Any] = manifest.doc["spec"]["template"]["spec"]
    return spec


def pod_labels(manifest: Manifest) -> dict[str, str]:
    labels: dict[str, str] = manifest.doc["spec"]["template"]["metadata"]["labels"]
    return labels


def containers(manifest: Manifest) -> list[dict[str, Any]]:
    spec = pod_spec(manifest)
    return [*spec.get("initContainers", []), *spec["containers"]]


def workloads() -> list[Manifest]:
    return [m for m in manifests() if m.kind in ("Deployment", "StatefulSet", "Job")]


def ours() -> Iterator[tuple[Manifest, dict[str, Any]]]:
    """Every container that runs the project's image (the `loans` command), with its workload."""
    for manifest in workloads():
        for container in containers(manifest):
            if container["image"] == IMAGE:
                yield manifest, container


def config_map(name: str) -> dict[str, str]:
    [found] = [m for m in of_kind("ConfigMap") if m.name == name]
    data: dict[str, str] = found.doc["data"]
    return data


def environment(container: dict[str, Any]) -> dict[str, str | None]:
    """Every variable the container gets: its ConfigMaps' keys, then its own `env` (which wins);
    a value from a Secret is None (the template's placeholders are not values)."""
    names: dict[str, str | None] = {}
    for source in container.get("envFrom", []):
        names.update(config_map(source["configMapRef"]["name"]))
    for variable in container.get("env", []):
        names[variable["name"]] = variable.get("value")
    return names


def known_to_settings(name: str) -> bool:
    """Whether load_settings reads `name`: `LOANS_<field>` of Settings, or an actor's own database
    URL or role password (LOANS_<ACTOR>_DATABASE_URL, LOANS_<ACTOR>_DB_PASSWORD), which it
    gathers into one field each."""
    field = name.removeprefix(PREFIX).lower()
    gathered = {"actor_database_urls", "actor_db_passwords"}
    if name.startswith(PREFIX) and field in Settings.__struct_fields__ and field not in gathered:
        return True
    read = load_settings({name: "postgresql://probe@db.invalid/probe"})
    return bool(read.actor_database_urls or read.actor_db_passwords)


def port_names(container: dict[str, Any]) -> set[str | int]:
    ports = container.get("ports", [])
    return {p["containerPort"] for p in ports} | {p["name"] for p in ports if "name" in p}


def settings_of(container: dict[str, Any]) -> Settings:
    """The Settings the container's literal values give (its Secret's values left out)."""
    return load_settings({name: value for name, value in environment(container).items() if value is not None})
