"""deploy/k8s/: valid against the Kubernetes schemas (offline), and consistent with the code it runs:
the Settings it sets, the ports its probes use, the actors it deploys, the NATS files it mounts."""

from __future__ import annotations

import copy
import re
import shutil
import subprocess
from typing import Any

import kubernetes_validate
import pytest
import yaml

from actors.contracts.config import ConfigError
from ops.registry import ACTORS
from tests.support.manifests import (
    DEPLOY,
    K8S,
    KUBERNETES_VERSION,
    SECRET_TEMPLATE,
    Manifest,
    containers,
    environment,
    known_to_settings,
    load_yaml,
    manifest_files,
    manifests,
    of_kind,
    ours,
    pod_labels,
    pod_spec,
    port_names,
    settings_of,
    workloads,
)


@pytest.mark.parametrize("manifest", manifests(), ids=str)
def test_each_manifest_validates_against_the_kubernetes_schema(manifest: Manifest) -> None:
    """Strict: an unknown or misspelt field is an error, not something the API server drops."""
    kubernetes_validate.validate(manifest.doc, KUBERNETES_VERSION, strict=True)


def test_the_schema_check_refuses_a_misspelt_field() -> None:
    """The validation above can fail: `replica` for `replicas` is refused."""
    [edge] = [m for m in of_kind("Deployment") if m.name == "edge"]
    broken = copy.deepcopy(edge.doc)
    broken["spec"]["replica"] = broken["spec"].pop("replicas")
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, KUBERNETES_VERSION, strict=True)


def test_the_kustomizations_list_every_manifest_but_the_secret_template() -> None:
    [inner] = load_yaml(K8S / "kustomization.yaml")
    assert sorted(inner["resources"]) == sorted(p.name for p in manifest_files() if p != SECRET_TEMPLATE), (
        "a manifest in deploy/k8s/ that kustomize would not apply (or a listed one that is missing)"
    )
    [outer] = load_yaml(DEPLOY / "kustomization.yaml")
    assert outer["resources"] == ["k8s"]
    assert {i["name"] for i in inner["images"]} == {"loan-actors"}


def test_the_nats_config_generator_names_files_that_exist() -> None:
    """The StatefulSet mounts the generated ConfigMap and runs a file of it; that file's includes
    are generated too, so nothing in the cluster is a copy of deploy/*.conf."""
    [outer] = load_yaml(DEPLOY / "kustomization.yaml")
    [generator] = [g for g in outer["configMapGenerator"] if g["name"] == "nats-config"]
    files = [entry.rpartition("=")[2] for entry in generator["files"]]
    for name in files:
        assert (DEPLOY / name).is_file(), name
    [nats] = of_kind("StatefulSet")
    volumes = {v["name"]: v for v in pod_spec(nats)["volumes"]}
    [container] = containers(nats)
    [mount] = [m for m in container["volumeMounts"] if "configMap" in volumes.get(m["name"], {})]
    assert volumes[mount["name"]]["configMap"]["name"] == "nats-config"
    config = container["command"][container["command"].index("--config") + 1]
    folder, _, config_file = config.rpartition("/")
    assert folder == mount["mountPath"] and config_file in files
    includes = re.findall(r"^\s*include\s+\"?([^\s\"]+)", (DEPLOY / config_file).read_text(), re.M)
    assert includes and set(includes) <= set(files)


def _conf_variables(text: str) -> set[str]:
    # nats-server resolves $NAME outside quotes only ("$SRV.>" is a subject); # starts a comment
    unquoted = re.sub(r'"[^"\n]*"', "", text)
    code = "\n".join(line.split("#", 1)[0] for line in unquoted.splitlines())
    return set(re.findall(r"\$([A-Za-z_][A-Za-z0-9_]*)", code))


def test_the_nats_nodes_get_every_variable_their_configuration_reads() -> None:
    [outer] = load_yaml(DEPLOY / "kustomization.yaml")
    files = [e.rpartition("=")[2] for g in outer["configMapGenerator"] for e in g["files"]]
    needed = set().union(*(_conf_variables((DEPLOY / name).read_text()) for name in files))
    assert "LOANS_NATS_NODE" in needed and "LOANS_NATS_EDGE_PASSWORD" in needed  # the parse works
    [nats] = of_kind("StatefulSet")
    given = {v["name"] for v in containers(nats)[0]["env"]}
    assert needed <= given, f"deploy/*.conf reads variables the StatefulSet does not set: {needed - given}"


