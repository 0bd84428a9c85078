"""How gpupool's own parts must be wired together in a rendering: the operator's flags against its
Service, webhook configuration, TLS and Lease; the device plugin against the kubelet's directory; the
server's flags against its ports and the GPUPool. Each function returns a list of error strings.

Thread-safety: pure functions.
"""
from chart_checks import by_kind, containers, find, pod_spec


def flags(container):
    """--key=value arguments as a dict (flags without a value map to "")."""
    out = {}
    for arg in container.get("args", []):
        key, _, value = arg.partition("=")
        out[key] = value
    return out


def container(workload, name):
    for c in containers(workload):
        if c["name"] == name:
            return c
    raise AssertionError(f"{workload['kind']}/{workload['metadata']['name']} has no container {name}")


def port(c, name):
    for p in c.get("ports", []):
        if p["name"] == name:
            return p["containerPort"]
    return None


def listen_port(value):
    return int(value.rsplit(":", 1)[1])


def component(objs, kind, suffix):
    found = [o for o in by_kind(objs, kind) if o["metadata"]["name"].endswith(suffix)]
    return found[0] if len(found) == 1 else None


def check_operator(objs, namespace, tls_mode):
    errors = []
    dep = component(objs, "Deployment", "-operator")
    if dep is None:
        return ["no operator Deployment"]
    op = container(dep, "operator")
    f = flags(op)
    if dep["spec"]["replicas"] > 1 and f.get("--leader-elect") != "true":
        errors.append("operator: more than one replica without --leader-elect=true")
    lease = f.get("--leader-election-lease")
    role = find(objs, "Role", dep["metadata"]["name"])
    lease_names = [n for r in (role or {}).get("rules", []) if "leases" in r["resources"]
                   for n in r.get("resourceNames", [])]
    if lease not in lease_names:
        errors.append(f"operator: Role does not grant its Lease {lease!r} by name ({lease_names})")
    if port(op, "webhook") != listen_port(f["--webhook-listen"]):
        errors.append("operator: webhook containerPort differs from --webhook-listen")
    if port(op, "metrics") != listen_port(f["--metrics-listen"]):
        errors.append("operator: metrics containerPort differs from --metrics-listen")

    mwcs = by_kind(objs, "MutatingWebhookConfiguration")
    if len(mwcs) != 1 or mwcs[0]["metadata"]["name"] != f.get("--webhook-configuration"):
        return errors + [f"operator: --webhook-configuration {f.get('--webhook-configuration')!r} is not the one "
                         f"rendered MutatingWebhookConfiguration"]
    mwc = mwcs[0]
    hook = mwc["webhooks"][0]
    svc_ref = hook["clientConfig"]["service"]
    svc = find(objs, "Service", svc_ref["name"])
    if svc is None or svc_ref["namespace"] != namespace or svc_ref["name"] != f.get("--webhook-service"):
        errors.append(f"webhook: clientConfig.service {svc_ref} is not the operator's Service")
    elif not any(p["port"] == svc_ref.get("port", 443) and p["targetPort"] == "webhook" for p in svc["spec"]["ports"]):
        errors.append("webhook: the Service does not route its port to the operator's webhook port")
    if not any("pods" in r["resources"] and "CREATE" in r["operations"] for r in hook["rules"]):
        errors.append("webhook: does not intercept pod creation")
    excluded = [e for e in hook.get("namespaceSelector", {}).get("matchExpressions", [])
                if e["key"] == "kubernetes.io/metadata.name" and e["operator"] == "NotIn"]
    if not excluded or namespace not in excluded[0]["values"]:
        errors.append("webhook: the operator's own namespace is not excluded")
    # Write access to the webhook configuration is limited to this one by name.
    cluster_role = find(objs, "ClusterRole", dep["metadata"]["name"])
    names = [n for r in cluster_role["rules"] if "mutatingwebhookconfigurations" in r["resources"]
             for n in r.get("resourceNames", [])]
    if names != [mwc["metadata"]["name"]]:
        errors.append(f"operator: ClusterRole grants webhook configurations {names}, want only its own")
    errors += check_webhook_tls(objs, dep, op, f, mwc, namespace, tls_mode)
    return errors


