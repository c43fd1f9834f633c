"""What the Kubernetes manifests in deploy/kubernetes/ promise, checked against the code.

A layout is a kustomization directory (``replicas``, ``sidecar``); its documents are read by
following ``resources`` the way kustomize does. The bridge's settings in a container are
computed, not assumed: the Dockerfile's ``ENV``, then the container's ``env``, then the
ConfigMap's TOML, then the ``BridgeSettings`` defaults, through the bridge's own
``load_settings`` and ``build_key_map``. :func:`layout_problems` returns one sentence per
disagreement (an empty list: the manifests agree with the settings model and the image).
"""

from __future__ import annotations

import math
import os
import re
import tempfile
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any
from unittest import mock
from urllib.parse import urlsplit

import yaml

from proxy.config import BridgeSettings, ConfigError, load_settings
from proxy.keys import build_key_map
from proxy.operator_routes import READINESS_TIMEOUT_SECONDS
from tests.packaging_support import DOCKERFILE, ROOT, dockerfile_stages

KUBE_DIR = ROOT / "deploy" / "kubernetes"
LAYOUTS = ("replicas", "sidecar")
BRIDGE_IMAGE = "homerun-bridge"
ENV_PREFIX = "HOMERUN_BRIDGE_"
# Read by load_settings itself (where the TOML file is), not a field of the model.
ENV_NOT_A_FIELD = {"HOMERUN_BRIDGE_CONFIG"}
# Beyond the bridge's own bound (grace + 1 s): a loaded node is slow to deliver SIGTERM.
SHUTDOWN_MARGIN_SECONDS = 2.0
# The bridge exits within shutdown_grace_seconds plus this (proxy.lifecycle).
SHUTDOWN_AFTER_GRACE_SECONDS = 1.0
LOOPBACK = {"127.0.0.1", "localhost", "::1"}
WORKLOAD_KINDS = {"Deployment", "StatefulSet", "DaemonSet"}

Document = dict[str, Any]


@dataclass(frozen=True)
class Image:
    """What the Dockerfile's final stage says about the process it runs."""

    uid: int
    gid: int
    env: dict[str, str]
    workdir: str


def read_image(dockerfile: Path = DOCKERFILE) -> Image:
    """The final stage's USER, ENV and WORKDIR."""
    final = dockerfile_stages(dockerfile)["final"]
    users = [a for k, a in final if k == "USER"]
    assert users, "the Dockerfile's final stage sets no USER"
    uid, _, gid = users[-1].partition(":")
    env: dict[str, str] = {}
    for keyword, arguments in final:
        if keyword == "ENV":
            for name, value in re.findall(r'([A-Za-z_][A-Za-z0-9_]*)=("[^"]*"|\S+)', arguments):
                env[name] = value.strip('"')
    workdirs = [a for k, a in final if k == "WORKDIR"]
    return Image(int(uid), int(gid or uid), env, workdirs[-1] if workdirs else "/")


def read_documents(path: Path) -> list[Document]:
    return [d for d in yaml.safe_load_all(path.read_text(encoding="utf-8")) if d]


def layout_documents(directory: Path) -> list[Document]:
    """Every document a kustomization directory builds (resources followed recursively)."""
    kustomization = read_documents(directory / "kustomization.yaml")[0]
    documents: list[Document] = []
    for resource in kustomization.get("resources", []):
        target = (directory / resource).resolve()
        if target.is_dir():
            documents += layout_documents(target)
        else:
            documents += read_documents(target)
    return documents


def example_secrets(kube_dir: Path) -> list[Document]:
    """The example Secrets (kept out of every kustomization: they hold placeholders)."""
    return [
        d
        for path in sorted(kube_dir.glob("*.example.yaml"))
        for d in read_documents(path)
        if d.get("kind") == "Secret"
    ]


def _name(document: Document) -> str:
    return f"{document['kind']}/{document['metadata']['name']}"


