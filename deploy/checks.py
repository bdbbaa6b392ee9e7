"""What deploy/validate.sh checks beyond the schema validators: the Kubernetes
manifests rendered from kustomization.yaml and validated against the Kubernetes
OpenAPI schemas (kubernetes-validate, strict), and the references between
files that no schema sees (a Service that selects no pod, an HPA on a missing
Deployment, a prefix the ingress strips that the API does not know, an
ingress that lets the internet read /metrics ...).

    python deploy/checks.py [--deploy-dir DIR]

Prints every problem and exits 1 when there is one.
"""

from __future__ import annotations

import argparse
import importlib
import re
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

SERVICES = ("beneficiary", "training", "reporting")
COMMANDS = {"api", "worker", "migrate", "wait-for-schema", "healthcheck", "token"}
KUBERNETES_VERSIONS = ("1.29", "1.37")
"""The oldest and the newest Kubernetes the manifests are validated against."""
KUSTOMIZE_FIELDS = {"apiVersion", "kind", "namespace", "images", "resources"}
CLUSTER_SCOPED = {"Namespace", "ClusterRole", "ClusterRoleBinding", "IngressClass"}
WORKLOADS = {"Deployment", "StatefulSet", "Job", "DaemonSet"}
PLATFORM_IMAGE = "mhpss-platform"

Doc = dict[str, Any]


def load_yaml_docs(path: Path) -> list[Doc]:
    yaml: Any = importlib.import_module("yaml")
    docs = [d for d in yaml.safe_load_all(path.read_text()) if d is not None]
    for doc in docs:
        if not isinstance(doc, dict):
            raise ValueError(f"{path}: a document is not a mapping")
    return docs


def render_kustomization(directory: Path) -> list[Doc]:
    """Do what kustomize does with the fields kustomization.yaml may use."""
    (kustomization,) = load_yaml_docs(directory / "kustomization.yaml")
    unknown = set(kustomization) - KUSTOMIZE_FIELDS
    if unknown:
        raise ValueError(
            f"kustomization.yaml uses {sorted(unknown)}: only "
            f"{sorted(KUSTOMIZE_FIELDS)} are rendered here; put the rest in an overlay"
        )
    images = {i["name"]: i for i in kustomization.get("images", [])}
    docs: list[Doc] = []
    for resource in kustomization["resources"]:
        for doc in load_yaml_docs(directory / resource):
            if "namespace" in kustomization and doc.get("kind") not in CLUSTER_SCOPED:
                doc.setdefault("metadata", {})["namespace"] = kustomization["namespace"]
            for container in containers(doc):
                name = re.split(r"[:@]", container.get("image", ""), maxsplit=1)[0]
                if name in images:
                    image = images[name]
                    tag = image.get("newTag", "latest")
                    container["image"] = f"{image.get('newName', name)}:{tag}"
            docs.append(doc)
    return docs


def pod_spec(doc: Doc) -> Doc | None:
    if doc.get("kind") not in WORKLOADS:
        return None
    spec: Doc = doc.get("spec", {}).get("template", {}).get("spec", {})
    return spec


def pod_labels(doc: Doc) -> dict[str, str]:
    labels: dict[str, str] = (
        doc.get("spec", {}).get("template", {}).get("metadata", {}).get("labels", {})
    )
    return labels


def containers(doc: Doc, *, init: bool = True) -> Iterator[Doc]:
    spec = pod_spec(doc)
    if spec is None:
        return
    yield from spec.get("containers", [])
    if init:
        yield from spec.get("initContainers", [])


def matches(selector: Doc, labels: dict[str, str]) -> bool:
    """A label selector (matchLabels, matchExpressions In/NotIn/Exists)."""
    for key, value in selector.get("matchLabels", {}).items():
        if labels.get(key) != value:
            return False
    for expression in selector.get("matchExpressions", []):
        key, operator = expression["key"], expression["operator"]
        values = expression.get("values", [])
        if operator == "In" and labels.get(key) not in values:
            return False
        if operator == "NotIn" and labels.get(key) in values:
            return False
        if operator == "Exists" and key not in labels:
            return False
        if operator == "DoesNotExist" and key in labels:
            return False
    return True


def validate_schemas(docs: list[Doc], source: str) -> list[str]:
    """Strict validation against the Kubernetes OpenAPI schemas; an unknown
    kind or apiVersion is an error (the CLI only warns)."""
    kv: Any = importlib.import_module("kubernetes_validate")
    errors = []
    for doc in docs:
        name = f"{doc.get('kind')}/{doc.get('metadata', {}).get('name')}"
        for version in KUBERNETES_VERSIONS:
            try:
                kv.validate(doc, version, strict=True)
            except kv.SchemaNotFoundError:
                errors.append(
                    f"{source}: {name}: no schema for {doc.get('apiVersion')} "
                    f"{doc.get('kind')} in Kubernetes {version}"
                )
                break
            except kv.ValidationError as exc:
                where = ".".join(str(p) for p in exc.path)
                errors.append(
                    f"{source}: {name} (Kubernetes {version}): {where}: {exc.message}"
                )
                break
    return errors