def check_webhook_tls(objs, dep, op, f, mwc, namespace, tls_mode):
    errors = []
    svc_dns = f"{f.get('--webhook-service')}.{namespace}.svc"
    if tls_mode == "operator":
        secret = f.get("--webhook-tls-secret")
        if find(objs, "Secret", secret) is None:
            errors.append(f"tls: --webhook-tls-secret {secret!r} is not a rendered Secret")
        role = find(objs, "Role", dep["metadata"]["name"])
        grants = [r for r in role["rules"] if "secrets" in r["resources"]]
        # Besides its own, the operator may fill the servers' Secret it was told to make.
        wanted = sorted(n for n in (secret, f.get("--server-tls-secret")) if n)
        if sorted(n for r in grants for n in r.get("resourceNames", [])) != wanted or not {"get", "update"} <= set(
                v for r in grants for v in r["verbs"]):
            errors.append(f"tls: the operator's Role must grant get/update on exactly Secrets {wanted}")
        if by_kind(objs, "Certificate"):
            errors.append("tls: cert-manager objects rendered in operator mode")
        return errors
    certs = by_kind(objs, "Certificate")
    if len(certs) != 1:
        return [f"tls: want one cert-manager Certificate, got {len(certs)}"]
    cert = certs[0]
    inject = mwc["metadata"].get("annotations", {}).get("cert-manager.io/inject-ca-from")
    if inject != f"{namespace}/{cert['metadata']['name']}":
        errors.append(f"tls: inject-ca-from {inject!r} does not name the Certificate")
    if svc_dns not in cert["spec"].get("dnsNames", []):
        errors.append(f"tls: the Certificate does not cover {svc_dns}")
    mounts = {m["name"]: m["mountPath"] for m in op.get("volumeMounts", [])}
    volumes = [v for v in pod_spec(dep).get("volumes", []) if v.get("secret", {}).get("secretName") ==
               cert["spec"]["secretName"]]
    if not volumes or mounts.get(volumes[0]["name"]) != f.get("--webhook-cert-dir"):
        errors.append("tls: the Certificate's Secret is not mounted at --webhook-cert-dir")
    ref = cert["spec"]["issuerRef"]
    if ref.get("kind", "Issuer") == "Issuer" and find(objs, "Issuer", ref["name"]) is None and ref["name"].startswith(
            dep["metadata"]["name"].rsplit("-operator", 1)[0]):
        errors.append(f"tls: issuerRef {ref['name']} is not rendered")
    granted = [n for r in find(objs, "Role", dep["metadata"]["name"])["rules"] if "secrets" in r["resources"]
               for n in r.get("resourceNames", ["*"])]
    if granted != ([f["--server-tls-secret"]] if f.get("--server-tls-secret") else []):
        errors.append("tls: in certManager mode the operator needs Secret access only to the servers' Secret it makes")
    return errors


