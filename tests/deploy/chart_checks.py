"""Invariants every rendering of the gpupool chart must hold, whatever the values: objects are valid API
objects, references between them resolve (selectors, ports, service accounts, role bindings, the
webhook's Service and TLS), host paths stay under the kubelet's directory, containers are locked down,
and RBAC is least privilege. Each function returns a list of error strings.

Thread-safety: pure functions.
"""
import k8s_schema

# Host paths a gpupool pod may mount, beyond <kubeletRootDir>/...: the client libraries' directory,
# and the folder of the servers' node-local socket (server.localSocket.hostDir; its default here).
CLIENT_LIB_DIR = "/opt/gpupool/lib"
LOCAL_SOCKET_DIR = "/run/gpupool"
# Containers allowed to run as root, and why (everything else must set runAsNonRoot).
ROOT_CONTAINERS = {
    ("DaemonSet", "install-client"): "writes the root-owned host directory /opt/gpupool/lib",
    ("DaemonSet", "device-plugin"): "serves its socket in the kubelet's root-owned device-plugin directory",
    ("DaemonSet", "socket-dir"): "gives the root-owned host folder of the node-local socket to the server's group",
}
# What may be granted cluster-wide: (apiGroup, resource) -> verbs. Everything else belongs in a Role.
CLUSTER_GRANTS = {
    ("gpupool.io", "gpupools"): {"get", "list", "watch"},
    ("gpupool.io", "gpupools/status"): {"get", "update", "patch"},
    ("", "pods"): {"get", "list", "watch", "patch", "update"},
    ("", "nodes"): {"get", "list", "watch"},
    ("", "events"): {"create", "patch"},
    ("events.k8s.io", "events"): {"create", "patch"},
    ("admissionregistration.k8s.io", "mutatingwebhookconfigurations"): {"get", "update", "patch"},
    ("authentication.k8s.io", "tokenreviews"): {"create"},
}
# Writes that must be limited by resourceNames to the chart's own objects.
NAMED_ONLY = {("admissionregistration.k8s.io", "mutatingwebhookconfigurations"), ("", "secrets")}
DANGEROUS_VERBS = {"*", "escalate", "bind", "impersonate"}
BUILTIN_ROLES = {"cluster-admin", "admin", "edit", "system:masters"}


def by_kind(objs, kind):
    return [o for o in objs if o["kind"] == kind]


def find(objs, kind, name):
    for o in objs:
        if o["kind"] == kind and o["metadata"]["name"] == name:
            return o
    return None


def pod_spec(obj):
    if obj["kind"] == "Pod":
        return obj["spec"]
    return obj["spec"]["template"]["spec"]


def containers(obj):
    spec = pod_spec(obj)
    return spec.get("initContainers", []) + spec.get("containers", [])


def workloads(objs):
    return [o for o in objs if o["kind"] in ("Deployment", "DaemonSet", "Job")]


def matches(selector, labels):
    return all(labels.get(k) == v for k, v in (selector or {}).items())


def check_schema(objs):
    crds = {}
    for crd in by_kind(objs, "CustomResourceDefinition"):
        for v in crd["spec"]["versions"]:
            crds[(f"{crd['spec']['group']}/{v['name']}", crd["spec"]["names"]["kind"])] = k8s_schema.crd_schema(crd)
    errors = []
    for o in objs:
        errors += k8s_schema.check_object(o, crds)
    return errors


def check_identity(objs, namespace):
    errors, seen = [], set()
    for o in objs:
        meta = o["metadata"]
        key = (o["kind"], meta.get("namespace"), meta["name"])
        if key in seen:
            errors.append(f"{o['kind']}/{meta['name']}: rendered twice")
        seen.add(key)
        if o["kind"] in k8s_schema.CLUSTER_SCOPED:
            if "namespace" in meta:
                errors.append(f"{o['kind']}/{meta['name']}: cluster-scoped but has a namespace")
        elif meta.get("namespace") != namespace:
            errors.append(f"{o['kind']}/{meta['name']}: namespace {meta.get('namespace')!r}, want {namespace!r}")
        if o["kind"] != "CustomResourceDefinition":
            for label in ("app.kubernetes.io/name", "app.kubernetes.io/instance", "app.kubernetes.io/managed-by"):
                if label not in (meta.get("labels") or {}):
                    errors.append(f"{o['kind']}/{meta['name']}: label {label} missing")
    return errors


