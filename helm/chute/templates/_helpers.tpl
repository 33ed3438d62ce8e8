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
{{- if $image.digest }}
{{- printf "%s@%s" $image.repository $image.digest }}
{{- else }}
{{- printf "%s:%s" $image.repository (default .root.Chart.AppVersion $image.tag) }}
{{- end }}
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
{{- /* Called with (dict "root" $ "component" "api"|"worker" "env" (list {name, value}…)):
       the shared variables, the component's own and its extraEnv in one `env:` list
       (YAML keeps only the last of two `env:` keys). */ -}}
{{- $root := .root -}}
{{- $values := .values | default (index $root.Values .component) -}}
{{- $env := concat (.env | default list) ($values.extraEnv | default list) -}}
envFrom:
  - configMapRef:
      name: {{ include "chute.componentName" (dict "root" $root "component" "config") }}
{{- with include "chute.awsSecretName" $root }}
  - secretRef:
      name: {{ . }}
{{- end }}
{{- with $values.extraEnvFrom }}
{{- toYaml . | nindent 2 }}
{{- end }}
{{- if or (include "chute.cursorSecretName" $root) $root.Values.webhooks.existingSecret $env }}
env:
  {{- with include "chute.cursorSecretName" $root }}
  # Signs list cursors; every API replica must share it (a missing key stops the pod
  # with a clear event rather than giving each replica its own).
  - name: CHUTE_CURSOR_SECRET
    valueFrom:
      secretKeyRef: {name: {{ . }}, key: {{ $root.Values.api.cursorSecret.key }}}
  {{- end }}
  {{- with $root.Values.webhooks.existingSecret }}
  - name: CHUTE_WEBHOOK_SECRET
    valueFrom:
      secretKeyRef: {name: {{ . }}, key: webhook-secret}
  {{- end }}
  {{- with $env }}
  {{- toYaml . | nindent 2 }}
  {{- end }}
{{- end }}
{{- end }}

{{/* The Secret holding CHUTE_CURSOR_SECRET: api.cursorSecret.existingSecret, else the
     API keys Secret (key `cursor-secret`), else none (refused with several replicas). */}}
{{- define "chute.cursorSecretName" -}}
{{- if .Values.api.cursorSecret.existingSecret }}
{{- .Values.api.cursorSecret.existingSecret }}
{{- else if contains "keys" .Values.api.auth.mode }}
{{- .Values.api.auth.keysSecret }}
{{- end }}
{{- end }}

{{/* Pod-level settings every chute pod shares: pull secrets, priority, the token. */}}
{{- define "chute.podCommon" -}}
{{- $values := .values | default (index .root.Values .component) }}
automountServiceAccountToken: {{ $values.serviceAccount.automount }}
{{- with .root.Values.imagePullSecrets }}
imagePullSecrets:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with $values.priorityClassName }}
priorityClassName: {{ . }}
{{- end }}
{{- end }}

{{/* A Kubernetes memory quantity ("512Mi", "1G", "536870912") in bytes. */}}
{{- define "chute.bytes" -}}
{{- $q := toString . -}}
{{- $units := dict "Ki" 1024 "Mi" 1048576 "Gi" 1073741824 "Ti" 1099511627776 "k" 1000 "M" 1000000 "G" 1000000000 "T" 1000000000000 -}}
{{- $number := regexFind "^[0-9]+(\\.[0-9]+)?" $q -}}
{{- $unit := trimPrefix $number $q -}}
{{- if not $number -}}
{{- fail (printf "%q is not a memory quantity" $q) -}}
{{- else if eq $unit "" -}}
{{- $number | float64 | int64 -}}
{{- else if hasKey $units $unit -}}
{{- mulf ($number | float64) (get $units $unit) | int64 -}}
{{- else -}}
{{- fail (printf "%q is not a memory quantity (units: Ki Mi Gi Ti k M G T)" $q) -}}
{{- end -}}
{{- end -}}