def check_workload(doc: Doc, name: str, known: dict[str, set[str]]) -> list[str]:
    errors = []
    spec = pod_spec(doc)
    assert spec is not None
    selector = doc.get("spec", {}).get("selector")
    if doc["kind"] != "Job" and not (selector and matches(selector, pod_labels(doc))):
        errors.append(f"{name}: selector does not match its pod labels")
    if not spec.get("securityContext", {}).get("runAsNonRoot"):
        errors.append(f"{name}: pod securityContext.runAsNonRoot is not true")
    volumes = {v["name"]: v for v in spec.get("volumes", [])}
    for claim in doc.get("spec", {}).get("volumeClaimTemplates", []):
        volumes[claim["metadata"]["name"]] = {}
    for volume in volumes.values():
        for kind, key, field in (
            ("secret", "Secret", "secretName"),
            ("configMap", "ConfigMap", "name"),
            ("persistentVolumeClaim", "PersistentVolumeClaim", "claimName"),
        ):
            if kind in volume:
                ref = volume[kind]
                if ref[field] not in known.get(key, set()) and not ref.get("optional"):
                    errors.append(f"{name}: volume needs {key} {ref[field]}")
    for container in containers(doc):
        where = f"{name} container {container['name']}"
        context = container.get("securityContext", {})
        if context.get("allowPrivilegeEscalation") is not False:
            errors.append(f"{where}: allowPrivilegeEscalation is not false")
        if context.get("readOnlyRootFilesystem") is not True:
            errors.append(f"{where}: readOnlyRootFilesystem is not true")
        if "ALL" not in context.get("capabilities", {}).get("drop", []):
            errors.append(f"{where}: capabilities are not all dropped")
        resources = container.get("resources", {})
        if "requests" not in resources or "memory" not in resources.get("limits", {}):
            errors.append(f"{where}: needs resource requests and a memory limit")
        for mount in container.get("volumeMounts", []):
            if mount["name"] not in volumes:
                errors.append(f"{where}: mounts unknown volume {mount['name']}")
        for source in container.get("envFrom", []):
            for kind, key in (("secretRef", "Secret"), ("configMapRef", "ConfigMap")):
                ref = source.get(kind)
                if ref and ref["name"] not in known.get(key, set()):
                    errors.append(f"{where}: envFrom needs {key} {ref['name']}")
        image = container.get("image", "")
        if image.split(":")[0].endswith(PLATFORM_IMAGE):
            args = container.get("args", [])
            if not args or args[0] not in COMMANDS:
                errors.append(f"{where}: args {args} is no entrypoint command")
            elif args[0] in {"api", "worker", "migrate", "wait-for-schema"} and (
                len(args) < 2 or args[1] not in SERVICES
            ):
                errors.append(f"{where}: args {args} name no service")
    if doc["kind"] == "Deployment":
        ports = set()
        for container in containers(doc, init=False):
            for port in container.get("ports", []):
                ports.update({port.get("name"), port["containerPort"]})
        for container in containers(doc, init=False):
            for probe in ("livenessProbe", "readinessProbe"):
                if probe not in container:
                    errors.append(f"{name} container {container['name']}: no {probe}")
                    continue
                http = container[probe].get("httpGet")
                if http and http["port"] not in ports:
                    errors.append(f"{name}: {probe} port {http['port']} not declared")
    return errors


