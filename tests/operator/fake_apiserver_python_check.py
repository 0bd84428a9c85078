"""Drives the fake API server with Debian's python3-kubernetes client (run by /usr/bin/python3).

Usage: fake_apiserver_python_check.py KUBECONFIG STALE_RESOURCE_VERSION
Prints one JSON object per line ({"name": value}) for the C++ test to compare with the server's
own view; exit code 0 only when every step behaved as the API server's contract says.
"""
import json
import sys

from kubernetes import client, config, watch
from kubernetes.client.rest import ApiException


def emit(key, value):
    print(json.dumps({key: value}), flush=True)


def main():
    config.load_kube_config(sys.argv[1])
    stale_rv = sys.argv[2]
    v1 = client.CoreV1Api()
    pod = {"apiVersion": "v1", "kind": "Pod",
           "metadata": {"name": "py-pod", "labels": {"app": "py"}},
           "spec": {"schedulingGates": [{"name": "gpupool.io/binding"}],
                    "containers": [{"name": "main", "image": "busybox"}]}}
    created = v1.create_namespaced_pod("default", pod)
    emit("created_rv", created.metadata.resource_version)
    emit("uid", created.metadata.uid)
    got = v1.read_namespaced_pod("py-pod", "default")
    emit("get_rv", got.metadata.resource_version)
    listed = v1.list_namespaced_pod("default", label_selector="app=py")
    emit("list_names", [p.metadata.name for p in listed.items])
    emit("list_rv", listed.metadata.resource_version)
    patched = v1.patch_namespaced_pod("py-pod", "default",
                                      {"metadata": {"annotations": {"gpupool.io/binding": "{}"}}})
    emit("annotations", patched.metadata.annotations)
    # While gated, the pod may be pinned to a node (its nodeSelector may gain entries), not moved.
    pinned = v1.patch_namespaced_pod("py-pod", "default",
                                     {"spec": {"nodeSelector": {"kubernetes.io/hostname": "gpu-01"}}})
    emit("node_selector", pinned.spec.node_selector)
    try:
        v1.patch_namespaced_pod("py-pod", "default", {"spec": {"nodeSelector": {"kubernetes.io/hostname": "gpu-02"}}})
        emit("repin", "accepted")
    except ApiException as e:
        emit("repin", [e.status, json.loads(e.body)["reason"]])
    # This client predates spec.schedulingGates: read the raw answer instead of the model.
    ungated = v1.patch_namespaced_pod("py-pod", "default",
                                      [{"op": "remove", "path": "/spec/schedulingGates/0"}],
                                      _preload_content=False)
    emit("gates_after", json.loads(ungated.data)["spec"].get("schedulingGates"))
    got.metadata.labels["extra"] = "1"
    try:
        v1.replace_namespaced_pod("py-pod", "default", got)
        emit("stale_update", "accepted")
    except ApiException as e:
        emit("stale_update", [e.status, json.loads(e.body)["reason"]])
    events = []
    for ev in watch.Watch().stream(v1.list_namespaced_pod, "default",
                                   resource_version=listed.metadata.resource_version, timeout_seconds=1):
        events.append([ev["type"], ev["object"].metadata.name, ev["object"].metadata.resource_version])
    emit("events", events)
    try:
        for ev in watch.Watch().stream(v1.list_namespaced_pod, "default",
                                       resource_version=stale_rv, timeout_seconds=1):
            emit("unexpected_event", ev["type"])
        emit("expired", "no error")
    except ApiException as e:
        emit("expired", e.status)
    v1.delete_namespaced_pod("py-pod", "default")
    try:
        v1.read_namespaced_pod("py-pod", "default")
        emit("after_delete", 200)
    except ApiException as e:
        emit("after_delete", e.status)
    emit("done", True)


if __name__ == "__main__":
    main()