def test_every_environment_name_is_a_setting_the_config_knows() -> None:
    """Deployments and the Job set only variables load_settings reads (else a typo is silently
    ignored), and their literal values parse."""
    checked = 0
    for manifest, container in ours():
        env = environment(container)
        unknown = sorted(name for name in env if not known_to_settings(name))
        assert unknown == [], f"{manifest}: not settings of actors/contracts/config.py: {unknown}"
        try:
            settings_of(container)
        except ConfigError as exc:
            pytest.fail(f"{manifest}: {exc}")
        checked += 1
    assert checked == len(ACTORS) + 2  # every actor, the edge and the migration Job


def test_the_settings_check_can_fail() -> None:
    assert known_to_settings("LOANS_METRICS_PORT") and known_to_settings("LOANS_LOANS_DATABASE_URL")
    assert known_to_settings("LOANS_LOANS_DB_PASSWORD")
    assert not known_to_settings("LOANS_METRIC_PORT") and not known_to_settings("NATS_URL")
    assert not known_to_settings("LOANS_LOANS_DB_PASSWRD")


@pytest.mark.parametrize("manifest", workloads(), ids=str)
def test_probes_use_a_declared_container_port(manifest: Manifest) -> None:
    for container in containers(manifest):
        for kind in ("startupProbe", "livenessProbe", "readinessProbe"):
            probe: dict[str, Any] = container.get(kind) or {}
            handler = probe.get("httpGet") or probe.get("tcpSocket")
            if handler is not None:
                assert handler["port"] in port_names(container), f"{manifest} {kind}: {handler['port']}"


@pytest.mark.parametrize("actor", list(ACTORS))
def test_every_actor_has_a_probed_budgeted_locked_down_deployment(actor: str) -> None:
    found = [(m, c) for m, c in ours() if m.kind == "Deployment" and c.get("args") == ["worker", actor]]
    assert len(found) == 1, f"no Deployment runs `loans worker {actor}`"
    manifest, container = found[0]
    assert {"metrics", settings_of(container).metrics_port} <= port_names(container)
    for kind, path in (("livenessProbe", "/health"), ("readinessProbe", "/ready")):
        assert container[kind]["httpGet"] == {"path": path, "port": "metrics"}
    assert environment(container)["LOANS_NATS_USER"] == actor  # its user in nats-authorization.conf
    assert re.search(rf"^\s*user:\s*{actor}\s*$", (DEPLOY / "nats-authorization.conf").read_text(), re.M)
    _assert_locked_down(manifest, container)
    assert _budgets(manifest), f"{manifest}: no PodDisruptionBudget selects its pods"


def test_the_edge_is_probed_budgeted_scaled_and_reachable() -> None:
    [(edge, container)] = [(m, c) for m, c in ours() if c.get("args") == ["edge"]]
    assert edge.doc["spec"]["replicas"] == 3
    assert {"http", settings_of(container).http_port} <= port_names(container)
    _assert_locked_down(edge, container)
    assert _budgets(edge)
    [hpa] = of_kind("HorizontalPodAutoscaler")
    assert hpa.doc["spec"]["scaleTargetRef"]["name"] == "edge" and hpa.doc["spec"]["minReplicas"] == 3
    [service] = [s for s in of_kind("Service") if s.name == "edge"]
    assert service.doc["spec"]["selector"].items() <= pod_labels(edge).items()
    [ingress] = of_kind("Ingress")
    paths = [path for rule in ingress.doc["spec"]["rules"] for path in rule["http"]["paths"]]
    assert [path["backend"]["service"]["name"] for path in paths] == ["edge"]
    assert environment(container).get("LOANS_TRUSTED_PROXIES"), "behind the Ingress the proxies must be set"