def check_device_plugin(objs, kubelet_root):
    ds = component(objs, "DaemonSet", "-device-plugin")
    if ds is None:  # devicePlugin.enabled=false
        return []
    errors = []
    plugin = container(ds, "device-plugin")
    want = f"{kubelet_root}/device-plugins"
    if flags(plugin).get("--device-plugin-dir") != want:
        errors.append(f"device plugin: --device-plugin-dir {flags(plugin).get('--device-plugin-dir')}, want {want}")
    volumes = {v["name"]: v.get("hostPath", {}).get("path") for v in pod_spec(ds)["volumes"]}
    mounts = {m["mountPath"]: m["name"] for m in plugin.get("volumeMounts", [])}
    if volumes.get(mounts.get(want)) != want:
        errors.append(f"device plugin: {want} is not mounted from the host at the same path")
    f = flags(plugin)
    spec = pod_spec(ds)
    role = find(objs, "ClusterRole", ds["metadata"]["name"])
    if f.get("--pool-health") == "gpupool":
        if spec.get("automountServiceAccountToken") is not True or role is None:
            errors.append("device plugin: --pool-health=gpupool without a token and read access to GPUPools")
    elif spec.get("automountServiceAccountToken") is not False or role is not None:
        errors.append("device plugin: static pool health needs no API access, yet it has some")
    if role is not None and any(set(r["verbs"]) - {"get", "list", "watch"} or r["resources"] != ["gpupools"]
                                for r in role["rules"]):
        errors.append("device plugin: its ClusterRole may do more than read GPUPools")
    install = container(ds, "install-client")
    if not any(volumes.get(m["name"]) == "/opt/gpupool/lib" for m in install.get("volumeMounts", [])):
        errors.append("device plugin: install-client does not mount the host's /opt/gpupool/lib")
    return errors


def check_server_and_pool(objs, external_servers):
    errors = []
    ds = component(objs, "DaemonSet", "-server")
    pools = by_kind(objs, "GPUPool")
    pool = pools[0]["spec"] if pools else None
    if pool is not None:
        # The CRD's own rule (x-kubernetes-validations), which the API server would enforce.
        if not pool.get("servers") and "serverSelector" not in pool:
            errors.append("GPUPool: neither servers nor serverSelector; the API server refuses such a pool")
        got = [s["address"] for s in pool.get("servers", [])]
        if got != external_servers:
            errors.append(f"GPUPool: servers {got}, want the external servers {external_servers}")
    if ds is None:
        if pool is not None and "serverSelector" in pool:
            errors.append("GPUPool: serverSelector set but no server DaemonSet is rendered")
        return errors
    server = container(ds, "server")
    f = flags(server)
    data, control, metrics = (listen_port(f[k]) for k in ("--listen", "--control-listen", "--metrics-listen"))
    if control != data + 1:
        errors.append(f"server: Control port {control} is not data port {data} + 1 (what clients assume)")
    for name, value in (("data", data), ("control", control), ("metrics", metrics)):
        if port(server, name) != value:
            errors.append(f"server: containerPort {name} differs from its flag ({value})")
    if pool is not None:
        selector = pool.get("serverSelector", {}).get("matchLabels")
        if selector != pod_spec(ds).get("nodeSelector"):
            errors.append(f"GPUPool: serverSelector {selector} differs from the server nodeSelector")
        if pool.get("serverPort") != data:
            errors.append(f"GPUPool: serverPort {pool.get('serverPort')} differs from the server's data port {data}")
    return errors


def _secret_volumes(ds):
    """Volume name -> (Secret name, keys projected) of a workload's Secret volumes."""
    return {v["name"]: (v["secret"]["secretName"], [i["key"] for i in v["secret"].get("items", [])])
            for v in pod_spec(ds)["volumes"] if "secret" in v}


def _mount_of(workload, container_name, path):
    """The volume a file path of a container lies in (longest mount prefix), or None."""
    best = None
    for m in container(workload, container_name).get("volumeMounts", []):
        if path.startswith(m["mountPath"].rstrip("/") + "/") and (best is None or len(m["mountPath"]) > len(best[0])):
            best = (m["mountPath"], m["name"])
    if best is None:
        return None
    return next((v for v in pod_spec(workload)["volumes"] if v["name"] == best[1]), None)


