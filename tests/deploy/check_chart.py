#!/usr/bin/env python3
"""Checks on manifests rendered from charts/dictamesh (used by tests/deploy/chart.sh).

  check_chart.py split RENDERED OUTDIR
      One file per manifest: OUTDIR/k8s/ for built-in kinds (kubernetes-validate
      checks those), OUTDIR/custom/ for custom resources (ServiceMonitor).
  check_chart.py assert RENDERED CHART/values.yaml [VALUES...]
      The chart's promises for the values the render used (the chart's values.yaml
      first, then each -f file): one Deployment per enabled adapter, probes,
      security context, secrets by reference, HPA metrics and behaviour, PDBs,
      the ServiceMonitor's fields, the router's supergraph.yaml, the migrations Job.
  check_chart.py router-checksum RENDERED
      Prints the router pod's checksum/config annotation.
  check_chart.py compose RENDERED DICTAMESH_BIN WORKDIR
      Starts each adapter Deployment's container (args and literal env as rendered)
      with the local dictamesh binary, points the router ConfigMap's supergraph.yaml
      at them and composes it with `dictamesh compose`.

Every failure names the manifest (Kind/name) and the property.
"""

import copy
import os
import re
import socket
import subprocess
import sys
import time
import urllib.request

import yaml

RECOMMENDED_LABELS = (
    "app.kubernetes.io/name",
    "app.kubernetes.io/instance",
    "app.kubernetes.io/version",
    "app.kubernetes.io/managed-by",
    "app.kubernetes.io/part-of",
    "helm.sh/chart",
)
CUSTOM_API_GROUPS = ("monitoring.coreos.com/",)
DURATION = re.compile(r"^([0-9]+(ms|s|m|h))+$")
# spec fields of monitoring.coreos.com/v1 ServiceMonitor and of its endpoints
# (prometheus-operator's API reference), for the fields this chart may write.
SERVICE_MONITOR_SPEC_FIELDS = {
    "attachMetadata", "bodySizeLimit", "endpoints", "jobLabel", "keepDroppedTargets",
    "labelLimit", "labelNameLengthLimit", "labelValueLengthLimit", "namespaceSelector",
    "podTargetLabels", "sampleLimit", "scrapeClass", "scrapeProtocols", "selector",
    "targetLabels", "targetLimit",
}
SERVICE_MONITOR_ENDPOINT_FIELDS = {
    "authorization", "basicAuth", "bearerTokenFile", "bearerTokenSecret",
    "enableHttp2", "filterRunning", "followRedirects", "honorLabels",
    "honorTimestamps", "interval", "metricRelabelings", "oauth2", "params", "path",
    "port", "proxyUrl", "relabelings", "scheme", "scrapeTimeout", "targetPort",
    "tlsConfig", "trackTimestampsStaleness",
}


def load_manifests(path):
    with open(path) as f:
        return [doc for doc in yaml.safe_load_all(f) if doc]


def ref(doc):
    return f"{doc.get('kind')}/{doc.get('metadata', {}).get('name')}"


def deep_merge(base, override):
    """Helm's coalescing of values files: maps merge, everything else replaces."""
    merged = copy.deepcopy(base)
    for key, value in (override or {}).items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


class Checks:
    def __init__(self):
        self.passed = 0
        self.failures = []

    def that(self, condition, where, message):
        if condition:
            self.passed += 1
        else:
            self.failures.append(f"{where}: {message}")
        return condition

    def report(self, title):
        for failure in self.failures:
            print(f"FAIL {failure}", file=sys.stderr)
        print(f"{title}: {self.passed} passed, {len(self.failures)} failed")
        return 1 if self.failures else 0


def split(rendered, outdir):
    os.makedirs(os.path.join(outdir, "k8s"), exist_ok=True)
    os.makedirs(os.path.join(outdir, "custom"), exist_ok=True)
    counts = {"k8s": 0, "custom": 0}
    for index, doc in enumerate(load_manifests(rendered)):
        group = "custom" if doc.get("apiVersion", "").startswith(CUSTOM_API_GROUPS) else "k8s"
        name = f"{index:03d}-{doc['kind']}-{doc['metadata']['name']}.yaml"
        with open(os.path.join(outdir, group, name), "w") as f:
            yaml.safe_dump(doc, f, sort_keys=False)
        counts[group] += 1
    print(f"{counts['k8s']} Kubernetes manifests, {counts['custom']} custom resources")
    return 0