def test_the_nats_cluster_keeps_jetstream_on_persistent_volumes() -> None:
    [nats] = of_kind("StatefulSet")
    assert nats.doc["spec"]["replicas"] == 3
    [claim] = nats.doc["spec"]["volumeClaimTemplates"]
    mounts = {m["name"]: m["mountPath"] for m in containers(nats)[0]["volumeMounts"]}
    store = next(v["value"] for v in containers(nats)[0]["env"] if v["name"] == "LOANS_NATS_STORE")
    assert store.startswith(mounts[claim["metadata"]["name"]] + "/")
    [headless] = [s for s in of_kind("Service") if s.name == nats.doc["spec"]["serviceName"]]
    assert headless.doc["spec"]["clusterIP"] == "None"
    [postgres] = [s for s in of_kind("Service") if s.name == "postgres"]
    assert postgres.doc["spec"]["type"] == "ExternalName"


def test_every_secret_key_used_is_in_the_template_and_only_placeholders_are() -> None:
    [template] = load_yaml(SECRET_TEMPLATE)
    keys = template["stringData"]
    for manifest in workloads():
        for container in containers(manifest):
            for variable in container.get("env", []):
                ref = variable.get("valueFrom", {}).get("secretKeyRef")
                if ref is not None:
                    assert ref["name"] == template["metadata"]["name"] and ref["key"] in keys, (manifest, ref)
        for volume in pod_spec(manifest).get("volumes", []):
            for item in volume.get("secret", {}).get("items", []):
                assert item["key"] in keys
    assert all("CHANGE-ME" in value for value in keys.values()), "a real secret in the template?"


def test_the_rendered_kustomization_validates_and_wires_the_generated_config() -> None:
    """What `kubectl apply -k deploy/` would send (kustomize built into kubectl, offline)."""
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        pytest.skip("kubectl (its built-in kustomize) is not installed; the files were checked one by one")
    built = subprocess.run([kubectl, "kustomize", str(DEPLOY)], capture_output=True, text=True, check=True)
    docs = [d for d in yaml.safe_load_all(built.stdout) if d]
    for doc in docs:
        kubernetes_validate.validate(doc, KUBERNETES_VERSION, strict=True)
        if doc["kind"] != "Namespace":
            assert doc["metadata"]["namespace"] == "loan-actors", doc["metadata"]["name"]
    [generated] = [d for d in docs if d["metadata"]["name"].startswith("nats-config-")]
    assert generated["data"]["nats-cluster.conf"] == (DEPLOY / "nats-cluster.conf").read_text()
    [nats] = [d for d in docs if d["kind"] == "StatefulSet"]
    names = [v["configMap"]["name"] for v in nats["spec"]["template"]["spec"]["volumes"] if "configMap" in v]
    assert names == [generated["metadata"]["name"]]
    pods = [d["spec"]["template"]["spec"] for d in docs if d["kind"] in ("Deployment", "Job")]
    assert {c["image"] for pod in pods for c in pod["containers"]} == {
        "registry.example.com/loan-actors:0.1.0"
    }


def _assert_locked_down(manifest: Manifest, container: dict[str, Any]) -> None:
    pod = pod_spec(manifest)["securityContext"]
    own = container["securityContext"]
    assert pod["runAsNonRoot"] is True and pod["runAsUser"] != 0
    assert own["readOnlyRootFilesystem"] is True and own["allowPrivilegeEscalation"] is False
    assert own["capabilities"]["drop"] == ["ALL"]
    assert {"cpu", "memory"} <= container["resources"]["requests"].keys()
    assert {"cpu", "memory"} <= container["resources"]["limits"].keys()


def _budgets(manifest: Manifest) -> list[Manifest]:
    labels = pod_labels(manifest)
    return [
        budget
        for budget in of_kind("PodDisruptionBudget")
        if budget.doc["spec"]["selector"]["matchLabels"].items() <= labels.items()
    ]


def test_each_worker_holds_only_its_own_database_login() -> None:
    """Issue 12 M4 in the cluster: a worker's pod names its own role's password and no other, nor
    the admin URL; the migration Job has every role's."""
    for manifest, container in ours():
        names = set(environment(container))
        passwords = {n for n in names if n.endswith("_DB_PASSWORD")}
        if manifest.path.stem == "migrate-job":
            assert passwords == {f"LOANS_{a.upper()}_DB_PASSWORD" for a in ACTORS}, manifest
            continue
        assert "LOANS_DB_ROLE_PASSWORD" not in names, manifest
        own = [a for a in ACTORS if manifest.path.stem == a]  # the edge: none
        assert passwords == {f"LOANS_{a.upper()}_DB_PASSWORD" for a in own}, manifest