def check_workloads(objs):
    errors = []
    for w in workloads(objs):
        name = f"{w['kind']}/{w['metadata']['name']}"
        if w["kind"] != "Job":
            selector = w["spec"]["selector"].get("matchLabels")
            labels = w["spec"]["template"]["metadata"].get("labels", {})
            if not selector or not matches(selector, labels):
                errors.append(f"{name}: selector {selector} does not match its pod labels {labels}")
        spec = pod_spec(w)
        sa = spec.get("serviceAccountName")
        if w["kind"] != "Job" and (sa is None or find(objs, "ServiceAccount", sa) is None):
            errors.append(f"{name}: serviceAccountName {sa!r} is not a rendered ServiceAccount")
        names = [c["name"] for c in containers(w)]
        if len(set(names)) != len(names):
            errors.append(f"{name}: duplicate container names {names}")
        volumes = {v["name"] for v in spec.get("volumes", [])}
        for c in containers(w):
            for m in c.get("volumeMounts", []):
                if m["name"] not in volumes:
                    errors.append(f"{name}/{c['name']}: mounts undeclared volume {m['name']}")
            image = c["image"]
            tag = image.rsplit("/", 1)[-1].partition(":")[2]
            if not tag or tag == "latest":
                errors.append(f"{name}/{c['name']}: image {image} needs a pinned tag")
            for p in c.get("ports", []):
                if len(p.get("name", "")) > 15:
                    errors.append(f"{name}/{c['name']}: port name {p['name']} longer than 15 characters")
    return errors


def _pods_selected(objs, selector):
    return [w for w in workloads(objs) if matches(selector, w["spec"]["template"]["metadata"].get("labels", {}))]


def check_services(objs):
    errors = []
    for svc in by_kind(objs, "Service"):
        name = f"Service/{svc['metadata']['name']}"
        pods = _pods_selected(objs, svc["spec"].get("selector"))
        if not pods:
            errors.append(f"{name}: selector {svc['spec'].get('selector')} matches no rendered workload")
            continue
        port_names = {p["name"] for w in pods for c in containers(w) for p in c.get("ports", []) if "name" in p}
        for p in svc["spec"]["ports"]:
            target = p.get("targetPort", p["port"])
            if isinstance(target, str) and target not in port_names:
                errors.append(f"{name}: targetPort {target} is not a container port of the selected pods")
    for pdb in by_kind(objs, "PodDisruptionBudget"):
        if not _pods_selected(objs, pdb["spec"]["selector"]["matchLabels"]):
            errors.append(f"PodDisruptionBudget/{pdb['metadata']['name']}: selects no workload")
    for sm in by_kind(objs, "ServiceMonitor"):
        svcs = [s for s in by_kind(objs, "Service") if matches(sm["spec"]["selector"]["matchLabels"],
                                                                 s["metadata"].get("labels", {}))]
        if not svcs:
            errors.append(f"ServiceMonitor/{sm['metadata']['name']}: selects no rendered Service")
        for ep in sm["spec"]["endpoints"]:
            if not any(p.get("name") == ep["port"] for s in svcs for p in s["spec"]["ports"]):
                errors.append(f"ServiceMonitor/{sm['metadata']['name']}: no selected Service has port {ep['port']}")
    return errors


def check_host_paths(objs, kubelet_root, local_socket_dir=LOCAL_SOCKET_DIR):
    errors = []
    for w in workloads(objs):
        for v in pod_spec(w).get("volumes", []):
            if "hostPath" not in v:
                continue
            path = v["hostPath"]["path"]
            if not (path.startswith(kubelet_root + "/") or path in (CLIENT_LIB_DIR, local_socket_dir)):
                errors.append(f"{w['kind']}/{w['metadata']['name']}: hostPath {path} is outside "
                              f"{kubelet_root}/, {CLIENT_LIB_DIR} and {local_socket_dir}")
    return errors