def router_checksum(rendered):
    for doc in load_manifests(rendered):
        if doc["kind"] == "Deployment" and doc["metadata"]["labels"].get("dictamesh.io/role") == "router":
            print(doc["spec"]["template"]["metadata"].get("annotations", {}).get("checksum/config", ""))
            return 0
    print("no router Deployment", file=sys.stderr)
    return 1


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_ready(url, process, log, seconds=30):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"compose: the subgraph behind {url} exited; see {log}")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.2)
    raise SystemExit(f"compose: {url} did not answer 200 within {seconds}s; see {log}")


def compose(rendered, binary, workdir):
    """The rendered supergraph.yaml composes against the rendered adapter containers."""
    docs = load_manifests(rendered)
    config_map = next(d for d in docs if d["kind"] == "ConfigMap" and "supergraph.yaml" in d.get("data", {}))
    supergraph = yaml.safe_load(config_map["data"]["supergraph.yaml"])
    services = {d["metadata"]["name"]: d for d in docs if d["kind"] == "Service"}
    os.makedirs(os.path.join(workdir, "products"), exist_ok=True)
    processes = []
    try:
        for deployment in (d for d in docs if d["kind"] == "Deployment"):
            container = deployment["spec"]["template"]["spec"]["containers"][0]
            name = deployment["metadata"]["labels"]["app.kubernetes.io/component"]
            if name not in supergraph["subgraphs"]:
                continue
            service = services[deployment["metadata"]["name"]]
            port = free_port()
            env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin")}
            env.update({e["name"]: e["value"] for e in container.get("env", []) if "value" in e})
            env.update(DICTAMESH_LISTEN=f"127.0.0.1:{port}", HOME=workdir, TMPDIR=workdir,
                       DATABASE_URL=f"sqlite://{workdir}/{name}.db?mode=rwc")
            env.pop("REDIS_URL", None)
            if "PRODUCTS_DIR" in env:
                env["PRODUCTS_DIR"] = os.path.join(workdir, "products")
            log = os.path.join(workdir, f"{name}.log")
            with open(log, "w") as out:
                process = subprocess.Popen([binary, *container.get("args", [])], env=env, cwd=workdir,
                                           stdout=out, stderr=subprocess.STDOUT)
            processes.append(process)
            wait_ready(f"http://127.0.0.1:{port}/health/ready", process, log)
            in_cluster = f"http://{service['metadata']['name']}.{service['metadata']['namespace']}.svc"
            in_cluster_port = service["spec"]["ports"][0]["port"]
            if in_cluster_port != 80:
                in_cluster += f":{in_cluster_port}"
            subgraph = supergraph["subgraphs"][name]
            subgraph["routing_url"] = subgraph["routing_url"].replace(in_cluster, f"http://127.0.0.1:{port}")
            subgraph["schema"]["subgraph_url"] = subgraph["routing_url"]
        local = os.path.join(workdir, "supergraph.yaml")
        with open(local, "w") as f:
            yaml.safe_dump(supergraph, f)
        result = subprocess.run([binary, "compose", "--config", local], capture_output=True, text=True, timeout=120)
        if result.returncode != 0:
            print(result.stderr, file=sys.stderr)
            print(f"compose: dictamesh compose rejected the router's supergraph.yaml ({local})", file=sys.stderr)
            return 1
        joined = set(re.findall(r'join__graph\(name: "([^"]+)"', result.stdout))
        if joined != set(supergraph["subgraphs"]):
            print(f"compose: the supergraph joins {sorted(joined)}, expected {sorted(supergraph['subgraphs'])}", file=sys.stderr)
            return 1
        print(f"composed the router's supergraph.yaml from the rendered containers: {sorted(joined)}")
        return 0
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()


