"""Checks a Kubernetes object against the API's types, without a cluster.

Built-in kinds are checked against the typed models of the Python Kubernetes client (Debian's
python3-kubernetes): every field must exist under its JSON name, have the right type (a label value
must be a string, a port an integer), and required fields must be present. Fields newer than that
client's API are listed in NEWER_FIELDS with the Kubernetes version that added them and checked by
hand. Custom resources are checked against their CRD's openAPIV3Schema (GPUPool) or a small
hand-written schema of the fields the chart relies on (cert-manager, Prometheus Operator).

Thread-safety: pure functions.
"""
import functools
import inspect
import re

import jsonschema
import kubernetes.client.models as models

# (apiVersion, kind) -> model class. Anything else is an unknown kind, which is an error.
BUILTIN = {
    ("v1", "ConfigMap"): models.V1ConfigMap,
    ("v1", "Pod"): models.V1Pod,
    ("v1", "Secret"): models.V1Secret,
    ("v1", "Service"): models.V1Service,
    ("v1", "ServiceAccount"): models.V1ServiceAccount,
    ("apps/v1", "DaemonSet"): models.V1DaemonSet,
    ("apps/v1", "Deployment"): models.V1Deployment,
    ("batch/v1", "Job"): models.V1Job,
    ("policy/v1", "PodDisruptionBudget"): models.V1PodDisruptionBudget,
    ("node.k8s.io/v1", "RuntimeClass"): models.V1RuntimeClass,
    ("rbac.authorization.k8s.io/v1", "ClusterRole"): models.V1ClusterRole,
    ("rbac.authorization.k8s.io/v1", "ClusterRoleBinding"): models.V1ClusterRoleBinding,
    ("rbac.authorization.k8s.io/v1", "Role"): models.V1Role,
    ("rbac.authorization.k8s.io/v1", "RoleBinding"): models.V1RoleBinding,
    ("admissionregistration.k8s.io/v1", "MutatingWebhookConfiguration"):
        models.V1MutatingWebhookConfiguration,
    ("apiextensions.k8s.io/v1", "CustomResourceDefinition"): models.V1CustomResourceDefinition,
}

CLUSTER_SCOPED = {"ClusterRole", "ClusterRoleBinding", "MutatingWebhookConfiguration",
                  "CustomResourceDefinition", "RuntimeClass", "GPUPool", "Namespace"}

# Fields the chart uses that the client's API (Kubernetes 1.22) predates: (model, json name) -> schema.
NEWER_FIELDS = {
    # admissionregistration.k8s.io/v1 matchConditions: beta in 1.28 (on by default), GA in 1.30.
    ("V1MutatingWebhook", "matchConditions"): {
        "type": "array", "maxItems": 64,
        "items": {"type": "object", "required": ["name", "expression"], "additionalProperties": False,
                  "properties": {"name": {"type": "string", "pattern": r"^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$",
                                          "maxLength": 63},
                                 "expression": {"type": "string", "minLength": 1}}}},
}

# apiextensions.k8s.io/v1 CEL validation rules in CRD schemas: beta in 1.25, GA in 1.29.
NEWER_FIELDS[("V1JSONSchemaProps", "x-kubernetes-validations")] = {
    "type": "array",
    "items": {"type": "object", "required": ["rule"], "additionalProperties": False,
              "properties": {"rule": {"type": "string", "minLength": 1}, "message": {"type": "string"},
                             "messageExpression": {"type": "string"}, "reason": {"type": "string"},
                             "fieldPath": {"type": "string"}, "optionalOldSelf": {"type": "boolean"}}}}

# Minimal schemas for the custom resources the chart creates from other projects.
_OBJECT_META = {"type": "object", "required": ["name"]}
CUSTOM = {
    ("monitoring.coreos.com/v1", "ServiceMonitor"): {
        "type": "object", "required": ["spec"],
        "properties": {"spec": {"type": "object", "required": ["selector", "endpoints"], "properties": {
            "selector": {"type": "object"},
            "namespaceSelector": {"type": "object", "properties": {"matchNames": {"type": "array"}}},
            "endpoints": {"type": "array", "minItems": 1, "items": {
                "type": "object", "required": ["port"], "additionalProperties": False,
                "properties": {"port": {"type": "string"}, "path": {"type": "string"},
                               "interval": {"type": "string", "pattern": r"^[0-9]+(ms|s|m|h)$"}}}}}}}},
    ("cert-manager.io/v1", "Issuer"): {
        "type": "object", "required": ["spec"],
        "properties": {"spec": {"type": "object", "minProperties": 1, "maxProperties": 1}}},
    ("cert-manager.io/v1", "Certificate"): {
        "type": "object", "required": ["spec"],
        "properties": {"spec": {"type": "object", "required": ["secretName", "issuerRef"], "properties": {
            "secretName": {"type": "string", "minLength": 1},
            "dnsNames": {"type": "array", "items": {"type": "string"}},
            "duration": {"type": "string"}, "renewBefore": {"type": "string"},
            "issuerRef": {"type": "object", "required": ["name"], "additionalProperties": False,
                          "properties": {"name": {"type": "string"},
                                         "kind": {"enum": ["Issuer", "ClusterIssuer"]},
                                         "group": {"type": "string"}}}}}}},
}

_DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")


