{{/* Chart name, truncated to the 63 characters Kubernetes names allow. */}}
{{- define "chute.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Release-qualified name; the release name alone when it already contains the chart name. */}}
{{- define "chute.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{/* Name of one component's objects: <fullname>-<component>, at most 63 characters. */}}
{{- define "chute.componentName" -}}
{{- printf "%s-%s" (include "chute.fullname" .root | trunc (int (sub 62 (len .component))) | trimSuffix "-") .component }}
{{- end }}

{{- define "chute.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Selector labels: name, instance and component only (they are immutable). */}}
{{- define "chute.selectorLabels" -}}
app.kubernetes.io/name: {{ include "chute.name" .root }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end }}

{{- define "chute.labels" -}}
helm.sh/chart: {{ include "chute.chart" .root }}
{{ include "chute.selectorLabels" . }}
app.kubernetes.io/version: {{ .root.Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .root.Release.Service }}
app.kubernetes.io/part-of: chute
{{- with .root.Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{/* The ServiceAccount a component runs as. */}}
{{- define "chute.serviceAccountName" -}}
{{- $sa := index .root.Values .component "serviceAccount" }}
{{- if $sa.create }}
{{- default (include "chute.componentName" .) $sa.name }}
{{- else }}
{{- default "default" $sa.name }}
{{- end }}
{{- end }}

{{/* image reference; the tag defaults to the chart's appVersion. */}}
{{- define "chute.image" -}}
{{- $image := index .root.Values .component "image" }}
{{- printf "%s:%s" $image.repository (default .root.Chart.AppVersion $image.tag) }}
{{- end }}

{{- define "chute.dlqName" -}}
{{- default (printf "%s-dlq" .Values.pipeline.queue) .Values.pipeline.dlq }}
{{- end }}

{{/* Name of the Secret holding static AWS keys (dev clusters only), if any. */}}
{{- define "chute.awsSecretName" -}}
{{- if .Values.aws.credentials.existingSecret }}
{{- .Values.aws.credentials.existingSecret }}
{{- else if .Values.aws.credentials.accessKeyId }}
{{- include "chute.componentName" (dict "root" . "component" "aws") }}
{{- end }}
{{- end }}

{{/* Pod security context shared by every pod. */}}
{{- define "chute.podSecurityContext" -}}
runAsNonRoot: true
runAsUser: 10001
runAsGroup: 10001
fsGroup: 10001
seccompProfile:
  type: RuntimeDefault
{{- end }}

{{/* Container security context shared by every container. */}}
{{- define "chute.containerSecurityContext" -}}
allowPrivilegeEscalation: false
readOnlyRootFilesystem: true
runAsNonRoot: true
runAsUser: 10001
runAsGroup: 10001
capabilities:
  drop: ["ALL"]
seccompProfile:
  type: RuntimeDefault
{{- end }}

{{/* Environment every chute container shares: the ConfigMap, and AWS keys if static. */}}
{{- define "chute.env" -}}
{{- /* Called with (dict "root" $ "env" (list {name, value}…)): the component's own
       variables join the shared ones in one `env:` list (YAML keeps only the last of
       two `env:` keys). */ -}}
{{- $root := .root }}
envFrom:
  - configMapRef:
      name: {{ include "chute.componentName" (dict "root" $root "component" "config") }}
{{- with include "chute.awsSecretName" $root }}
  - secretRef:
      name: {{ . }}
{{- end }}
{{- if or $root.Values.api.auth.keysSecret $root.Values.webhooks.existingSecret .env }}
env:
  {{- with $root.Values.api.auth.keysSecret }}
  # Signs list cursors; every API replica must share it (optional key of the Secret).
  - name: CHUTE_CURSOR_SECRET
    valueFrom:
      secretKeyRef: {name: {{ . }}, key: cursor-secret, optional: true}
  {{- end }}
  {{- with $root.Values.webhooks.existingSecret }}
  - name: CHUTE_WEBHOOK_SECRET
    valueFrom:
      secretKeyRef: {name: {{ . }}, key: webhook-secret}
  {{- end }}
  {{- with .env }}
  {{- toYaml . | nindent 2 }}
  {{- end }}
{{- end }}
{{- end }}
