{{/* The worker's pod template, shared by its Deployment and by ScaledJob mode. */}}
{{- define "chute.workerPodTemplate" -}}
{{- $ctx := dict "root" . "component" "worker" }}
metadata:
  labels:
    {{- include "chute.labels" $ctx | nindent 4 }}
    {{- with .Values.worker.podLabels }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
  annotations:
    checksum/config: {{ include (print .Template.BasePath "/configmap.yaml") . | sha256sum }}
    {{- with .Values.worker.podAnnotations }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
spec:
  serviceAccountName: {{ include "chute.serviceAccountName" $ctx }}
  {{- include "chute.podCommon" $ctx | nindent 2 }}
  # Never shorter than the shutdown grace: in-flight jobs finish or are released
  # before the kubelet's SIGKILL (15 s for releasing and closing clients).
  terminationGracePeriodSeconds: {{ add (int .Values.worker.shutdownGraceSeconds) 15 }}
  {{- if eq .Values.worker.keda.mode "scaledJob" }}
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
      image: {{ include "chute.image" $ctx }}
      imagePullPolicy: {{ .Values.worker.image.pullPolicy }}
      {{- $env := list }}
      {{- if eq .Values.worker.keda.mode "scaledJob" }}
      {{- $env = append $env (dict "name" "CHUTE_WORKER_ONE_BATCH" "value" "true") }}
      {{- end }}
      {{- include "chute.env" (dict "root" . "component" "worker" "env" $env) | nindent 6 }}
      ports:
        - name: health
          containerPort: {{ .Values.worker.healthPort }}
      readinessProbe:
        httpGet: {path: /readyz, port: health}
        {{- toYaml .Values.worker.readinessProbe | nindent 8 }}
      livenessProbe:
        httpGet: {path: /healthz, port: health}
        {{- toYaml .Values.worker.livenessProbe | nindent 8 }}
      resources:
        {{- /* The spool is node disk: request it, so the scheduler places pods where it fits. */}}
        {{- $resources := deepCopy .Values.worker.resources }}
        {{- $requests := get $resources "requests" | default dict }}
        {{- if not (hasKey $requests "ephemeral-storage") }}
        {{- $_ := set $requests "ephemeral-storage" (.Values.worker.spoolBytes | int64 | toString) }}
        {{- end }}
        {{- $_ := set $resources "requests" $requests }}
        {{- toYaml $resources | nindent 8 }}
      securityContext:
        {{- include "chute.containerSecurityContext" . | nindent 8 }}
      volumeMounts:
        - name: tmp
          mountPath: /tmp
        {{- with .Values.worker.extraVolumeMounts }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
  volumes:
    - name: tmp
      emptyDir:
        sizeLimit: {{ .Values.worker.spoolBytes | int64 }}
    {{- with .Values.worker.extraVolumes }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
  {{- with .Values.worker.nodeSelector }}
  nodeSelector:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- with .Values.worker.tolerations }}
  tolerations:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- with .Values.worker.affinity }}
  affinity:
    {{- toYaml . | nindent 4 }}
  {{- end }}
{{- end }}