def components(values):
    """The components the values ask for, each with its merged settings (as the chart's helper)."""
    shared = {"autoscaling": values["autoscaling"], "podDisruptionBudget": values["podDisruptionBudget"]}
    result = {}
    if values["router"]["enabled"]:
        result["router"] = dict(deep_merge(shared, values["router"]), role="router", image="")
    if values["catalog"]["enabled"]:
        catalog = {k: v for k, v in values["catalog"].items() if k != "migrations"}
        result["catalog"] = dict(deep_merge(shared, catalog), role="catalog", image="")
    for name, adapter in (values.get("adapters") or {}).items():
        merged = deep_merge(deep_merge(shared, values["adapterDefaults"]), adapter or {})
        if merged["enabled"]:
            result[name] = dict(merged, role="adapter")
    return result


def chart_image(values, app_version):
    image = values["image"]
    if image.get("digest"):
        return f"{image['repository']}@{image['digest']}"
    return f"{image['repository']}:{image.get('tag') or app_version}"


def env_by_name(container):
    return {e["name"]: e for e in container.get("env", [])}


def check_pod(checks, where, pod_spec, values, expected_image):
    """What every pod of the chart promises: hardened, no token, writable /tmp only."""
    checks.that(pod_spec.get("automountServiceAccountToken") is False, where,
                "spec.template.spec.automountServiceAccountToken must be false")
    psc = pod_spec.get("securityContext", {})
    checks.that(psc.get("runAsNonRoot") is True, where, "pod securityContext.runAsNonRoot must be true")
    checks.that(psc.get("seccompProfile", {}).get("type") == "RuntimeDefault", where,
                "pod securityContext.seccompProfile.type must be RuntimeDefault")
    volumes = {v["name"]: v for v in pod_spec.get("volumes", [])}
    for container in pod_spec.get("containers", []):
        cwhere = f"{where} container {container['name']}"
        sc = container.get("securityContext", {})
        checks.that(sc.get("runAsNonRoot") is True, cwhere, "securityContext.runAsNonRoot must be true")
        checks.that(sc.get("runAsUser") == values["securityContext"]["runAsUser"], cwhere,
                    f"securityContext.runAsUser must be {values['securityContext']['runAsUser']}")
        checks.that(sc.get("readOnlyRootFilesystem") is True, cwhere,
                    "securityContext.readOnlyRootFilesystem must be true")
        checks.that(sc.get("allowPrivilegeEscalation") is False, cwhere,
                    "securityContext.allowPrivilegeEscalation must be false")
        checks.that("ALL" in sc.get("capabilities", {}).get("drop", []), cwhere,
                    "securityContext.capabilities.drop must contain ALL")
        resources = container.get("resources", {})
        for kind in ("cpu", "memory"):
            checks.that(kind in resources.get("requests", {}), cwhere, f"resources.requests.{kind} is missing")
        checks.that("memory" in resources.get("limits", {}), cwhere, "resources.limits.memory is missing")
        tmp = [m for m in container.get("volumeMounts", []) if m.get("mountPath") == "/tmp"]
        checks.that(len(tmp) == 1 and "emptyDir" in volumes.get(tmp[0]["name"], {}), cwhere,
                    "/tmp must be mounted from an emptyDir (the only writable path)")
        if expected_image is not None:
            checks.that(container.get("image") == expected_image, cwhere,
                        f"image is {container.get('image')!r}, expected {expected_image!r}")
        names = [e["name"] for e in container.get("env", [])]
        checks.that(len(names) == len(set(names)), cwhere, f"duplicate env names in {names}")
        for name, entry in env_by_name(container).items():
            if re.search(r"PASSWORD|TOKEN|SECRET|DATABASE_URL", name):
                checks.that("valueFrom" in entry, cwhere, f"env {name} must come from a Secret (valueFrom), not a literal")


