{{/* The worker's pod template, shared by its Deployment and by ScaledJob mode. */}}
{{- define "chute.workerPodTemplate" -}}
{{- $ctx := dict "root" . "component" "worker" }}
metadata:
  labels:
    {{- include "chute.labels" $ctx | nindent 4 }}
  annotations:
    checksum/config: {{ include (print .Template.BasePath "/configmap.yaml") . | sha256sum }}
    {{- with .Values.worker.podAnnotations }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
spec:
  serviceAccountName: {{ include "chute.serviceAccountName" $ctx }}
  automountServiceAccountToken: {{ not (empty .Values.worker.serviceAccount.roleArn) }}
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
      {{- include "chute.env" (dict "root" . "env" $env) | nindent 6 }}
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
        {{- toYaml .Values.worker.resources | nindent 8 }}
      securityContext:
        {{- include "chute.containerSecurityContext" . | nindent 8 }}
      volumeMounts:
        - name: tmp
          mountPath: /tmp
  volumes:
    - name: tmp
      emptyDir:
        sizeLimit: {{ .Values.worker.spoolBytes | int64 }}
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
