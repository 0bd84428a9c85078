{{/*
Names, labels and images shared by every template.
*/}}

{{- define "gpupool.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* "<release>-gpupool", or the release name alone when it already contains the chart name. */}}
{{- define "gpupool.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/* A component's object name: (list $ "operator") -> "<fullname>-operator". */}}
{{- define "gpupool.component" -}}
{{- $root := index . 0 -}}
{{- printf "%s-%s" (include "gpupool.fullname" $root) (index . 1) | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "gpupool.operatorName" -}}{{ include "gpupool.component" (list . "operator") }}{{- end -}}
{{- define "gpupool.webhookName" -}}{{ include "gpupool.component" (list . "webhook") }}{{- end -}}
{{- define "gpupool.webhookTlsSecret" -}}{{ include "gpupool.component" (list . "webhook-tls") }}{{- end -}}
{{- define "gpupool.serverTlsSecret" -}}
{{- if .Values.server.tls.secretName }}{{ .Values.server.tls.secretName }}{{- else if and .Values.server.enabled .Values.server.tls.generate }}{{ include "gpupool.component" (list . "server-tls") }}{{- end -}}
{{- end -}}
{{- define "gpupool.serverName" -}}{{ include "gpupool.component" (list . "server") }}{{- end -}}
{{- define "gpupool.devicePluginName" -}}{{ include "gpupool.component" (list . "device-plugin") }}{{- end -}}

{{/* Labels every object carries: (list $ "operator"). */}}
{{- define "gpupool.labels" -}}
{{- $root := index . 0 -}}
helm.sh/chart: {{ printf "%s-%s" $root.Chart.Name $root.Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
app.kubernetes.io/managed-by: {{ $root.Release.Service }}
app.kubernetes.io/part-of: gpupool
{{- if $root.Chart.AppVersion }}
app.kubernetes.io/version: {{ $root.Chart.AppVersion | quote }}
{{- end }}
{{ include "gpupool.selectorLabels" . }}
{{- end -}}

{{/* The labels a component's pods are selected by: (list $ "operator"). Never change them: selectors are immutable. */}}
{{- define "gpupool.selectorLabels" -}}
{{- $root := index . 0 -}}
app.kubernetes.io/name: {{ include "gpupool.name" $root }}
app.kubernetes.io/instance: {{ $root.Release.Name }}
app.kubernetes.io/component: {{ index . 1 }}
{{- end -}}

{{/* <registry>/<repository>:<tag>: (list $ .Values.operator.image). */}}
{{- define "gpupool.image" -}}
{{- $root := index . 0 -}}
{{- $image := index . 1 -}}
{{- $tag := $image.tag | default $root.Values.image.tag | default $root.Chart.AppVersion -}}
{{- printf "%s/%s:%s" $root.Values.image.registry $image.repository $tag -}}
{{- end -}}

{{/* The pod's imagePullSecrets; use as: {{- if .Values.image.pullSecrets }}{{ include ... | nindent 6 }}{{- end }} */}}
{{- define "gpupool.imagePullSecrets" -}}
imagePullSecrets:
{{- range .Values.image.pullSecrets }}
  - name: {{ . }}
{{- end }}
{{- end -}}

{{/* The extended resources pods ask for, as a CEL list. They are a contract between the webhook, the
device plugin and users (docs/architecture.md §6), not values. */}}
{{- define "gpupool.celResourceNames" -}}
['gpupool.io/gpu', 'gpupool.io/gpu-percent', 'gpupool.io/gpu-memory']
{{- end -}}

{{/* The container securityContext of components that need no privilege at all. */}}
{{- define "gpupool.restrictedContainer" -}}
allowPrivilegeEscalation: false
readOnlyRootFilesystem: true
runAsNonRoot: true
runAsUser: 65532
runAsGroup: 65532
capabilities:
  drop: [ALL]
seccompProfile:
  type: RuntimeDefault
{{- end -}}