def check_env(checks, where, container, component, values):
    env = env_by_name(container)
    port = values["containerPort"]
    checks.that(env.get("DICTAMESH_LISTEN", {}).get("value") == f"0.0.0.0:{port}", where,
                f"env DICTAMESH_LISTEN must be 0.0.0.0:{port}")
    own = component.get("env") or {}
    for name in ("HOME", "TMPDIR"):
        if name not in own:
            checks.that(env.get(name, {}).get("value") == "/tmp", where, f"env {name} must be /tmp (the writable emptyDir)")
    connections = component["connections"]

    def secret_ref(name, secret, key):
        if name in own:
            return
        ref_ = env.get(name, {}).get("valueFrom", {}).get("secretKeyRef", {})
        checks.that(ref_ == {"name": secret, "key": key}, where,
                    f"env {name} must be secretKeyRef {secret}/{key}, found {env.get(name)}")

    if connections["database"]:
        secret_ref("DATABASE_URL", values["database"]["existingSecret"], values["database"]["urlKey"])
    elif "DATABASE_URL" not in own:
        checks.that("DATABASE_URL" not in env, where, "env DATABASE_URL given without connections.database")
    if connections["redis"] and values["redis"]["existingSecret"]:
        secret_ref("REDIS_URL", values["redis"]["existingSecret"], values["redis"]["urlKey"])
    kafka = values["kafka"]
    if connections["kafka"] and kafka["brokers"]:
        checks.that(env.get("KAFKA_BROKERS", {}).get("value") == kafka["brokers"], where,
                    "env KAFKA_BROKERS must be kafka.brokers")
        if kafka["existingSecret"]:
            secret_ref("KAFKA_SASL_USERNAME", kafka["existingSecret"], kafka["usernameKey"])
            secret_ref("KAFKA_SASL_PASSWORD", kafka["existingSecret"], kafka["passwordKey"])
    elif "KAFKA_BROKERS" not in own:
        checks.that("KAFKA_BROKERS" not in env, where, "env KAFKA_BROKERS given without connections.kafka")
    if values["otel"]["endpoint"]:
        checks.that(env.get("OTEL_EXPORTER_OTLP_ENDPOINT", {}).get("value") == values["otel"]["endpoint"], where,
                    "env OTEL_EXPORTER_OTLP_ENDPOINT must be otel.endpoint")
        checks.that(bool(env.get("OTEL_SERVICE_NAME", {}).get("value")), where, "env OTEL_SERVICE_NAME is missing")
    else:
        checks.that("OTEL_EXPORTER_OTLP_ENDPOINT" not in env, where,
                    "env OTEL_EXPORTER_OTLP_ENDPOINT set though otel.endpoint is empty")
    for name, value in own.items():
        entry = env.get(name)
        if isinstance(value, dict):
            expected = dict(name=name, **value)
        else:
            expected = {"name": name, "value": str(value).lower() if isinstance(value, bool) else str(value)}
        checks.that(entry == expected, where, f"env {name} must be {expected}, found {entry}")


