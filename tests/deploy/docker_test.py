#!/usr/bin/python3
"""Checks of the container build that need no Docker engine (ctest deploy.docker.<case>): the
Dockerfile's structure against the chart, deploy/docker/stage.sh run on this build tree, and the client
library ABI check.

  docker_test.py --build-dir DIR --work DIR CASE     exit 0 passed, 1 failed, 77 skipped
"""
import os
import re
import shutil
import subprocess
import sys
import tempfile

import yaml

from cases import SKIP, Cases, expect, main
from renderer import CHART_DIR, SOURCE_DIR

STAGE = os.path.join(SOURCE_DIR, "deploy", "docker", "stage.sh")
ABI = os.path.join(SOURCE_DIR, "deploy", "docker", "check-client-abi.sh")
RUNTIME_LIBS = re.compile(r"^(libc|libm|libpthread|libdl|librt|libstdc\+\+|libgcc_s)\.so|^ld-linux|^linux-vdso")
# Chart component -> (Dockerfile target, executable it starts).
COMPONENTS = {"operator": ("operator", "gpupool-operator"), "devicePlugin": ("device-plugin", "gpupool-device-plugin"),
              "server": ("server", "gpupool-server")}



def run(cmd, **kw):
    return subprocess.run(cmd, capture_output=True, text=True, **kw)


def dockerfile_stages():
    """{stage name: {"from": image, "lines": [instruction lines]}} (continuation lines joined)."""
    with open(os.path.join(SOURCE_DIR, "Dockerfile")) as f:
        text = re.sub(r"\\\n", " ", f.read())
    stages, current = {}, None
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        m = re.match(r"FROM\s+(\S+)(?:\s+AS\s+(\S+))?", line, re.I)
        if m:
            current = m.group(2) or f"stage{len(stages)}"
            stages[current] = {"from": m.group(1), "lines": []}
        elif current:
            stages[current]["lines"].append(line)
    return stages


case = Cases()


@case
def dockerfile(build_dir, work):
    stages = dockerfile_stages()
    for name in ("build", "operator", "device-plugin", "server", "cli"):
        expect(name in stages, f"Dockerfile has no stage {name}")
    for name, stage in stages.items():
        image = stage["from"]
        if image in stages:
            continue
        expect(":" in image.split("/")[-1] and not image.endswith(":latest"), f"stage {name}: {image} is not pinned")
    expect(stages["build"]["from"].startswith("debian:bookworm"), "the build stage is Debian bookworm")
    expect(any("install-deps.sh" in l for l in stages["build"]["lines"]), "the build stage runs install-deps.sh")
    expect(stages["server"]["from"].startswith("nvidia/cuda:"), "the server runs on an NVIDIA CUDA base image")
    with open(os.path.join(CHART_DIR, "values.yaml")) as f:
        values = yaml.safe_load(f)
    with open(os.path.join(SOURCE_DIR, "Dockerfile")) as f:
        header = f.read()
    for component, (target, binary) in COMPONENTS.items():
        lines = stages[target]["lines"]
        entry = [l for l in lines if l.startswith("ENTRYPOINT")]
        expect(entry and f"/usr/local/bin/{binary}" in entry[0], f"stage {target} does not start {binary}")
        expect(any(l.startswith("COPY --from=build /stage/" + target) for l in lines),
               f"stage {target} does not take its staged files")
        repository = values[component]["image"]["repository"]
        expect(f"--target {target}" in header and f"/{repository}:" in header,
               f"the Dockerfile does not say how to build {repository} (the chart's {component}.image)")
    for target in ("operator", "server", "cli"):
        users = [l for l in stages[target]["lines"] if l.startswith("USER")]
        expect(users and not re.search(r"USER\s+(0|root)\b", users[-1]), f"stage {target} must run as non-root")
    expect(not any("libcuda" in l for l in stages["server"]["lines"]), "the server image must not carry a libcuda")
    with open(os.path.join(SOURCE_DIR, ".dockerignore")) as f:
        ignored = f.read().split()
    for pattern in (".git", "build", "build-*"):
        expect(pattern in ignored, f".dockerignore does not exclude {pattern}")