{{/* CHUTE_API_UPLOAD_MEMORY_BYTES: api.uploadMemoryBytes, or derived from the API's
     memory limit; empty when neither is set (the API's own default then). */}}
{{- define "chute.apiUploadMemory" -}}
{{- $api := .Values.api -}}
{{- $budget := 0 -}}
{{- if $api.uploadMemoryBytes -}}
{{- $budget = int64 $api.uploadMemoryBytes -}}
{{- else if and $api.resources $api.resources.limits $api.resources.limits.memory -}}
{{- $limit := include "chute.bytes" $api.resources.limits.memory | int64 -}}
{{- $budget = mulf (sub $limit 201326592) 0.5 | int64 -}}
{{- end -}}
{{- $oneUpload := add (int64 $api.uploadPartBytes) (div (int64 $api.uploadPartBytes) 4) 262144 -}}
{{- if and $budget (lt $budget $oneUpload) -}}
{{- fail (printf "the API's upload memory budget (%d bytes, from api.uploadMemoryBytes or api.resources.limits.memory) is less than one upload's 1.25 parts (%d bytes): raise the memory limit or lower api.uploadPartBytes" $budget $oneUpload) -}}
{{- end -}}
{{- if $budget }}{{ $budget }}{{ end -}}
{{- end -}}

{{/* The worker pools as a JSON list, `default` first: each with its name, component
     (`worker` for the default pool, so an unpooled release keeps its names, else
     `worker-<pool>`), queue, DLQ, KEDA queue URL and its worker values (the shared
     `worker` values with the pool's own on top). */}}
{{- define "chute.workerPools" -}}
{{- $shared := omit .Values.worker "pools" -}}
{{- $pools := list (dict "name" "default" "component" "worker" "env" list "values" $shared "queue" .Values.pipeline.queue "dlq" (include "chute.dlqName" .) "queueUrl" .Values.pipeline.queueUrl) -}}
{{- range $name, $spec := .Values.worker.pools -}}
{{- $own := omit $spec "queue" "dlq" "queueUrl" "match" "visibilityTimeoutSeconds" "maxReceiveCount" -}}
{{- $values := mergeOverwrite (deepCopy $shared) $own -}}
{{- $env := list (dict "name" "CHUTE_POOL" "value" $name) -}}
{{- $env = append $env (dict "name" "CHUTE_WORKER_CONCURRENCY" "value" (toString $values.concurrency)) -}}
{{- $env = append $env (dict "name" "CHUTE_WORKER_ROUTES" "value" (toJson $values.routes)) -}}
{{- $env = append $env (dict "name" "CHUTE_WORKER_POOL_SIZE" "value" (toString $values.poolSize)) -}}
{{- $env = append $env (dict "name" "CHUTE_WORKER_POOL_MEMORY_BYTES" "value" ($values.poolMemoryBytes | int64 | toString)) -}}
{{- $env = append $env (dict "name" "CHUTE_WORKER_SPOOL_BYTES" "value" ($values.spoolBytes | int64 | toString)) -}}
{{- $env = append $env (dict "name" "CHUTE_SHUTDOWN_GRACE_SECONDS" "value" (toString $values.shutdownGraceSeconds)) -}}
{{- $pools = append $pools (dict "name" $name "component" (printf "worker-%s" $name) "env" $env "values" $values "queue" $spec.queue "dlq" (default (printf "%s-dlq" $spec.queue) $spec.dlq) "queueUrl" ($spec.queueUrl | default "")) -}}
{{- end -}}
{{- toJson $pools -}}
{{- end }}

{{/* CHUTE_POOLS and CHUTE_POOL_ROUTES from worker.pools (chute_core.pools). */}}
{{- define "chute.poolSettings" -}}
{{- $pools := dict -}}
{{- $routes := list -}}
{{- range $name, $spec := .Values.worker.pools -}}
{{- $pool := dict "queue" $spec.queue -}}
{{- with $spec.dlq }}{{ $_ := set $pool "dlq" . }}{{ end -}}
{{- with $spec.visibilityTimeoutSeconds }}{{ $_ := set $pool "visibility_timeout_seconds" (int .) }}{{ end -}}
{{- with $spec.maxReceiveCount }}{{ $_ := set $pool "max_receive_count" (int .) }}{{ end -}}
{{- $_ := set $pools $name $pool -}}
{{- with $spec.match -}}
{{- $routes = append $routes (dict "pool" $name "content_types" (.contentTypes | default list) "processors" (.processors | default list) "tenants" (.tenants | default list)) -}}
{{- end -}}
{{- end -}}
CHUTE_POOLS: {{ toJson $pools | quote }}
CHUTE_POOL_ROUTES: {{ toJson $routes | quote }}
{{- end }}