def check_deployment(checks, doc, name, component, values, pdbs, hpas, services):
    where = ref(doc)
    spec = doc["spec"]
    pod = spec["template"]["spec"]
    selector = spec["selector"]["matchLabels"]
    labels = spec["template"]["metadata"]["labels"]
    checks.that(all(labels.get(k) == v for k, v in selector.items()), where,
                "spec.selector.matchLabels must be a subset of the pod labels")
    checks.that(selector.get("app.kubernetes.io/component") == name, where,
                f"selector app.kubernetes.io/component must be {name}")
    role = component["role"]
    expected_image = component.get("image") or chart_image(values, values["_appVersion"])
    check_pod(checks, where, pod, values, expected_image)
    container = pod["containers"][0]
    cwhere = f"{where} container {container['name']}"

    # probes
    for probe, path in (("livenessProbe", "/health/live"), ("readinessProbe", "/health/ready"),
                        ("startupProbe", "/health/live")):
        get = container.get(probe, {}).get("httpGet", {})
        checks.that(get.get("path") == path and get.get("port") == "http", cwhere,
                    f"{probe} must be httpGet {path} on port http, found {container.get(probe)}")
    ports = {p["name"]: p["containerPort"] for p in container.get("ports", [])}
    checks.that(ports.get("http") == values["containerPort"], cwhere,
                f"container port http must be {values['containerPort']}")
    if values["preStopSleepSeconds"] > 0:
        checks.that(container.get("lifecycle", {}).get("preStop", {}).get("sleep", {}).get("seconds")
                    == values["preStopSleepSeconds"], cwhere, "lifecycle.preStop.sleep.seconds must be preStopSleepSeconds")
    check_env(checks, cwhere, container, component, values)

    # arguments
    args = container.get("args", [])
    if role == "router":
        checks.that(args[:1] == ["router"] and "--supergraph" in args and "--config" in args, cwhere,
                    f"router args must be router --supergraph FILE --config FILE, found {args}")
        mounts = {m["mountPath"]: m["name"] for m in container.get("volumeMounts", [])}
        volumes = {v["name"]: v for v in pod.get("volumes", [])}
        config_volume = volumes.get(mounts.get("/etc/dictamesh"), {})
        checks.that("configMap" in config_volume, cwhere, "the router's ConfigMap must be mounted at /etc/dictamesh")
        checksum = spec["template"]["metadata"].get("annotations", {}).get("checksum/config", "")
        checks.that(re.fullmatch(r"[0-9a-f]{64}", checksum) is not None, where,
                    "pod annotation checksum/config (sha256 of the router ConfigMap) is missing")
    elif role == "catalog":
        migrate_in_job = values["catalog"]["migrations"]["enabled"]
        checks.that(args[:1] == ["catalog"] and ("--no-migrate" in args) == migrate_in_job, cwhere,
                    f"catalog args must be catalog --listen ADDR{' --no-migrate' if migrate_in_job else ''}, found {args}")
    elif not component.get("image"):
        expected = component.get("args") or ["subgraph", name]
        checks.that(args == expected, cwhere, f"args must be {expected}, found {args}")
    else:
        checks.that(args == (component.get("args") or []), cwhere, f"args must be {component.get('args')}, found {args}")

    # scheduling
    affinity = pod.get("affinity", {})
    mode = values["scheduling"]["podAntiAffinity"]
    if component.get("affinity"):
        checks.that(affinity == component["affinity"], where, "spec.template.spec.affinity must be the component's affinity")
    elif mode != "none":
        anti = affinity.get("podAntiAffinity", {})
        if mode == "soft":
            terms = [t["podAffinityTerm"] for t in anti.get("preferredDuringSchedulingIgnoredDuringExecution", [])]
        else:
            terms = anti.get("requiredDuringSchedulingIgnoredDuringExecution", [])
        checks.that(any(t.get("topologyKey") == "kubernetes.io/hostname"
                        and t.get("labelSelector", {}).get("matchLabels") == selector for t in terms), where,
                    f"{mode} podAntiAffinity per node on the Deployment's selector is missing")
    if values["scheduling"]["topologySpread"]["enabled"]:
        spread = pod.get("topologySpreadConstraints", [])
        checks.that(any(c.get("labelSelector", {}).get("matchLabels") == selector for c in spread), where,
                    "topologySpreadConstraints on the Deployment's selector are missing")

    # replicas and autoscaling
    autoscaling = component["autoscaling"]
    hpa = hpas.pop(doc["metadata"]["name"], None)
    if autoscaling["enabled"]:
        checks.that("replicas" not in spec, where, "spec.replicas must be left to the HorizontalPodAutoscaler")
        if checks.that(hpa is not None, where, "autoscaling.enabled but no HorizontalPodAutoscaler targets it"):
            check_hpa(checks, hpa, doc, component, autoscaling)
        min_replicas = autoscaling["minReplicas"]
    else:
        checks.that(spec.get("replicas") == component["replicas"], where,
                    f"spec.replicas must be {component['replicas']}, found {spec.get('replicas')}")
        checks.that(hpa is None, where, "a HorizontalPodAutoscaler exists though autoscaling is disabled")
        min_replicas = component["replicas"]
    pdb = pdbs.pop(doc["metadata"]["name"], None)
    if component["podDisruptionBudget"]["enabled"] and min_replicas > 1:
        if checks.that(pdb is not None, where, f"{min_replicas} replicas but no PodDisruptionBudget"):
            checks.that(pdb["spec"]["selector"]["matchLabels"] == selector, ref(pdb),
                        "spec.selector.matchLabels must equal the Deployment's selector")
            budget = component["podDisruptionBudget"]
            key = "minAvailable" if "minAvailable" in budget else "maxUnavailable"
            checks.that(pdb["spec"].get(key) == budget[key], ref(pdb), f"spec.{key} must be {budget[key]}")
    else:
        checks.that(pdb is None, where, f"PodDisruptionBudget rendered for {min_replicas} replica(s) or while disabled")

    # service
    service = services.get(doc["metadata"]["name"])
    if checks.that(service is not None, where, "no Service of the same name"):
        checks.that(service["spec"]["selector"] == selector, ref(service), "spec.selector must equal the Deployment's selector")
        port = [p for p in service["spec"]["ports"] if p["name"] == "http"]
        checks.that(len(port) == 1 and port[0]["targetPort"] == "http" and port[0]["port"] == component["service"]["port"],
                    ref(service), f"port http must be {component['service']['port']} -> targetPort http")
        checks.that((service["metadata"]["labels"].get("dictamesh.io/metrics") == "true") == bool(component["metrics"]),
                    ref(service), "label dictamesh.io/metrics must follow the component's metrics setting")


