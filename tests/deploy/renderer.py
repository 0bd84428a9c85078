"""Renders the Helm chart for the chart checks: with `helm template` when helm is on PATH, otherwise
with tests/deploy/render (a small Go stand-in built here in GOPATH mode from Debian's Go packages) plus
a values.schema.json check done in Python, as Helm does before rendering. When neither is available the
caller skips, saying why.

Thread-safety: build_go_renderer takes a file lock, so parallel ctest cases build it once.
"""
import fcntl
import json
import os
import shutil
import subprocess

import jsonschema
import yaml

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE_DIR = os.path.dirname(os.path.dirname(HERE))
CHART_DIR = os.path.join(SOURCE_DIR, "deploy", "helm", "gpupool")
GOCODE = "/usr/share/gocode/src"
# Debian installs these modules without their /v3 major-version directories; GOPATH mode needs them.
GO_V3_ALIASES = {
    "github.com/Masterminds/sprig/v3": "github.com/Masterminds/sprig",
    "github.com/Masterminds/semver/v3": "github.com/Masterminds/semver",
}


class Unavailable(Exception):
    """No way to render here (the reason is the message)."""


class RenderError(Exception):
    """The chart refused these values (the message is what Helm or the renderer printed)."""


def _symlink(target, link):
    os.makedirs(os.path.dirname(link), exist_ok=True)
    if os.path.islink(link) and os.readlink(link) == target:
        return
    if os.path.lexists(link):
        os.remove(link)
    os.symlink(target, link)


def build_go_renderer(work_dir):
    """Builds the Go renderer under work_dir (once; later calls reuse it). Returns its path."""
    go = shutil.which("go")
    if go is None:
        raise Unavailable("neither helm nor go is on PATH (scripts/install-deps.sh installs golang-go)")
    for pkg in list(GO_V3_ALIASES.values()) + ["sigs.k8s.io/yaml"]:
        if not os.path.isdir(os.path.join(GOCODE, pkg)):
            raise Unavailable(f"Go package {pkg} is not in {GOCODE} (scripts/install-deps.sh installs it)")
    os.makedirs(work_dir, exist_ok=True)
    binary = os.path.join(work_dir, "render")
    with open(os.path.join(work_dir, "build.lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        gopath = os.path.join(work_dir, "gopath")
        for alias, real in GO_V3_ALIASES.items():
            _symlink(os.path.join(GOCODE, real), os.path.join(gopath, "src", alias))
        package = os.path.join(gopath, "src", "gpupool", "render")
        _symlink(os.path.join(HERE, "render"), package)
        env = dict(os.environ, GO111MODULE="off", GOPATH=f"{gopath}:/usr/share/gocode",
                   GOCACHE=os.path.join(work_dir, "gocache"), GOFLAGS="")
        # `go build` is itself incremental: it relinks only when a source changed.
        result = subprocess.run([go, "build", "-o", binary, "."], cwd=package, env=env,
                                capture_output=True, text=True)
        if result.returncode != 0:
            raise RuntimeError("building tests/deploy/render failed:\n" + result.stderr)
    return binary


def schema_errors(chart_dir, merged_values):
    """values.schema.json errors, one line each, naming the value as Helm does ("server.dataPort: ...")."""
    with open(os.path.join(chart_dir, "values.schema.json")) as f:
        schema = json.load(f)
    lines = []
    for e in sorted(jsonschema.Draft7Validator(schema).iter_errors(merged_values), key=lambda e: list(e.path)):
        where = ".".join(str(p) for p in e.absolute_path) or "(root)"
        lines.append(f"- {where}: {e.message}")
    return lines


class Renderer:
    def __init__(self, work_dir):
        self.helm = shutil.which("helm")
        if self.helm:
            version = subprocess.run([self.helm, "version", "--short"], capture_output=True, text=True)
            self.name = f"helm {version.stdout.strip()}"
            self.go_binary = None
        else:
            self.go_binary = build_go_renderer(work_dir)
            self.name = "tests/deploy/render (Go text/template + sprig; helm is not installed)"

    def render(self, values_files=(), sets=(), namespace="gpupool-system", release="gpupool",
               kube_version="1.30.0", chart_dir=CHART_DIR):
        """Returns the rendered objects (dicts, CRDs first), or raises RenderError with the message."""
        value_args = []
        for f in values_files:
            value_args += ["-f", f]
        for s in sets:
            value_args += ["--set", s]
        if self.helm:
            cmd = [self.helm, "template", release, chart_dir, "--namespace", namespace, "--include-crds",
                   "--kube-version", kube_version] + value_args
        else:
            base = [self.go_binary, "--chart", chart_dir, "--name", release, "--namespace", namespace,
                    "--kube-version", kube_version] + value_args
            shown = subprocess.run(base + ["--show-values"], capture_output=True, text=True)
            if shown.returncode != 0:
                raise RenderError(shown.stderr.strip())
            errors = schema_errors(chart_dir, json.loads(shown.stdout))
            if errors:
                raise RenderError("values don't meet the specifications of the schema(s) in the following "
                                  "chart(s):\ngpupool:\n" + "\n".join(errors))
            cmd = base + ["--include-crds"]
        result = subprocess.run(cmd, capture_output=True, text=True)
        if result.returncode != 0:
            raise RenderError(result.stderr.strip())
        return [d for d in yaml.safe_load_all(result.stdout) if d is not None]