def check_security(objs):
    errors = []
    for w in workloads(objs):
        pod_sc = pod_spec(w).get("securityContext", {})
        for key in ("hostPID", "hostIPC"):
            if pod_spec(w).get(key):
                errors.append(f"{w['kind']}/{w['metadata']['name']}: {key} is set")
        for c in containers(w):
            where = f"{w['kind']}/{w['metadata']['name']}/{c['name']}"
            sc = c.get("securityContext", {})
            if sc.get("privileged"):
                errors.append(f"{where}: privileged")
            if sc.get("allowPrivilegeEscalation") is not False:
                errors.append(f"{where}: allowPrivilegeEscalation must be false")
            if sc.get("readOnlyRootFilesystem") is not True:
                errors.append(f"{where}: readOnlyRootFilesystem must be true")
            if "ALL" not in (sc.get("capabilities", {}).get("drop") or []) or sc.get("capabilities", {}).get("add"):
                errors.append(f"{where}: must drop ALL capabilities and add none")
            non_root = sc.get("runAsNonRoot", pod_sc.get("runAsNonRoot"))
            if non_root is not True and (w["kind"], c["name"]) not in ROOT_CONTAINERS:
                errors.append(f"{where}: runs as root without a listed reason")
    return errors


def _rules(role):
    for rule in role.get("rules") or []:
        for group in rule.get("apiGroups", []):
            for resource in rule.get("resources", []):
                yield group, resource, set(rule.get("verbs", [])), rule.get("resourceNames")


def check_rbac(objs):
    errors = []
    for kind in ("ClusterRole", "Role"):
        for role in by_kind(objs, kind):
            name = f"{kind}/{role['metadata']['name']}"
            for group, resource, verbs, names in _rules(role):
                if "*" in (group, resource) or verbs & DANGEROUS_VERBS:
                    errors.append(f"{name}: wildcard or escalating grant {group}/{resource} {sorted(verbs)}")
                if (group, resource) in NAMED_ONLY and verbs - {"create"} and not names:
                    errors.append(f"{name}: {group or 'core'}/{resource} {sorted(verbs)} must be limited by resourceNames")
                if kind == "ClusterRole":
                    allowed = CLUSTER_GRANTS.get((group, resource))
                    if allowed is None:
                        errors.append(f"{name}: {group or 'core'}/{resource} granted cluster-wide; use a Role")
                    elif verbs - allowed:
                        errors.append(f"{name}: {group or 'core'}/{resource} verbs {sorted(verbs - allowed)} exceed "
                                      f"what the component needs")
    for kind, role_kind in (("ClusterRoleBinding", "ClusterRole"), ("RoleBinding", "Role")):
        for binding in by_kind(objs, kind):
            name = f"{kind}/{binding['metadata']['name']}"
            ref = binding["roleRef"]
            if ref["name"] in BUILTIN_ROLES:
                errors.append(f"{name}: binds the built-in role {ref['name']}")
            elif ref["kind"] != role_kind or find(objs, role_kind, ref["name"]) is None:
                errors.append(f"{name}: roleRef {ref['kind']}/{ref['name']} is not a rendered {role_kind}")
            for s in binding.get("subjects", []):
                if s["kind"] != "ServiceAccount" or find(objs, "ServiceAccount", s["name"]) is None:
                    errors.append(f"{name}: subject {s} is not a rendered ServiceAccount")
    return errors


def check_all(objs, namespace, kubelet_root, local_socket_dir=LOCAL_SOCKET_DIR):
    """Every check; when objects are not valid API objects only those errors (the rest assume them)."""
    errors = check_schema(objs)
    if errors:
        return errors
    return (check_identity(objs, namespace) + check_workloads(objs) +
            check_services(objs) + check_host_paths(objs, kubelet_root, local_socket_dir) +
            check_security(objs) + check_rbac(objs))