def check_hpa(checks, hpa, deployment, component, autoscaling):
    where = ref(hpa)
    spec = hpa["spec"]
    checks.that(hpa["apiVersion"] == "autoscaling/v2", where, "apiVersion must be autoscaling/v2")
    checks.that(spec["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment",
                                           "name": deployment["metadata"]["name"]}, where,
                "spec.scaleTargetRef must name the Deployment")
    checks.that(spec["minReplicas"] == autoscaling["minReplicas"] and spec["maxReplicas"] == autoscaling["maxReplicas"],
                where, f"min/max replicas must be {autoscaling['minReplicas']}/{autoscaling['maxReplicas']}")
    resources = {m["resource"]["name"]: m["resource"]["target"] for m in spec["metrics"] if m["type"] == "Resource"}
    checks.that(resources.get("cpu") == {"type": "Utilization", "averageUtilization": autoscaling["targetCPUUtilizationPercentage"]},
                where, f"spec.metrics cpu Utilization {autoscaling['targetCPUUtilizationPercentage']}% is missing")
    checks.that(resources.get("memory") == {"type": "Utilization", "averageUtilization": autoscaling["targetMemoryUtilizationPercentage"]},
                where, f"spec.metrics memory Utilization {autoscaling['targetMemoryUtilizationPercentage']}% is missing")
    lag = autoscaling["kafkaConsumerLag"]
    pods = [m["pods"] for m in spec["metrics"] if m["type"] == "Pods"]
    if lag["enabled"] and component["connections"]["kafka"]:
        checks.that(pods == [{"metric": {"name": lag["metricName"]},
                              "target": {"type": "AverageValue", "averageValue": str(lag["averageValue"])}}], where,
                    f"spec.metrics must have the Pods metric {lag['metricName']} averaging {lag['averageValue']}, found {pods}")
    else:
        checks.that(pods == [], where, "a Pods (Kafka lag) metric on a component that does not consume Kafka")
    checks.that(spec.get("behavior") == autoscaling["behavior"], where,
                "spec.behavior must be the configured scale-up/scale-down behaviour")


def check_service_monitor(checks, monitors, services, values, namespace):
    config = values["serviceMonitor"]
    if not config["enabled"]:
        checks.that(not monitors, "ServiceMonitor", "rendered though serviceMonitor.enabled is false")
        return
    if not checks.that(len(monitors) == 1, "ServiceMonitor", f"expected one, found {len(monitors)}"):
        return
    monitor = monitors[0]
    where = ref(monitor)
    checks.that(monitor.get("apiVersion") == "monitoring.coreos.com/v1", where, "apiVersion must be monitoring.coreos.com/v1")
    metadata = monitor.get("metadata", {})
    checks.that(bool(metadata.get("name")) and len(metadata["name"]) <= 253, where, "metadata.name is missing or too long")
    checks.that(metadata.get("namespace") == namespace, where, f"metadata.namespace must be {namespace}")
    for key, value in (config.get("labels") or {}).items():
        checks.that(metadata.get("labels", {}).get(key) == value, where, f"metadata.labels.{key} must be {value}")
    spec = monitor.get("spec", {})
    unknown = set(spec) - SERVICE_MONITOR_SPEC_FIELDS
    checks.that(not unknown, where, f"unknown spec fields {sorted(unknown)}")
    match = spec.get("selector", {}).get("matchLabels", {})
    checks.that(bool(match) and all(isinstance(v, str) for v in match.values()), where,
                "spec.selector.matchLabels must be a non-empty map of strings")
    checks.that(namespace in spec.get("namespaceSelector", {}).get("matchNames", []), where,
                f"spec.namespaceSelector.matchNames must contain {namespace}")
    selected = [s for s in services if all(s["metadata"]["labels"].get(k) == v for k, v in match.items())]
    expected = [s for s in services if s["metadata"]["labels"].get("dictamesh.io/metrics") == "true"]
    checks.that(sorted(map(ref, selected)) == sorted(map(ref, expected)), where,
                f"spec.selector selects {sorted(map(ref, selected))}, expected the metrics Services {sorted(map(ref, expected))}")
    endpoints = spec.get("endpoints", [])
    checks.that(isinstance(endpoints, list) and len(endpoints) > 0, where, "spec.endpoints must be a non-empty list")
    for i, endpoint in enumerate(endpoints):
        ewhere = f"{where} spec.endpoints[{i}]"
        unknown = set(endpoint) - SERVICE_MONITOR_ENDPOINT_FIELDS
        checks.that(not unknown, ewhere, f"unknown fields {sorted(unknown)}")
        for service in selected:
            names = [p.get("name") for p in service["spec"]["ports"]]
            checks.that(endpoint.get("port") in names, ewhere, f"port {endpoint.get('port')!r} is not a named port of {ref(service)}")
        checks.that(endpoint.get("path") == "/metrics", ewhere, "path must be /metrics")
        checks.that(endpoint.get("scheme", "http") in ("http", "https"), ewhere, "scheme must be http or https")
        for key in ("interval", "scrapeTimeout"):
            checks.that(DURATION.fullmatch(str(endpoint.get(key, ""))) is not None, ewhere,
                        f"{key} must be a Prometheus duration, found {endpoint.get(key)!r}")
        for key in ("relabelings", "metricRelabelings"):
            checks.that(isinstance(endpoint.get(key, []), list), ewhere, f"{key} must be a list")