def check_k8s(docs: list[Doc], secrets: list[Doc]) -> list[str]:
    """References between the rendered manifests (and the Secret templates)."""
    errors = []
    by_kind: dict[str, dict[str, Doc]] = {}
    for doc in [*docs, *secrets]:
        kind, name = doc.get("kind", "?"), doc.get("metadata", {}).get("name", "?")
        if name in by_kind.setdefault(kind, {}) and doc not in secrets:
            errors.append(f"{kind}/{name} is defined twice")
        by_kind[kind][name] = doc
    known = {kind: set(names) for kind, names in by_kind.items()}
    workloads = [d for d in docs if d.get("kind") in WORKLOADS]
    all_pod_labels = [pod_labels(w) for w in workloads]
    for workload in workloads:
        name = f"{workload['kind']}/{workload['metadata']['name']}"
        errors += check_workload(workload, name, known)
    for name, service in by_kind.get("Service", {}).items():
        selected = [
            w
            for w in workloads
            if matches(
                {"matchLabels": service["spec"].get("selector", {})}, pod_labels(w)
            )
        ]
        if not selected:
            errors.append(f"Service/{name} selects no pod")
        for port in service["spec"].get("ports", []):
            target = port.get("targetPort", port["port"])
            declared = {
                value
                for w in selected
                for c in containers(w, init=False)
                for p in c.get("ports", [])
                for value in (p.get("name"), p["containerPort"])
            }
            if selected and target not in declared:
                errors.append(f"Service/{name}: targetPort {target} is no pod port")
    for kind in ("HorizontalPodAutoscaler",):
        for name, hpa in by_kind.get(kind, {}).items():
            target = hpa["spec"]["scaleTargetRef"]
            found = by_kind.get(target["kind"], {}).get(target["name"])
            if found is None:
                errors.append(f"{kind}/{name}: no {target['kind']}/{target['name']}")
            elif any(
                "cpu" not in c.get("resources", {}).get("requests", {})
                for c in containers(found, init=False)
            ):
                errors.append(f"{kind}/{name}: its target has no CPU request")
    for name, pdb in by_kind.get("PodDisruptionBudget", {}).items():
        if not any(
            matches(pdb["spec"]["selector"], labels) for labels in all_pod_labels
        ):
            errors.append(f"PodDisruptionBudget/{name} selects no pod")
    for name, policy in by_kind.get("NetworkPolicy", {}).items():
        selectors = [policy["spec"]["podSelector"]]
        for rule in [
            *policy["spec"].get("ingress", []),
            *policy["spec"].get("egress", []),
        ]:
            for peer in [*rule.get("from", []), *rule.get("to", [])]:
                if "podSelector" in peer and "namespaceSelector" not in peer:
                    selectors.append(peer["podSelector"])
        for selector in selectors:
            if selector and not any(matches(selector, lbl) for lbl in all_pod_labels):
                errors.append(f"NetworkPolicy/{name}: {selector} selects no pod")
    for name, ingress in by_kind.get("Ingress", {}).items():
        for rule in ingress["spec"].get("rules", []):
            for path in rule.get("http", {}).get("paths", []):
                backend = path["backend"]["service"]
                target = by_kind.get("Service", {}).get(backend["name"])
                if target is None:
                    errors.append(f"Ingress/{name}: no Service/{backend['name']}")
                    continue
                port = backend["port"].get("name", backend["port"].get("number"))
                ports = {
                    v
                    for p in target["spec"]["ports"]
                    for v in (p.get("name"), p["port"])
                }
                if port not in ports:
                    errors.append(
                        f"Ingress/{name}: Service/{backend['name']} has no {port}"
                    )
                prefix = re.match(r"(/[\w-]+)", path["path"])
                if prefix and routes_metrics(path["path"], prefix[1]):
                    errors.append(
                        f"Ingress/{name} {path['path']}: routes {prefix[1]}/metrics "
                        "to the API (metrics are for in-cluster monitoring only)"
                    )
                errors += check_root_path(
                    f"Ingress/{name} {path['path']}",
                    prefix[1] if prefix else "",
                    [
                        w
                        for w in workloads
                        if matches(
                            {"matchLabels": target["spec"]["selector"]}, pod_labels(w)
                        )
                    ],
                )
    return errors


def routes_metrics(pattern: str, prefix: str) -> bool:
    """Whether an ingress-nginx regex path (matched case-insensitively from
    the start of the decoded path) lets ``<prefix>/metrics`` through."""
    compiled = re.compile(pattern, re.IGNORECASE)
    return any(compiled.match(f"{prefix}/metrics{tail}") for tail in ("", "/"))


def caddy_hidden_paths(caddyfile: str) -> set[str]:
    """The paths of the named matchers whose ``handle`` answers 404."""
    hidden: set[str] = set()
    for name, paths in re.findall(r"@(\w+) path ([^\n]+)", caddyfile):
        if re.search(rf"handle @{name} \{{\s*respond [^\n]*\b404\b", caddyfile):
            hidden.update(paths.split())
    return hidden


def check_root_path(where: str, prefix: str, workloads: list[Doc]) -> list[str]:
    """The prefix the ingress strips must be the API's ROOT_PATH."""
    errors = []
    for workload in workloads:
        for container in containers(workload, init=False):
            env = {e["name"]: e.get("value") for e in container.get("env", [])}
            if env.get("ROOT_PATH") != prefix:
                errors.append(
                    f"{where}: strips {prefix} but {workload['metadata']['name']} "
                    f"has ROOT_PATH {env.get('ROOT_PATH')!r}"
                )
    return errors