def _selects(selector: dict[str, str], labels: dict[str, str]) -> bool:
    return bool(selector) and all(labels.get(k) == v for k, v in selector.items())


@dataclass
class Bridge:
    """One container running the bridge, with the pod it runs in."""

    workload: Document
    container: dict[str, Any]
    init: bool
    settings: BridgeSettings | None = None
    problems: list[str] = field(default_factory=list)

    @property
    def pod(self) -> dict[str, Any]:
        return dict(self.workload["spec"]["template"]["spec"])

    @property
    def labels(self) -> dict[str, str]:
        return dict(self.workload["spec"]["template"]["metadata"].get("labels", {}))

    @property
    def where(self) -> str:
        return f"{_name(self.workload)} container {self.container['name']}"

    def processes(self) -> int:
        """Bridge processes this workload may run at once (a rollout's surge included)."""
        spec = self.workload["spec"]
        replicas = int(spec.get("replicas", 1))
        strategy = spec.get("strategy", {})
        if self.workload["kind"] != "Deployment" or strategy.get("type") == "Recreate":
            return replicas
        surge = strategy.get("rollingUpdate", {}).get("maxSurge", "25%")
        if isinstance(surge, str) and surge.endswith("%"):
            surge = math.ceil(replicas * int(surge[:-1]) / 100)
        return replicas + int(surge)


def _is_bridge(container: dict[str, Any]) -> bool:
    image = str(container.get("image", ""))
    return image.rsplit("/", 1)[-1].split(":")[0].split("@")[0] == BRIDGE_IMAGE


def find_bridges(documents: list[Document]) -> list[Bridge]:
    bridges = []
    for workload in documents:
        if workload.get("kind") not in WORKLOAD_KINDS:
            continue
        pod = workload["spec"]["template"]["spec"]
        for init, key in ((True, "initContainers"), (False, "containers")):
            for container in pod.get(key, []):
                if _is_bridge(container):
                    bridges.append(Bridge(workload, container, init))
    return bridges


def _literal_env(container: dict[str, Any]) -> dict[str, str]:
    return {e["name"]: str(e["value"]) for e in container.get("env", []) if "value" in e}


