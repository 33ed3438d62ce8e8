{{/* Combinations that render valid objects but cannot work: each stops the render
     with one line naming the values to change. Included from configmap.yaml, which
     every install renders. */}}
{{- define "chute.validate" -}}
{{- $keda := .Values.worker.keda }}
{{- if and $keda.enabled (eq $keda.auth.type "aws") }}
{{- if and (eq $keda.auth.identityOwner "workload") (not .Values.worker.serviceAccount.roleArn) }}
{{- fail "worker.keda.auth.identityOwner=workload: KEDA assumes the role named by the worker ServiceAccount's eks.amazonaws.com/role-arn, so set worker.serviceAccount.roleArn (with EKS Pod Identity, use identityOwner=keda and give the keda-operator its own identity)" }}
{{- end }}
{{- if and $keda.auth.roleArn (eq $keda.auth.identityOwner "workload") }}
{{- fail "worker.keda.auth.roleArn and identityOwner=workload are mutually exclusive in KEDA: set identityOwner=keda to have KEDA's operator assume roleArn" }}
{{- end }}
{{- $replicas := ternary (int .Values.api.hpa.minReplicas) (int .Values.api.replicas) .Values.api.hpa.enabled }}
{{- if and (gt $replicas 1) (not (include "chute.cursorSecretName" .)) }}
{{- fail "api.cursorSecret.existingSecret: several API replicas must share one cursor secret (a Secret with key api.cursorSecret.key), or each signs list cursors the others refuse" }}
{{- end }}
{{- end }}
{{- if and .Values.api.ingress.enabled (contains "none" .Values.api.auth.mode) }}
{{- fail "api.auth.mode=none with api.ingress.enabled: every caller reaching the Ingress would act as one tenant; use keys or jwt" }}
{{- end }}
{{- if and $keda.enabled (eq $keda.mode "scaledJob") (gt (int $keda.queueLength) (int .Values.worker.concurrency)) }}
{{- fail (printf "worker.keda.queueLength=%d exceeds worker.concurrency=%d: in scaledJob mode a Job takes one batch of at most concurrency messages, so KEDA would start fewer Jobs than the backlog needs" (int $keda.queueLength) (int .Values.worker.concurrency)) }}
{{- end }}
{{- $replicas := ternary (int .Values.api.hpa.minReplicas) (int .Values.api.replicas) .Values.api.hpa.enabled }}
{{- if and (gt $replicas 1) (not (include "chute.cursorSecretName" .)) }}
{{- fail "api.cursorSecret.existingSecret: several API replicas must share one cursor secret (a Secret with key api.cursorSecret.key), or each signs list cursors the others refuse" }}
{{- end }}
{{- end }}