@functools.lru_cache(maxsize=None)
def _required_attrs(cls):
    """Attributes whose setter refuses None: the API's required fields."""
    out = set()
    for attr in cls.openapi_types:
        setter = getattr(cls, attr).fset
        if setter is not None and "must not be `None`" in inspect.getsource(setter):
            out.add(attr)
    return out


def _check_value(value, type_name, path, errors, in_quantities=False):
    if type_name == "object":
        return
    if type_name.startswith("list["):
        if not isinstance(value, list):
            errors.append(f"{path}: expected a list, got {type(value).__name__}")
            return
        for i, item in enumerate(value):
            _check_value(item, type_name[5:-1], f"{path}[{i}]", errors, in_quantities)
        return
    if type_name.startswith("dict("):
        if not isinstance(value, dict):
            errors.append(f"{path}: expected a map, got {type(value).__name__}")
            return
        inner = type_name[len("dict(str, "):-1]
        for k, v in value.items():
            _check_value(v, inner, f"{path}.{k}", errors, in_quantities)
        return
    if type_name == "str":
        # Quantities may be written as numbers ("cpu: 1"); the API accepts both.
        ok = isinstance(value, str) or (in_quantities and isinstance(value, (int, float))
                                        and not isinstance(value, bool))
        if not ok:
            errors.append(f"{path}: expected a string, got {type(value).__name__} {value!r}")
        return
    if type_name in ("int", "float"):
        if isinstance(value, bool) or not isinstance(value, (int, float)) or (
                type_name == "int" and isinstance(value, float) and not value.is_integer()):
            errors.append(f"{path}: expected a number, got {type(value).__name__} {value!r}")
        return
    if type_name == "bool":
        if not isinstance(value, bool):
            errors.append(f"{path}: expected true/false, got {type(value).__name__} {value!r}")
        return
    if type_name == "datetime":
        return
    cls = getattr(models, type_name, None)
    if cls is None:
        errors.append(f"{path}: validator does not know type {type_name}")
        return
    check_model(value, cls, path, errors)


def check_model(obj, cls, path, errors):
    if not isinstance(obj, dict):
        errors.append(f"{path}: expected an object ({cls.__name__}), got {type(obj).__name__}")
        return
    by_json = {json_name: attr for attr, json_name in cls.attribute_map.items()}
    for key, value in obj.items():
        if (cls.__name__, key) in NEWER_FIELDS:
            for e in jsonschema.Draft7Validator(NEWER_FIELDS[(cls.__name__, key)]).iter_errors(value):
                errors.append(f"{path}.{key}: {e.message}")
            continue
        attr = by_json.get(key)
        if attr is None:
            errors.append(f"{path}.{key}: unknown field of {cls.__name__}")
            continue
        if value is None:
            continue
        _check_value(value, cls.openapi_types[attr], f"{path}.{key}", errors,
                     in_quantities=cls is models.V1ResourceRequirements)
    for attr in _required_attrs(cls):
        if obj.get(cls.attribute_map[attr]) is None:
            errors.append(f"{path}.{cls.attribute_map[attr]}: required field of {cls.__name__} is missing")


def _closed(schema):
    """A copy of a structural schema where objects reject unknown fields: the API server would silently
    prune them, which hides a misspelt field; here it is an error."""
    if not isinstance(schema, dict):
        return schema
    out = {k: (_closed(v) if k in ("items", "additionalProperties") else v) for k, v in schema.items()}
    if "properties" in schema:
        out["properties"] = {k: _closed(v) for k, v in schema["properties"].items()}
        if not schema.get("x-kubernetes-preserve-unknown-fields") and "additionalProperties" not in schema:
            out["additionalProperties"] = False
    return out


def crd_schema(crd):
    """The openAPIV3Schema of a CRD's storage version, for jsonschema, with unknown fields refused."""
    for version in crd["spec"]["versions"]:
        if version.get("storage"):
            return _closed(version["schema"]["openAPIV3Schema"])
    raise ValueError("CRD has no storage version")


def check_object(obj, crds=None):
    """Errors (strings) for one object; `crds` maps (apiVersion, kind) to CRD schemas."""
    errors = []
    api_version, kind = obj.get("apiVersion"), obj.get("kind")
    meta = obj.get("metadata") or {}
    where = f"{kind}/{meta.get('name', '?')}"
    if not api_version or not kind:
        return [f"{where}: apiVersion and kind are required"]
    name = meta.get("name", "")
    if not isinstance(name, str) or not _DNS_SUBDOMAIN.match(name) or len(name) > 253:
        errors.append(f"{where}: metadata.name {name!r} is not a DNS subdomain")
    if kind in ("Service", "Namespace") and not (_DNS_LABEL.match(name) and len(name) <= 63):
        errors.append(f"{where}: a {kind} name must be a DNS label of at most 63 characters")
    if (api_version, kind) in BUILTIN:
        check_model(obj, BUILTIN[(api_version, kind)], where, errors)
        return errors
    check_model(meta, models.V1ObjectMeta, f"{where}.metadata", errors)
    schema = (crds or {}).get((api_version, kind)) or CUSTOM.get((api_version, kind))
    if schema is None:
        return errors + [f"{where}: unknown kind {api_version} {kind}"]
    body = {k: v for k, v in obj.items() if k not in ("apiVersion", "kind", "metadata")}
    for e in jsonschema.Draft7Validator(schema).iter_errors(body):
        errors.append(f"{where}.{'.'.join(str(p) for p in e.absolute_path)}: {e.message}")
    return errors