def check_compose(compose_file: Path, caddyfile: Path, init_secrets: Path) -> list[str]:
    """References inside compose.yaml, and between it, the Caddyfile and the
    script that makes the secret files."""
    (compose,) = load_yaml_docs(compose_file)
    errors = []
    services: dict[str, Doc] = compose.get("services", {})
    declared = {
        key: set(compose.get(key) or {}) for key in ("volumes", "networks", "secrets")
    }
    for name, service in services.items():
        for dependency in service.get("depends_on", {}):
            if dependency not in services:
                errors.append(f"compose: {name} depends on unknown {dependency}")
        for secret in service.get("secrets", []):
            secret_name = secret if isinstance(secret, str) else secret["source"]
            if secret_name not in declared["secrets"]:
                errors.append(f"compose: {name} uses undeclared secret {secret_name}")
        for network in service.get("networks", []):
            if network not in declared["networks"]:
                errors.append(f"compose: {name} uses undeclared network {network}")
        for volume in service.get("volumes", []):
            source = (
                volume.split(":")[0] if isinstance(volume, str) else volume["source"]
            )
            if source.startswith("."):
                if not (compose_file.parent / source).exists():
                    errors.append(f"compose: {name} mounts missing {source}")
            elif source not in declared["volumes"]:
                errors.append(f"compose: {name} uses undeclared volume {source}")
        command = service.get("command", [])
        if str(service.get("image", "")).find(PLATFORM_IMAGE) >= 0:
            if not command or command[0] not in COMMANDS:
                errors.append(
                    f"compose: {name}: command {command} is no entrypoint one"
                )
            elif command[0] == "api":
                root = (service.get("environment") or {}).get("ROOT_PATH")
                if root != f"/{command[1]}":
                    errors.append(f"compose: {name}: ROOT_PATH {root!r} for {command}")
    script = init_secrets.read_text()
    for secret in (compose.get("secrets") or {}).values():
        file_name = Path(secret.get("file", "")).name
        if file_name and file_name not in script:
            errors.append(f"compose: {init_secrets.name} does not make {file_name}")
    caddy = caddyfile.read_text()
    routes = re.findall(
        r"handle_path (/[\w-]+)/\*\s*\{\s*reverse_proxy\s*\{\s*dynamic a "
        r"\{\$\w+:([\w-]+)\}",
        caddy,
    )
    hidden = caddy_hidden_paths(caddy)
    if not routes:
        errors.append("Caddyfile: no handle_path routes found")
    for prefix, upstream in routes:
        upstream_service = services.get(upstream)
        if upstream_service is None:
            errors.append(f"Caddyfile: {prefix} goes to unknown service {upstream}")
            continue
        root = (upstream_service.get("environment") or {}).get("ROOT_PATH")
        if root != prefix:
            errors.append(f"Caddyfile: strips {prefix} but {upstream} has {root!r}")
        if not {f"{prefix}/metrics", f"{prefix}/metrics/*"} <= hidden:
            errors.append(
                f"Caddyfile: {prefix}/metrics reaches {upstream}: answer it 404 "
                "(metrics are for monitoring inside the deployment only)"
            )
    return errors


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="deploy/checks.py")
    parser.add_argument("--deploy-dir", type=Path, default=Path(__file__).parent)
    args = parser.parse_args(argv)
    deploy: Path = args.deploy_dir
    errors: list[str] = []
    try:
        docs = render_kustomization(deploy / "k8s")
        secrets = load_yaml_docs(deploy / "k8s" / "secrets.example.yaml")
        trial = load_yaml_docs(deploy / "k8s" / "trial" / "datastores.yaml")
    except (OSError, ValueError, KeyError) as exc:
        print(f"cannot render the manifests: {exc}", file=sys.stderr)  # noqa: T201
        return 1
    errors += validate_schemas(docs, "k8s (rendered kustomization)")
    errors += validate_schemas(secrets, "k8s/secrets.example.yaml")
    errors += validate_schemas(trial, "k8s/trial/datastores.yaml")
    errors += check_k8s([*docs, *trial], secrets)
    errors += check_compose(
        deploy / "compose.yaml", deploy / "Caddyfile", deploy / "init-secrets.sh"
    )
    for error in errors:
        print(error, file=sys.stderr)  # noqa: T201
    kinds = sorted({str(d.get("kind")) for d in docs})
    print(  # noqa: T201
        f"checked {len(docs)} rendered Kubernetes resources ({', '.join(kinds)}), "
        f"{len(secrets)} Secret templates, {len(trial)} trial resources, "
        f"compose.yaml and the Caddyfile: {len(errors)} problem(s)"
    )
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