def check_control_access(objs):
    """The servers' Control API: with pod tokens on, the servers allow the operator's service account
    (--control-service-account NAMESPACE:NAME naming the operator Deployment's) and the operator sends a
    projected token of audience gpupool.io (--server-token-file inside such a volume); with server TLS,
    the operator checks the servers against the CA of the servers' Secret."""
    errors = []
    ds = component(objs, "DaemonSet", "-server")
    op = component(objs, "Deployment", "-operator")
    if ds is None or op is None:
        return errors
    f = flags(container(ds, "server"))
    o = flags(container(op, "operator"))
    if "--pod-token-review" in f:
        account = "%s:%s" % (op["metadata"]["namespace"], pod_spec(op).get("serviceAccountName"))
        if f.get("--control-service-account") != account:
            errors.append(f"server: --control-service-account {f.get('--control-service-account')} is not the "
                          f"operator's service account {account}")
        volume = _mount_of(op, "operator", o.get("--server-token-file", "-"))
        sources = (volume or {}).get("projected", {}).get("sources", [])
        token = [s["serviceAccountToken"] for s in sources if "serviceAccountToken" in s]
        if not token or token[0].get("audience") != "gpupool.io" or \
                not o["--server-token-file"].endswith("/" + token[0].get("path", "")):
            errors.append("operator: --server-token-file is not a projected service-account token of audience "
                          "gpupool.io")
    if "--tls-cert-file" in f:
        volume = _mount_of(op, "operator", o.get("--server-tls-ca-file", "-"))
        server_secrets = {s for s, _ in _secret_volumes(ds).values()}
        if volume is None or volume.get("secret", {}).get("secretName") not in server_secrets or \
                [i["key"] for i in volume["secret"].get("items", [])] != ["ca.crt"]:
            errors.append("operator: the servers have TLS but --server-tls-ca-file is not the ca.crt of their Secret")
        if not o.get("--server-tls-server-name"):
            errors.append("operator: the servers have TLS but no --server-tls-server-name")
    elif "--server-tls-ca-file" in o:
        errors.append("operator: --server-tls-ca-file although the servers have no TLS")
    return errors


def check_server_auth_and_tls(objs):
    """The server's data port: reachable beyond loopback only with client authentication or explicitly
    allowed (else gpupool-server binds loopback); with TLS, its key from a Secret mounted into the server
    alone, and the same Secret's CA (only) given to the clients through the device plugin."""
    errors = []
    ds = component(objs, "DaemonSet", "-server")
    if ds is None:
        return errors
    f = flags(container(ds, "server"))
    host = f["--listen"].rsplit(":", 1)[0]
    authenticated = "--token-file" in f or "--tls-client-ca-file" in f or "--pod-token-review" in f
    if "--pod-token-review" in f and "--kube-api-server" not in f:
        role = find(objs, "ClusterRole", ds["metadata"]["name"])
        bound = find(objs, "ClusterRoleBinding", ds["metadata"]["name"])
        grants = role is not None and any("tokenreviews" in r["resources"] and "create" in r["verbs"]
                                          for r in role["rules"])
        account = pod_spec(ds).get("serviceAccountName")
        if not grants or bound is None or pod_spec(ds).get("automountServiceAccountToken") is False or \
                not any(s.get("name") == account for s in bound.get("subjects", [])):
            errors.append("server: --pod-token-review without its service account's token and the right to "
                          "create TokenReviews")
    if host not in ("127.0.0.1", "[::1]", "localhost") and not authenticated and "--allow-unauthenticated" not in f:
        errors.append("server: listens on %s without client authentication or --allow-unauthenticated "
                      "(it would bind loopback only)" % host)
    plugin_ds = component(objs, "DaemonSet", "-device-plugin")
    plugin = flags(container(plugin_ds, "device-plugin")) if plugin_ds else {}
    if "--tls-cert-file" not in f:
        if "--tls-ca-file" in plugin:
            errors.append("device plugin: --tls-ca-file although the server has no TLS")
        return errors
    secrets = _secret_volumes(ds)
    mounts = {m["mountPath"]: m["name"] for m in container(ds, "server").get("volumeMounts", [])}
    names = set()
    for flag in ("--tls-cert-file", "--tls-key-file"):
        volume = mounts.get(f[flag].rsplit("/", 1)[0])
        if volume not in secrets:
            errors.append(f"server: {flag} {f[flag]} is not in a mounted Secret")
        else:
            names.add(secrets[volume][0])
    if plugin_ds is None:
        return errors
    if not plugin.get("--tls-ca-file", "").startswith("/opt/gpupool/lib/") or not plugin.get("--tls-server-name"):
        errors.append("device plugin: the server has TLS but clients get no CA in the client folder or no server name")
    # The plugin installs the CA in the host's client folder (the file containers read as --tls-ca-file)
    # from its mount of the server's Secret, and again whenever that Secret changes.
    source, target = plugin.get("--tls-ca-source", "-"), plugin.get("--tls-ca-install", "-")
    secret_volume = _mount_of(plugin_ds, "device-plugin", source)
    if secret_volume is None or "secret" not in secret_volume:
        errors.append(f"device plugin: --tls-ca-source {source} is not in a mounted Secret")
    else:
        secret = secret_volume["secret"]["secretName"]
        items = secret_volume["secret"].get("items", [])
        if secret not in names or [i["key"] for i in items] != ["ca.crt"]:
            errors.append(f"device plugin: mounts {[i['key'] for i in items]} of Secret {secret}; "
                          f"want only ca.crt of {sorted(names)}")
        elif items[0]["path"] != source.rsplit("/", 1)[-1]:
            errors.append(f"device plugin: --tls-ca-source {source} is not the ca.crt it mounts")
    host_volume = _mount_of(plugin_ds, "device-plugin", target)
    client_dir = plugin.get("--client-lib-dir", "/opt/gpupool/lib")
    if host_volume is None or host_volume.get("hostPath", {}).get("path") != client_dir or \
            target.rsplit("/", 1)[-1] != plugin.get("--tls-ca-file", "").rsplit("/", 1)[-1]:
        errors.append(f"device plugin: --tls-ca-install {target} is not the --tls-ca-file of the host's "
                      f"client folder {client_dir}")
    return errors