def _secret_refs(container: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {
        e["name"]: e["valueFrom"]["secretKeyRef"]
        for e in container.get("env", [])
        if "secretKeyRef" in e.get("valueFrom", {})
    }


def _secret_data(secret: Document) -> dict[str, str]:
    return {**secret.get("data", {}), **secret.get("stringData", {})}


def _config_text(bridge: Bridge, documents: list[Document], path: str) -> str | None:
    """The ConfigMap key mounted at ``path`` in the bridge's container, if any."""
    volumes = {v["name"]: v for v in bridge.pod.get("volumes", [])}
    config_maps = {
        d["metadata"]["name"]: d.get("data", {}) for d in documents if d.get("kind") == "ConfigMap"
    }
    for mount in bridge.container.get("volumeMounts", []):
        source = volumes.get(mount["name"], {}).get("configMap")
        if source is None or source["name"] not in config_maps:
            continue
        data = config_maps[source["name"]]
        mounted = PurePosixPath(mount["mountPath"])
        if "subPath" in mount:
            files = {mounted: mount["subPath"]}
        elif source.get("items"):
            files = {mounted / item["path"]: item["key"] for item in source["items"]}
        else:
            files = {mounted / key: key for key in data}
        key = files.get(PurePosixPath(path))
        if key is not None and key in data:
            return str(data[key])
    return None


def bridge_environment(
    bridge: Bridge, documents: list[Document], secrets: list[Document], image: Image, scratch: Path
) -> dict[str, str] | None:
    """The environment the container gets (the image's, then its own, Secret values from the
    example Secret), with the mounted ConfigMap written under ``scratch`` and
    HOMERUN_BRIDGE_CONFIG pointing there; None (and a problem) if that file is not mounted."""
    env = {**image.env, **_literal_env(bridge.container)}
    secret_values = {_name(s): _secret_data(s) for s in secrets}
    for name, ref in _secret_refs(bridge.container).items():
        env[name] = str(secret_values.get(f"Secret/{ref['name']}", {}).get(ref["key"], ""))
    config_path = env.get("HOMERUN_BRIDGE_CONFIG")
    if config_path is not None:
        text = _config_text(bridge, documents, config_path)
        if text is None:
            bridge.problems.append(
                f"{bridge.where}: HOMERUN_BRIDGE_CONFIG={config_path} is not a mounted "
                "ConfigMap key"
            )
            return None
        local = scratch / "bridge.toml"
        local.write_text(text, encoding="utf-8")
        env["HOMERUN_BRIDGE_CONFIG"] = str(local)
    return env


def load_bridge_settings(
    bridge: Bridge, documents: list[Document], secrets: list[Document], image: Image
) -> None:
    """The settings the bridge process in this container would start with (or why not)."""
    with tempfile.TemporaryDirectory() as scratch:
        env = bridge_environment(bridge, documents, secrets, image, Path(scratch))
        if env is None:
            return
        with mock.patch.dict(os.environ, env, clear=True):
            try:
                bridge.settings = load_settings()
                build_key_map(bridge.settings)
            except ConfigError as exc:
                bridge.problems.append(f"{bridge.where}: the bridge would not start: {exc}")


def _check_env_names(bridge: Bridge) -> None:
    if bridge.container.get("envFrom"):
        bridge.problems.append(f"{bridge.where}: envFrom hides which settings arrive; list env")
    for entry in bridge.container.get("env", []):
        name = entry["name"]
        if not name.startswith(ENV_PREFIX) or name in ENV_NOT_A_FIELD:
            continue
        setting = name[len(ENV_PREFIX) :].lower().split("__")[0]
        if setting not in BridgeSettings.model_fields:
            bridge.problems.append(
                f"{bridge.where}: {name} is not a setting of BridgeSettings (no field {setting})"
            )


def _check_secrets(bridge: Bridge, secrets: list[Document]) -> None:
    settings = bridge.settings
    assert settings is not None
    named = [k.v2_key_env for k in settings.keys if k.v2_key_env]
    named += [settings.admin_token_env] if settings.admin_token_env else []
    refs = _secret_refs(bridge.container)
    by_name = {s["metadata"]["name"]: _secret_data(s) for s in secrets}
    for variable in named:
        ref = refs.get(variable)
        if ref is None:
            bridge.problems.append(
                f"{bridge.where}: {variable} (named by the configuration) does not come from "
                "a Secret"
            )
        elif ref["name"] not in by_name:
            bridge.problems.append(f"{bridge.where}: {variable}: no example Secret {ref['name']}")
        elif ref["key"] not in by_name[ref["name"]]:
            bridge.problems.append(
                f"{bridge.where}: {variable}: key {ref['key']} is not in Secret {ref['name']}"
            )
        elif ref.get("optional"):
            bridge.problems.append(f"{bridge.where}: {variable} must not be optional")
    for variable in sorted(set(refs) - set(named)):
        bridge.problems.append(
            f"{bridge.where}: {variable} comes from a Secret but the configuration never names it"
        )


def _port_number(container: dict[str, Any], port: int | str) -> int | None:
    if isinstance(port, int):
        return port
    for declared in container.get("ports", []):
        if declared.get("name") == port:
            return int(declared["containerPort"])
    return None


def _probe_target(bridge: Bridge, probe: dict[str, Any]) -> tuple[str, int | None, str]:
    """(host, port, path) the probe asks; host "" means the pod IP (kubelet's httpGet)."""
    if "httpGet" in probe:
        get = probe["httpGet"]
        return get.get("host", ""), _port_number(bridge.container, get["port"]), get["path"]
    if "exec" in probe:
        urls = [a for a in probe["exec"]["command"] if str(a).startswith("http")]
        if len(urls) == 1:
            url = urlsplit(urls[0])
            return url.hostname or "", url.port or 80, url.path
    return "", None, ""


def _check_probes(bridge: Bridge) -> None:
    settings = bridge.settings
    assert settings is not None
    wanted = {"livenessProbe": "/healthz", "readinessProbe": "/readyz", "startupProbe": "/healthz"}
    for kind, path in wanted.items():
        probe = bridge.container.get(kind)
        if probe is None:
            if kind != "startupProbe" or bridge.init:
                # A sidecar without one lets the app start before the bridge listens.
                bridge.problems.append(f"{bridge.where}: no {kind}")
            continue
        host, port, asked = _probe_target(bridge, probe)
        if asked != path:
            bridge.problems.append(f"{bridge.where}: {kind} asks {asked or '?'}, not {path}")
        if port != settings.port:
            bridge.problems.append(
                f"{bridge.where}: {kind} asks port {port}, the bridge listens on {settings.port}"
            )
        if settings.host in LOOPBACK and host not in LOOPBACK:
            bridge.problems.append(
                f"{bridge.where}: {kind} reaches the pod IP, the bridge listens on "
                f"{settings.host} only"
            )
    readiness = bridge.container.get("readinessProbe", {})
    needed = READINESS_TIMEOUT_SECONDS + settings.store_timeout_seconds
    if readiness and readiness.get("timeoutSeconds", 1) <= needed:
        bridge.problems.append(
            f"{bridge.where}: readinessProbe timeoutSeconds {readiness.get('timeoutSeconds', 1)}"
            f" <= {needed} s, the longest /readyz takes (v2 ping + store)"
        )


def _merged_security(bridge: Bridge) -> dict[str, Any]:
    return {**bridge.pod.get("securityContext", {}), **bridge.container.get("securityContext", {})}


def _check_security(bridge: Bridge, image: Image) -> None:
    merged = _merged_security(bridge)
    own = bridge.container.get("securityContext", {})
    user = f" (the Dockerfile's USER {image.uid}:{image.gid})"
    expected = {
        "runAsNonRoot": (merged, True, ""),
        "runAsUser": (merged, image.uid, user),
        "runAsGroup": (merged, image.gid, user),
        "readOnlyRootFilesystem": (own, True, ""),
        "allowPrivilegeEscalation": (own, False, ""),
    }
    for key, (context, value, why) in expected.items():
        if context.get(key) != value:
            bridge.problems.append(
                f"{bridge.where}: securityContext.{key} is {context.get(key)!r}, expected "
                f"{value!r}{why}"
            )
    if own.get("privileged"):
        bridge.problems.append(f"{bridge.where}: privileged")
    capabilities = own.get("capabilities", {})
    if "ALL" not in capabilities.get("drop", []) or capabilities.get("add"):
        bridge.problems.append(f"{bridge.where}: capabilities must drop ALL and add none")
    if merged.get("seccompProfile", {}).get("type") != "RuntimeDefault":
        bridge.problems.append(f"{bridge.where}: seccompProfile is not RuntimeDefault")
    volumes = {v["name"]: v for v in bridge.pod.get("volumes", [])}
    writable = [
        m
        for m in bridge.container.get("volumeMounts", [])
        if m["mountPath"] == image.workdir and "emptyDir" in volumes.get(m["name"], {})
    ]
    if not writable:
        bridge.problems.append(
            f"{bridge.where}: no emptyDir at the image's WORKDIR {image.workdir} "
            "(the root filesystem is read-only)"
        )


def _pre_stop_seconds(container: dict[str, Any]) -> float:
    pre_stop = container.get("lifecycle", {}).get("preStop", {})
    if "sleep" in pre_stop:
        return float(pre_stop["sleep"]["seconds"])
    command = [str(a) for a in pre_stop.get("exec", {}).get("command", [])]
    if len(command) == 2 and command[0].rsplit("/", 1)[-1] == "sleep":
        return float(command[1])
    return 0.0


def shutdown_bound(bridge: Bridge) -> float:
    """Seconds from the pod's deletion until the bridge has exited, at most."""
    assert bridge.settings is not None
    return (
        _pre_stop_seconds(bridge.container)
        + bridge.settings.shutdown_grace_seconds
        + SHUTDOWN_AFTER_GRACE_SECONDS
    )


def _check_pod(bridge: Bridge) -> None:
    pod = bridge.pod
    grace = float(pod.get("terminationGracePeriodSeconds", 30))
    bound = shutdown_bound(bridge)
    if grace < bound + SHUTDOWN_MARGIN_SECONDS:
        bridge.problems.append(
            f"{bridge.where}: terminationGracePeriodSeconds {grace:g} is below the bridge's "
            f"shutdown bound {bound:g} s + {SHUTDOWN_MARGIN_SECONDS:g} s margin"
        )
    if pod.get("enableServiceLinks", True) is not False:
        bridge.problems.append(
            f"{bridge.where}: enableServiceLinks must be false (a Service named "
            "homerun-bridge would set HOMERUN_BRIDGE_PORT=tcp://...)"
        )
    if bridge.init and bridge.container.get("restartPolicy") != "Always":
        bridge.problems.append(
            f"{bridge.where}: an init container without restartPolicy: Always is not a "
            "sidecar (the app would wait for it to exit)"
        )


def _check_budget(bridges: list[Bridge], documents: list[Document]) -> list[str]:
    """Processes sharing one store divide the budget while it is down: share = 1/N."""
    problems: list[str] = []
    by_store: dict[str, list[Bridge]] = {}
    for bridge in bridges:
        assert bridge.settings is not None
        by_store.setdefault(bridge.settings.store_url, []).append(bridge)
    for store_url, sharing in by_store.items():
        processes = sum(b.processes() for b in sharing)
        if processes > 1 and not store_url.startswith(("redis://", "rediss://")):
            problems.append(f"{processes} bridge processes on {store_url}: they need one Redis")
            continue
        for bridge in sharing:
            assert bridge.settings is not None
            share = bridge.settings.store_outage_share
            if not math.isclose(share, 1 / processes):
                problems.append(
                    f"{bridge.where}: store_outage_share {share:g} for {processes} bridge "
                    f"processes (replicas and surge): set it to 1/{processes}"
                )
        if processes > 1:
            problems += _check_store_reachable(store_url, sharing, documents)
    return problems


def _services(documents: list[Document]) -> list[Document]:
    return [d for d in documents if d.get("kind") == "Service"]


def _workloads(documents: list[Document]) -> list[Document]:
    return [d for d in documents if d.get("kind") in WORKLOAD_KINDS]


def _pod_labels(workload: Document) -> dict[str, str]:
    return dict(workload["spec"]["template"]["metadata"].get("labels", {}))


def _check_store_reachable(
    store_url: str, bridges: list[Bridge], documents: list[Document]
) -> list[str]:
    url = urlsplit(store_url)
    services = [s for s in _services(documents) if s["metadata"]["name"] == url.hostname]
    if not services:
        return [f"store_url {store_url}: no Service named {url.hostname}"]
    service = services[0]
    if not any(p["port"] == (url.port or 6379) for p in service["spec"].get("ports", [])):
        return [f"store_url {store_url}: Service {url.hostname} has no port {url.port}"]
    selector = service["spec"]["selector"]
    targets = [w for w in _workloads(documents) if _selects(selector, _pod_labels(w))]
    if not targets:
        return [f"Service {url.hostname} selects no workload"]
    problems = []
    for policy in (d for d in documents if d.get("kind") == "NetworkPolicy"):
        guarded = policy["spec"]["podSelector"].get("matchLabels", {})
        if not any(_selects(guarded, _pod_labels(t)) for t in targets):
            continue
        allowed = [
            peer["podSelector"].get("matchLabels", {})
            for rule in policy["spec"].get("ingress", [])
            for peer in rule.get("from", [])
            if "podSelector" in peer
        ]
        for bridge in bridges:
            if not any(_selects(a, bridge.labels) for a in allowed):
                problems.append(
                    f"{bridge.where}: NetworkPolicy {policy['metadata']['name']} keeps its pods "
                    f"from {url.hostname}"
                )
    return problems


def _check_clients(bridges: list[Bridge], documents: list[Document]) -> list[str]:
    """Every container with a ``…/v1`` base URL reaches a bridge there; at least one does."""
    problems: list[str] = []
    clients = 0
    for workload in _workloads(documents):
        pod = workload["spec"]["template"]["spec"]
        for container in pod.get("containers", []) + pod.get("initContainers", []):
            if _is_bridge(container):
                continue
            for name, value in _literal_env(container).items():
                url = urlsplit(value)
                if url.scheme not in ("http", "https") or not url.path.rstrip("/").endswith("/v1"):
                    continue
                clients += 1
                where = f"{_name(workload)} container {container['name']} {name}={value}"
                if url.hostname in LOOPBACK:
                    beside = [b for b in bridges if b.workload is workload and b.settings]
                    if not any(b.settings and b.settings.port == url.port for b in beside):
                        problems.append(f"{where}: no bridge in the pod listens on {url.port}")
                    continue
                problems += _check_service_route(where, url.hostname, url.port, bridges, documents)
    if not clients:
        problems.append("no legacy app calls a bridge (an env value ending in /v1)")
    return problems


def _check_service_route(
    where: str, host: str | None, port: int | None, bridges: list[Bridge], documents: list[Document]
) -> list[str]:
    services = [s for s in _services(documents) if s["metadata"]["name"] == host]
    if not services:
        return [f"{where}: no Service named {host}"]
    ports = [p for p in services[0]["spec"].get("ports", []) if p["port"] == (port or 80)]
    if not ports:
        return [f"{where}: Service {host} has no port {port}"]
    selector = services[0]["spec"].get("selector", {})
    behind = [b for b in bridges if _selects(selector, b.labels)]
    if not behind:
        return [f"{where}: Service {host} selects no bridge"]
    problems = []
    for bridge in behind:
        assert bridge.settings is not None
        target = _port_number(bridge.container, ports[0].get("targetPort", ports[0]["port"]))
        if target != bridge.settings.port:
            problems.append(
                f"{where}: Service {host} sends to port {target}, {bridge.where} listens on "
                f"{bridge.settings.port}"
            )
        if bridge.settings.host in LOOPBACK:
            problems.append(f"{where}: {bridge.where} listens on loopback only")
    return problems


def layout_problems(
    layout: Path, kube_dir: Path = KUBE_DIR, image: Image | None = None
) -> list[str]:
    """Every disagreement between one layout's manifests and the settings model/image."""
    image = image or read_image()
    documents = layout_documents(layout)
    secrets = example_secrets(kube_dir)
    bridges = find_bridges(documents)
    if not bridges:
        return [f"{layout.name}: no container runs the {BRIDGE_IMAGE} image"]
    for bridge in bridges:
        _check_env_names(bridge)
        load_bridge_settings(bridge, documents, secrets, image)
        if bridge.settings is None:
            continue
        _check_secrets(bridge, secrets)
        _check_probes(bridge)
        _check_security(bridge, image)
        _check_pod(bridge)
    problems = [p for b in bridges for p in b.problems]
    loaded = [b for b in bridges if b.settings is not None]
    if len(loaded) == len(bridges):
        problems += _check_budget(loaded, documents)
        problems += _check_clients(loaded, documents)
    return problems
