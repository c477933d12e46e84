{{/* Chart name, truncated to the 63 characters of a DNS label. */}}
{{- define "kanri.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Fully qualified app name: the release name, with the chart name unless it already holds it. */}}
{{- define "kanri.fullname" -}}
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

{{- define "kanri.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Labels on every object. */}}
{{- define "kanri.labels" -}}
helm.sh/chart: {{ include "kanri.chart" . }}
{{ include "kanri.selectorLabels" . }}
app.kubernetes.io/version: {{ .Values.image.tag | default .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: kanri
{{- end -}}

{{- define "kanri.selectorLabels" -}}
app.kubernetes.io/name: {{ include "kanri.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{/* Labels and selector of one component: (dict "ctx" $ "component" "server"). */}}
{{- define "kanri.componentLabels" -}}
{{ include "kanri.labels" .ctx }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{- define "kanri.componentSelectorLabels" -}}
{{ include "kanri.selectorLabels" .ctx }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{- define "kanri.image" -}}
{{- $tag := .Values.image.tag | default .Chart.AppVersion -}}
{{- if .Values.image.digest -}}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest -}}
{{- else -}}
{{- printf "%s:%s" .Values.image.repository $tag -}}
{{- end -}}
{{- end -}}

{{- define "kanri.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "kanri.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{/* The chart's own Secret: needed for the database URL without existingSecret, or for kanri.yaml with config.inSecret. */}}
{{- define "kanri.secretName" -}}
{{- include "kanri.fullname" . -}}
{{- end -}}

{{- define "kanri.ownSecretNeeded" -}}
{{- if or (not .Values.database.existingSecret) (and .Values.config.inSecret (not .Values.config.existingConfigMap)) -}}true{{- end -}}
{{- end -}}

{{- define "kanri.databaseSecretName" -}}
{{- default (include "kanri.secretName" .) .Values.database.existingSecret -}}
{{- end -}}

{{- define "kanri.configMapName" -}}
{{- default (include "kanri.fullname" .) .Values.config.existingConfigMap -}}
{{- end -}}

{{/* The kanri.yaml the chart renders. */}}
{{- define "kanri.configFile" -}}
{{- required "config.file (the kanri.yaml) is required without config.existingConfigMap" .Values.config.file -}}
{{- end -}}

{{/* The volume that holds kanri.yaml. */}}
{{- define "kanri.configVolume" -}}
- name: config
{{- if .Values.config.existingConfigMap }}
  configMap:
    name: {{ .Values.config.existingConfigMap }}
    items:
      - {key: kanri.yaml, path: kanri.yaml}
{{- else if .Values.config.inSecret }}
  secret:
    secretName: {{ include "kanri.secretName" . }}
    items:
      - {key: kanri.yaml, path: kanri.yaml}
{{- else }}
  configMap:
    name: {{ include "kanri.configMapName" . }}
    items:
      - {key: kanri.yaml, path: kanri.yaml}
{{- end }}
{{- end -}}

{{/* Checksums that roll the pods when the configuration or the Secret changes. */}}
{{- define "kanri.checksums" -}}
checksum/config: {{ .Values.config.file | default "" | sha256sum }}
checksum/secret: {{ include (print .Template.BasePath "/secret.yaml") . | sha256sum }}
{{- end -}}

{{/* KANRI_* environment shared by the server and the workers: each one an existing flag. */}}
{{- define "kanri.env" -}}
- name: KANRI_CONFIG
  value: /etc/kanri/kanri.yaml
- name: KANRI_DATABASE_URL
  valueFrom:
    secretKeyRef:
      name: {{ include "kanri.databaseSecretName" . }}
      key: {{ .Values.database.secretKey }}
- name: KANRI_LOG_LEVEL
  value: {{ .Values.logLevel | quote }}
- name: KANRI_TEMPORAL_ADDRESS
  value: {{ required "temporal.address is required" .Values.temporal.address | quote }}
- name: KANRI_TEMPORAL_NAMESPACE
  value: {{ .Values.temporal.namespace | quote }}
- name: KANRI_TASK_QUEUE
  value: {{ .Values.temporal.taskQueue | quote }}
{{- with .Values.database.pool }}
{{- if .maxOpenConns }}
- name: KANRI_DB_MAX_OPEN_CONNS
  value: {{ .maxOpenConns | quote }}
{{- end }}
{{- if .maxIdleConns }}
- name: KANRI_DB_MAX_IDLE_CONNS
  value: {{ .maxIdleConns | quote }}
{{- end }}
{{- if .connMaxLifetime }}
- name: KANRI_DB_CONN_MAX_LIFETIME
  value: {{ .connMaxLifetime | quote }}
{{- end }}
{{- if .connMaxIdleTime }}
- name: KANRI_DB_CONN_MAX_IDLE_TIME
  value: {{ .connMaxIdleTime | quote }}
{{- end }}
{{- end }}
{{- with .Values.tracing }}
{{- if .otlpEndpoint }}
- name: KANRI_OTLP_ENDPOINT
  value: {{ .otlpEndpoint | quote }}
- name: KANRI_OTLP_PROTOCOL
  value: {{ .otlpProtocol | default "grpc" | quote }}
{{- end }}
{{- end }}
{{- with .Values.temporal.tls }}
{{- if .enabled }}
- name: KANRI_TEMPORAL_TLS
  value: "true"
{{- if and .existingSecret .caKey }}
- name: KANRI_TEMPORAL_TLS_CA
  value: /etc/kanri/temporal-tls/{{ .caKey }}
{{- end }}
{{- if and .existingSecret .certKey .keyKey }}
- name: KANRI_TEMPORAL_TLS_CERT
  value: /etc/kanri/temporal-tls/{{ .certKey }}
- name: KANRI_TEMPORAL_TLS_KEY
  value: /etc/kanri/temporal-tls/{{ .keyKey }}
{{- end }}
{{- if .serverName }}
- name: KANRI_TEMPORAL_TLS_SERVER_NAME
  value: {{ .serverName | quote }}
{{- end }}
{{- end }}
{{- end }}
{{- end -}}

{{/* Volumes shared by the server and the workers. */}}
{{- define "kanri.volumes" -}}
{{ include "kanri.configVolume" . }}
- name: tmp
  emptyDir: {}
{{- if and .Values.temporal.tls.enabled .Values.temporal.tls.existingSecret }}
- name: temporal-tls
  secret:
    secretName: {{ .Values.temporal.tls.existingSecret }}
    defaultMode: 0440
{{- end }}
{{- end -}}

{{- define "kanri.volumeMounts" -}}
- name: config
  mountPath: /etc/kanri/kanri.yaml
  subPath: kanri.yaml
  readOnly: true
- name: tmp
  mountPath: /tmp
{{- if and .Values.temporal.tls.enabled .Values.temporal.tls.existingSecret }}
- name: temporal-tls
  mountPath: /etc/kanri/temporal-tls
  readOnly: true
{{- end }}
{{- end -}}

{{/* Probes on the container port named http: (dict "ctx" $). */}}
{{- define "kanri.probes" -}}
startupProbe:
  httpGet: {path: /healthz, port: http}
  periodSeconds: {{ .Values.probes.startup.periodSeconds }}
  failureThreshold: {{ .Values.probes.startup.failureThreshold }}
  timeoutSeconds: {{ .Values.probes.startup.timeoutSeconds }}
livenessProbe:
  httpGet: {path: /healthz, port: http}
  periodSeconds: {{ .Values.probes.liveness.periodSeconds }}
  failureThreshold: {{ .Values.probes.liveness.failureThreshold }}
  timeoutSeconds: {{ .Values.probes.liveness.timeoutSeconds }}
readinessProbe:
  httpGet: {path: /readyz, port: http}
  periodSeconds: {{ .Values.probes.readiness.periodSeconds }}
  failureThreshold: {{ .Values.probes.readiness.failureThreshold }}
  timeoutSeconds: {{ .Values.probes.readiness.timeoutSeconds }}
{{- end -}}
