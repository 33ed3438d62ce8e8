{{/* A worker pool's pod template, shared by its Deployment and by ScaledJob mode;
     called with (dict "root" $ "pool" <one of chute.workerPools>). */}}
{{- define "chute.workerPodTemplate" -}}
{{- $pool := .pool }}
{{- $w := $pool.values }}
{{- $ctx := dict "root" .root "component" $pool.component "values" $w }}
{{- $shared := dict "root" .root "component" "worker" }}
{{- with .root }}
metadata:
  labels:
    {{- include "chute.labels" $ctx | nindent 4 }}
    {{- with $w.podLabels }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
  annotations:
    checksum/config: {{ include (print .Template.BasePath "/configmap.yaml") . | sha256sum }}
    {{- with $w.podAnnotations }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
spec:
  serviceAccountName: {{ include "chute.serviceAccountName" $shared }}
  {{- include "chute.podCommon" $ctx | nindent 2 }}
  # Never shorter than the shutdown grace: in-flight jobs finish or are released
  # before the kubelet's SIGKILL (15 s for releasing and closing clients).
  terminationGracePeriodSeconds: {{ add (int $w.shutdownGraceSeconds) 15 }}
  {{- if eq $w.keda.mode "scaledJob" }}
  restartPolicy: Never
  {{- end }}
  securityContext:
    {{- include "chute.podSecurityContext" . | nindent 4 }}
  topologySpreadConstraints:
    - maxSkew: 1
      topologyKey: topology.kubernetes.io/zone
      whenUnsatisfiable: ScheduleAnyway
      labelSelector:
        matchLabels:
          {{- include "chute.selectorLabels" $ctx | nindent 10 }}
  containers:
    - name: worker
      image: {{ include "chute.image" $shared }}
      imagePullPolicy: {{ $w.image.pullPolicy }}
      {{- $env := $pool.env }}
      {{- if eq $w.keda.mode "scaledJob" }}
      {{- $env = append $env (dict "name" "CHUTE_WORKER_ONE_BATCH" "value" "true") }}
      {{- end }}
      {{- include "chute.env" (dict "root" . "component" "worker" "values" $w "env" $env) | nindent 6 }}
      ports:
        - name: health
          containerPort: {{ $w.healthPort }}
      readinessProbe:
        httpGet: {path: /readyz, port: health}
        {{- toYaml $w.readinessProbe | nindent 8 }}
      livenessProbe:
        httpGet: {path: /healthz, port: health}
        {{- toYaml $w.livenessProbe | nindent 8 }}
      resources:
        {{- /* The spool is node disk: request it, so the scheduler places pods where it fits. */}}
        {{- $resources := deepCopy $w.resources }}
        {{- $requests := get $resources "requests" | default dict }}
        {{- if not (hasKey $requests "ephemeral-storage") }}
        {{- $_ := set $requests "ephemeral-storage" ($w.spoolBytes | int64 | toString) }}
        {{- end }}
        {{- $_ := set $resources "requests" $requests }}
        {{- toYaml $resources | nindent 8 }}
      securityContext:
        {{- include "chute.containerSecurityContext" . | nindent 8 }}
      volumeMounts:
        - name: tmp
          mountPath: /tmp
        {{- with $w.extraVolumeMounts }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
  volumes:
    - name: tmp
      emptyDir:
        sizeLimit: {{ $w.spoolBytes | int64 }}
    {{- with $w.extraVolumes }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
  {{- with $w.nodeSelector }}
  nodeSelector:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- with $w.tolerations }}
  tolerations:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- with $w.affinity }}
  affinity:
    {{- toYaml . | nindent 4 }}
  {{- end }}
{{- end }}
{{- end }}
