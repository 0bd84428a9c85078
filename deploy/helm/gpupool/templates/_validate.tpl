{{/*
Checks between values that values.schema.json cannot express. Each failure names the values involved
and what to do. Included once, from operator-deployment.yaml (always rendered).
*/}}
{{- define "gpupool.validate" -}}
{{- $v := .Values -}}
{{- if and (gt (int $v.operator.replicas) 1) (not $v.operator.leaderElection.enabled) -}}
{{- fail (printf "operator.leaderElection.enabled=false with operator.replicas=%d: replicas would bind pods concurrently; enable leader election or use 1 replica" (int $v.operator.replicas)) -}}
{{- end -}}
{{- if and $v.pool.create (not $v.server.enabled) (empty $v.externalServers) -}}
{{- fail "pool.create=true but the GPUPool would have no servers: set server.enabled=true or list externalServers" -}}
{{- end -}}
{{- if and $v.server.enabled (eq $v.server.device "cuda") (empty $v.server.nodeSelector) -}}
{{- fail "server.nodeSelector is empty: gpupool-server (server.device=cuda) would run on every node, also nodes without GPUs; select GPU nodes (e.g. gpupool.io/server: \"true\") or set server.device=emulated" -}}
{{- end -}}
{{- if and $v.server.enabled (not $v.server.podTokenReview) (not $v.server.allowUnauthenticated) -}}
{{- fail "server.podTokenReview=false leaves gpupool-server without client authentication, so it would listen on loopback only: keep server.podTokenReview=true, or set server.allowUnauthenticated=true (any client that reaches the data port then gets a session)" -}}
{{- end -}}
{{- $ports := list (int $v.server.dataPort) (int (add1 $v.server.dataPort)) (int $v.server.metricsPort) -}}
{{- if ne (len (uniq $ports)) 3 -}}
{{- fail (printf "server.metricsPort=%d collides with server.dataPort=%d or its Control port %d" (int $v.server.metricsPort) (int $v.server.dataPort) (add1 (int $v.server.dataPort))) -}}
{{- end -}}
{{- if eq (int $v.operator.webhook.port) (int $v.operator.metricsPort) -}}
{{- fail (printf "operator.webhook.port and operator.metricsPort are both %d" (int $v.operator.metricsPort)) -}}
{{- end -}}
{{- $cap := $v.devicePlugin.capacity -}}
{{- if gt (int $cap.gpuPercent) (mul 100 (int $cap.gpu)) -}}
{{- fail (printf "devicePlugin.capacity.gpuPercent=%d is more than 100 x devicePlugin.capacity.gpu=%d" (int $cap.gpuPercent) (int $cap.gpu)) -}}
{{- end -}}
{{- if and (ne $v.tls.mode "certManager") (not (empty $v.tls.certManager.issuerRef)) -}}
{{- fail "tls.certManager.issuerRef is set but tls.mode is not certManager: set tls.mode=certManager or drop the issuerRef" -}}
{{- end -}}
{{- if and (eq $v.tls.mode "certManager") (not (empty $v.tls.certManager.issuerRef)) (empty $v.tls.certManager.issuerRef.name) -}}
{{- fail "tls.certManager.issuerRef.name is required when tls.certManager.issuerRef is set" -}}
{{- end -}}
{{- end -}}