def _host_dir(workload, container_, mount_path):
    """(host path, read-only) of the hostPath volume `container_` mounts at mount_path, or (None, None)."""
    volumes = {v["name"]: v.get("hostPath", {}).get("path") for v in pod_spec(workload)["volumes"]}
    for m in container(workload, container_).get("volumeMounts", []):
        if m["mountPath"] == mount_path:
            return volumes.get(m["name"]), m.get("readOnly", False)
    return None, None


def check_local_socket(objs):
    """The server's --unix socket lies in a host folder that the device plugin offers pods (--local-socket
    at the same host path, mounted read-only), and it is open to pods only with client authentication."""
    errors = []
    ds = component(objs, "DaemonSet", "-server")
    plugin_ds = component(objs, "DaemonSet", "-device-plugin")
    server_socket = None
    if ds is not None:
        f = flags(container(ds, "server"))
        if "--unix" in f:
            folder, name = f["--unix"].rsplit("/", 1)
            host, _ = _host_dir(ds, "server", folder)
            if host is None:
                errors.append(f"server: --unix {f['--unix']} is not in a host folder")
            else:
                server_socket = f"{host}/{name}"
            if not any(c["name"] == "socket-dir" for c in ds["spec"]["template"]["spec"].get("initContainers", [])):
                errors.append("server: nothing gives the socket's root-owned host folder to the server's user")
            if f.get("--unix-mode") and not ({"--pod-token-review", "--token-file", "--allow-unauthenticated"} & set(f)):
                errors.append("server: a Unix socket open to pods without client authentication")
    if plugin_ds is None:
        return errors
    offered = flags(container(plugin_ds, "device-plugin")).get("--local-socket")
    if offered != server_socket:
        errors.append(f"device plugin: --local-socket {offered}, but the server's socket is {server_socket}")
    if offered:
        folder = offered.rsplit("/", 1)[0]
        host, read_only = _host_dir(plugin_ds, "device-plugin", folder)
        if host != folder or read_only is not True:
            errors.append(f"device plugin: {folder} is not mounted read-only from the same host folder")
    return errors