def check_router_config(checks, config_maps, values, comps, services_by_component):
    if not values["router"]["enabled"]:
        checks.that(not config_maps, "ConfigMap", "rendered though the router is disabled")
        return
    if not checks.that(len(config_maps) == 1, "ConfigMap", f"expected the router's ConfigMap, found {len(config_maps)}"):
        return
    config_map = config_maps[0]
    where = ref(config_map)
    supergraph = yaml.safe_load(config_map["data"]["supergraph.yaml"])
    router_yaml = yaml.safe_load(config_map["data"]["router.yaml"])
    checks.that(router_yaml == (values["router"]["config"] or {}), where, "router.yaml must be router.config")
    checks.that(str(supergraph.get("federation_version")) == values["router"]["supergraph"]["federationVersion"], where,
                "supergraph.yaml federation_version must be router.supergraph.federationVersion")
    expected = {name for name, c in comps.items()
                if (c["role"] == "adapter" and c["supergraph"])
                or (c["role"] == "catalog" and values["router"]["supergraph"]["includeCatalog"])}
    expected |= set(values["router"]["supergraph"]["extraSubgraphs"] or {})
    subgraphs = supergraph.get("subgraphs", {})
    checks.that(set(subgraphs) == expected, where, f"supergraph.yaml subgraphs are {sorted(subgraphs)}, expected {sorted(expected)}")
    for name, subgraph in subgraphs.items():
        if name in services_by_component:
            service = services_by_component[name]
            host = f"http://{service['metadata']['name']}.{service['metadata']['namespace']}.svc"
            path = comps[name].get("graphqlPath", "/graphql")
            checks.that(subgraph.get("routing_url", "").startswith(host) and subgraph["routing_url"].endswith(path)
                        and subgraph.get("schema", {}).get("subgraph_url") == subgraph["routing_url"], where,
                        f"subgraph {name} must be routed to and introspected at its Service {host}...{path}")


