# syntax=docker/dockerfile:1
# gpupool images, all from one build stage. Pick one with --target:
#
#   docker build --target operator      -t ghcr.io/gpupool/gpupool-operator:0.1.0 .
#   docker build --target device-plugin -t ghcr.io/gpupool/gpupool-device-plugin:0.1.0 .
#   docker build --target server        -t ghcr.io/gpupool/gpupool-server:0.1.0 .
#   docker build --target cli           -t ghcr.io/gpupool/gpupool:0.1.0 .
#
# The Helm chart (deploy/helm/gpupool) expects these repositories under image.registry. Build args:
# CUDA_TAG (the nvidia/cuda image the server runs on and the CUDA headers come from) and
# GPUPOOL_TEST=1 to run the test suite in the build stage.

ARG CUDA_TAG=13.0.0

# --- CUDA headers: cuda.h describes the driver ABI; nothing links a CUDA library. -------------------
FROM nvidia/cuda:${CUDA_TAG}-devel-ubuntu24.04 AS cuda

# --- build: the whole tree, as scripts/test.sh builds it ---------------------------------------------
FROM debian:bookworm AS build
ARG GPUPOOL_TEST=0
ENV DEBIAN_FRONTEND=noninteractive
COPY scripts/install-deps.sh /src/scripts/install-deps.sh
RUN /src/scripts/install-deps.sh && rm -rf /var/lib/apt/lists/*
COPY --from=cuda /usr/local/cuda/include /usr/local/cuda/include
COPY . /src
RUN cmake -S /src -B /build -G Ninja -DCMAKE_BUILD_TYPE=Release \
    && cmake --build /build -j"$(nproc)" \
    && if [ "$GPUPOOL_TEST" = 1 ]; then ctest --test-dir /build --output-on-failure -j"$(nproc)"; fi
# Each component's files (binaries, the shared libraries they load, client libraries), checked.
RUN /src/deploy/docker/stage.sh /build /stage operator device-plugin server cli

# --- operator: no shell, no package manager, non-root -----------------------------------------------
FROM gcr.io/distroless/cc-debian12:nonroot AS operator
COPY --from=build /stage/operator/ /
ENV LD_LIBRARY_PATH=/usr/lib/gpupool
USER 65532:65532
EXPOSE 9443 8080
ENTRYPOINT ["/usr/local/bin/gpupool-operator"]

# --- device plugin: carries the client libraries; its init container copies them to the host with
# sh, cp and mv, so this one keeps a minimal Debian. Runs as root only because the kubelet's
# device-plugin directory is root's (the chart drops every capability).
FROM debian:bookworm-slim AS device-plugin
COPY --from=build /stage/device-plugin/ /
ENV LD_LIBRARY_PATH=/usr/lib/gpupool
ENTRYPOINT ["/usr/local/bin/gpupool-device-plugin"]

# --- server: on the CUDA base image; the NVIDIA container runtime adds the host's driver
# (libcuda.so.1) at run time. No gpupool client library may be in this image: the server must load
# NVIDIA's driver, not ours.
FROM nvidia/cuda:${CUDA_TAG}-base-ubuntu24.04 AS server
COPY --from=build /stage/server/ /
ENV LD_LIBRARY_PATH=/usr/lib/gpupool \
    NVIDIA_VISIBLE_DEVICES=all \
    NVIDIA_DRIVER_CAPABILITIES=compute,utility
USER 65532:65532
EXPOSE 7470 7471 7472
ENTRYPOINT ["/usr/local/bin/gpupool-server"]
CMD ["--device", "cuda", "--listen", "0.0.0.0:7470"]

# --- cli: `gpupool servers` / `gpupool top` from inside the cluster (kubectl run) ---------------------
FROM debian:bookworm-slim AS cli
COPY --from=build /stage/cli/ /
ENV LD_LIBRARY_PATH=/usr/lib/gpupool
USER 65532:65532
ENTRYPOINT ["/usr/local/bin/gpupool"]