@case
def stage_cli(build_dir, work):
    binary = os.path.join(build_dir, "bin", "gpupool")
    if not os.path.exists(binary):
        print(f"SKIPPED: {binary} is not built")
        return SKIP
    with tempfile.TemporaryDirectory(dir=work) as out:
        result = run(["sh", STAGE, build_dir, out, "cli"])
        expect(result.returncode == 0, f"stage.sh failed: {result.stderr}")
        staged = os.path.join(out, "cli", "usr", "local", "bin", "gpupool")
        libdir = os.path.join(out, "cli", "usr", "lib", "gpupool")
        expect(os.access(staged, os.X_OK), "the CLI was not staged")
        # With only the staged directory added, every library resolves to it or to a base-image runtime.
        ldd = run(["ldd", staged], env=dict(os.environ, LD_LIBRARY_PATH=libdir))
        outside = []
        for line in ldd.stdout.splitlines():
            parts = line.split()
            if "=>" in parts and parts[parts.index("=>") + 1].startswith("/"):
                path = parts[parts.index("=>") + 1]
                if not path.startswith(libdir) and not RUNTIME_LIBS.match(os.path.basename(path)):
                    outside.append(path)
        expect(not outside, f"libraries the image would lack: {outside}")
        print(f"staged the CLI with {len(os.listdir(libdir))} shared libraries")
        help_run = run([staged, "servers", "--help"], env=dict(os.environ, LD_LIBRARY_PATH=libdir))
        expect(help_run.returncode == 0 and "usage: gpupool servers" in help_run.stdout, "staged CLI does not run")


@case
def stage_device_plugin(build_dir, work):
    if not os.path.exists(os.path.join(build_dir, "lib", "libcuda.so.1")):
        print(f"SKIPPED: {build_dir}/lib/libcuda.so.1 is not built")
        return SKIP
    with tempfile.TemporaryDirectory(dir=work) as out:
        result = run(["sh", STAGE, build_dir, out, "device-plugin"])
        expect(result.returncode == 0, f"stage.sh failed: {result.stderr}")
        libdir = os.path.join(out, "device-plugin", "opt", "gpupool", "lib")
        expect(os.path.isfile(os.path.join(libdir, "libcuda.so.1")), "libcuda.so.1 was not staged")
        # The unversioned names point at the versioned files (cp -P in the chart keeps them links).
        for name in ("libcuda.so", "libnvidia-ml.so"):
            path = os.path.join(libdir, name)
            if name == "libnvidia-ml.so" and not os.path.exists(path + ".1"):
                continue
            expect(os.path.islink(path) and os.readlink(path) == name + ".1", f"{name} is not a link to {name}.1")
        # What Triton does at run time: link a launcher with -lcuda against the directory the pod gets.
        cc = shutil.which("cc") or shutil.which("gcc")
        if cc is None:
            print("no C compiler: checked the links only")
            return None
        source = os.path.join(out, "launcher.c")
        with open(source, "w") as f:
            f.write("int cuInit(unsigned flags);\nint main(void) { return cuInit(0) == 12345; }\n")
        linked = run([cc, source, "-o", os.path.join(out, "launcher"), "-L" + libdir, "-lcuda"])
        expect(linked.returncode == 0, f"-lcuda does not link against the staged directory: {linked.stderr}")
        print("staged the client with libcuda.so and libnvidia-ml.so links; -lcuda links")


@case
def stage_errors(build_dir, work):
    with tempfile.TemporaryDirectory(dir=work) as empty:
        result = run(["sh", STAGE, empty, os.path.join(empty, "out"), "operator"])
        expect(result.returncode == 1 and "gpupool-operator was not built" in result.stderr, result.stderr)
        result = run(["sh", STAGE, empty, os.path.join(empty, "out"), "scheduler"])
        expect(result.returncode == 2 and 'unknown component "scheduler"' in result.stderr, result.stderr)
        result = run(["sh", STAGE, empty])
        expect(result.returncode == 2 and "usage" in result.stderr, result.stderr)


@case
def client_abi(build_dir, work):
    libdir = "/usr/lib/x86_64-linux-gnu"
    plain, cxx = os.path.join(libdir, "libz.so.1"), os.path.join(libdir, "libprotobuf.so.32")
    if not (os.path.exists(plain) and os.path.exists(cxx)):
        print("SKIPPED: needs libz.so.1 and libprotobuf.so.32 (x86_64 Debian) as known-good and known-bad inputs")
        return SKIP
    ok = run(["sh", ABI, plain])
    expect(ok.returncode == 0 and "GLIBC" in ok.stdout, f"libz refused: {ok.stdout}{ok.stderr}")
    bad = run(["sh", ABI, cxx])
    expect(bad.returncode == 1 and "needs libstdc++.so.6" in bad.stderr, f"libprotobuf accepted: {bad.stderr}")
    old = run(["sh", ABI, plain, "2.2"])
    expect(old.returncode == 1 and "newer than 2.2" in old.stderr, f"GLIBC limit not applied: {old.stderr}")
    for name in ("libcuda.so.1", "libnvidia-ml.so.1"):
        client = os.path.join(build_dir, "lib", name)
        if os.path.exists(client):
            real = run(["sh", ABI, client])
            print(real.stdout.strip())
            expect(real.returncode == 0, f"{name} would not load in application images:\n{real.stderr}")
        else:
            print(f"{client} is not built in this tree; checked the checker only")


if __name__ == "__main__":
    sys.exit(main(__doc__, case, lambda args, fn: fn(args.build_dir, args.work), required=["--build-dir"]))