def check_migrations(checks, jobs, values):
    catalog = values["catalog"]
    wanted = catalog["enabled"] and catalog["migrations"]["enabled"]
    if not checks.that(len(jobs) == (1 if wanted else 0), "Job", f"expected {1 if wanted else 0} migrations Job, found {len(jobs)}"):
        return
    if not wanted:
        return
    job = jobs[0]
    where = ref(job)
    hooks = job["metadata"].get("annotations", {}).get("helm.sh/hook", "")
    checks.that({"pre-install", "pre-upgrade"} <= set(hooks.split(",")), where,
                "annotation helm.sh/hook must contain pre-install,pre-upgrade")
    pod = job["spec"]["template"]["spec"]
    checks.that(pod.get("restartPolicy") == "Never", where, "restartPolicy must be Never")
    check_pod(checks, where, pod, values, None)
    container = pod["containers"][0]
    checks.that(container.get("args") == catalog["migrations"]["args"], where,
                f"args must be catalog.migrations.args {catalog['migrations']['args']}")
    env = env_by_name(container)
    checks.that(env.get("DATABASE_URL", {}).get("valueFrom", {}).get("secretKeyRef", {}).get("name")
                == values["database"]["existingSecret"], where, "env DATABASE_URL must come from database.existingSecret")
    checks.that(not {"REDIS_URL", "KAFKA_BROKERS", "KAFKA_SASL_PASSWORD"} & set(env), where,
                "the migrations Job needs only the database")


def check(rendered, values_files):
    with open(os.path.join(os.path.dirname(values_files[0]), "Chart.yaml")) as f:
        values = {"_appVersion": str(yaml.safe_load(f)["appVersion"])}
    for path in values_files:
        with open(path) as f:
            values = deep_merge(values, yaml.safe_load(f) or {})
    docs = load_manifests(rendered)
    checks = Checks()
    by_kind = {}
    for doc in docs:
        by_kind.setdefault(doc["kind"], []).append(doc)
        labels = doc["metadata"].get("labels", {})
        for label in RECOMMENDED_LABELS:
            checks.that(label in labels, ref(doc), f"metadata.labels.{label} is missing")
    checks.that("Secret" not in by_kind, "Secret", "the chart must reference existing Secrets, never render one")
    namespaces = {doc["metadata"].get("namespace") for doc in docs}
    checks.that(len(namespaces) == 1 and None not in namespaces, "manifests", f"every manifest needs the release namespace, found {namespaces}")
    namespace = next(iter(namespaces))

    comps = components(values)
    deployments = {d["metadata"]["labels"].get("app.kubernetes.io/component"): d for d in by_kind.get("Deployment", [])}
    checks.that(set(deployments) == set(comps), "Deployment",
                f"one Deployment per component: found {sorted(deployments)}, expected {sorted(comps)}")
    services = by_kind.get("Service", [])
    services_by_name = {s["metadata"]["name"]: s for s in services}
    services_by_component = {s["metadata"]["labels"].get("app.kubernetes.io/component"): s for s in services}
    hpas = {h["spec"]["scaleTargetRef"]["name"]: h for h in by_kind.get("HorizontalPodAutoscaler", [])}
    pdbs = {p["metadata"]["name"]: p for p in by_kind.get("PodDisruptionBudget", [])}
    for name, component in comps.items():
        if name in deployments:
            check_deployment(checks, deployments[name], name, component, values, pdbs, hpas, services_by_name)
    checks.that(not hpas, "HorizontalPodAutoscaler", f"targets no Deployment of the chart: {sorted(hpas)}")
    checks.that(not pdbs, "PodDisruptionBudget", f"belongs to no Deployment of the chart: {sorted(pdbs)}")
    checks.that(len(services) == len(comps), "Service", f"{len(services)} Services for {len(comps)} components")

    check_service_monitor(checks, by_kind.get("ServiceMonitor", []), services, values, namespace)
    check_router_config(checks, by_kind.get("ConfigMap", []), values, comps, services_by_component)
    check_migrations(checks, by_kind.get("Job", []), values)
    accounts = by_kind.get("ServiceAccount", [])
    if values["serviceAccount"]["create"]:
        checks.that(len(accounts) == 1 and accounts[0].get("automountServiceAccountToken") is False, "ServiceAccount",
                    "one ServiceAccount with automountServiceAccountToken: false")
    adapters = sorted(n for n, c in comps.items() if c["role"] == "adapter")
    return checks.report(f"rendered {len(docs)} manifests, adapters {adapters}")


def main(argv):
    if len(argv) == 4 and argv[1] == "split":
        return split(argv[2], argv[3])
    if len(argv) >= 4 and argv[1] == "assert":
        return check(argv[2], argv[3:])
    if len(argv) == 3 and argv[1] == "router-checksum":
        return router_checksum(argv[2])
    if len(argv) == 5 and argv[1] == "compose":
        return compose(argv[2], argv[3], argv[4])
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
