{{/* Names: <release>-metering unless the release name already says metering; 63-character DNS limit. */}}
{{- define "metering.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "metering.fullname" -}}
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

{{/* Labels of every resource. */}}
{{- define "metering.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
app.kubernetes.io/name: {{ include "metering.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: metering
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{/* Selector labels of one component: (dict "root" $ "component" "stream"). */}}
{{- define "metering.selectorLabels" -}}
app.kubernetes.io/name: {{ include "metering.name" .root }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end }}

{{- define "metering.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "metering.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/* image: repository@digest, else repository:tag (tag defaults to the chart's appVersion). */}}
{{- define "metering.image" -}}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}
{{- end }}

{{- define "metering.configMapName" -}}
{{- printf "%s-config" (include "metering.fullname" .) }}
{{- end }}

{{- define "metering.priceBookConfigMapName" -}}
{{- default (printf "%s-pricebooks" (include "metering.fullname" .)) .Values.priceBooks.existingConfigMap }}
{{- end }}

{{/* True (non-empty) when a list price book is configured. */}}
{{- define "metering.hasPriceBook" -}}
{{- if or .Values.priceBooks.list .Values.priceBooks.existingConfigMap }}true{{ end }}
{{- end }}

{{/* Contract file names, from the chart's ConfigMap or the existing one. */}}
{{- define "metering.contractFiles" -}}
{{- if .Values.priceBooks.existingConfigMap }}
{{- join "," .Values.priceBooks.contractFiles }}
{{- else }}
{{- join "," (keys .Values.priceBooks.contracts | sortAlpha) }}
{{- end }}
{{- end }}

{{/* Fails the render on combinations the schema cannot express. */}}
{{- define "metering.validate" -}}
{{- $partitions := int .Values.kafka.partitions }}
{{- if and .Values.stream.enabled (not .Values.stream.autoscaling.enabled) (gt (int .Values.stream.replicas) $partitions) }}
{{- fail (printf "stream.replicas (%d) exceeds kafka.partitions (%d): a consumer group gives each partition to one member, so extra workers would sit idle. Lower stream.replicas or add partitions to the topic first." (int .Values.stream.replicas) $partitions) }}
{{- end }}
{{- if and .Values.stream.enabled .Values.stream.autoscaling.enabled (gt (int .Values.stream.autoscaling.maxReplicas) $partitions) }}
{{- fail (printf "stream.autoscaling.maxReplicas (%d) exceeds kafka.partitions (%d): workers beyond the partition count cannot consume." (int .Values.stream.autoscaling.maxReplicas) $partitions) }}
{{- end }}
{{- if and .Values.stream.autoscaling.enabled (gt (int .Values.stream.autoscaling.minReplicas) (int .Values.stream.autoscaling.maxReplicas)) }}
{{- fail "stream.autoscaling.minReplicas must not exceed stream.autoscaling.maxReplicas" }}
{{- end }}
{{- if and .Values.api.enabled (not .Values.clickhouse.enabled) }}
{{- fail "api.enabled needs clickhouse.enabled (with clickhouse.url): without a usage store `metering serve` answers /v1/usage with 503 and /readyz with 503, so the API pods would never become Ready. Configure ClickHouse or set api.enabled=false." }}
{{- end }}
{{- if and .Values.stream.enabled .Values.stream.probes.enabled (not .Values.stream.metrics.enabled) }}
{{- fail "stream.probes.enabled needs stream.metrics.enabled: the worker serves /healthz only on its --metrics-listen port" }}
{{- end }}
{{- if and .Values.clickhouse.exporter.probes.enabled (not .Values.clickhouse.exporter.metrics.enabled) }}
{{- fail "clickhouse.exporter.probes.enabled needs clickhouse.exporter.metrics.enabled: the exporter serves /healthz and /readyz only on its metrics port" }}
{{- end }}
{{- if and .Values.alerts.probes.enabled (not .Values.alerts.metrics.enabled) }}
{{- fail "alerts.probes.enabled needs alerts.metrics.enabled: the dispatcher serves /healthz and /readyz only on its metrics port" }}
{{- end }}
{{- if and .Values.api.autoscaling.enabled (gt (int .Values.api.autoscaling.minReplicas) (int .Values.api.autoscaling.maxReplicas)) }}
{{- fail "api.autoscaling.minReplicas must not exceed api.autoscaling.maxReplicas" }}
{{- end }}
{{- range .Values.extraEnv }}
{{- if and (hasKey . "value") (regexMatch "(?i)(PASSWORD|SECRET|TOKEN|_KEY$|^METERING_PG$|CONNECTION)" .name) }}
{{- fail (printf "extraEnv %s carries an inline value; credentials must come from a Secret (valueFrom.secretKeyRef)" .name) }}
{{- end }}
{{- end }}
{{- range $k, $v := .Values.engine.extra }}
{{- if regexMatch "(?i)(PASSWORD|SECRET|TOKEN|_KEY$|^PG$|CONNECTION|^CLICKHOUSE_PASSWORD$|^REDIS$|^JWT_KEY)" $k }}
{{- fail (printf "engine.extra.%s looks like a credential; it would land in a ConfigMap. Use secrets.* or extraEnv with valueFrom.secretKeyRef" $k) }}
{{- end }}
{{- end }}
{{- end }}

{{/* The pod-level settings every workload shares. */}}
{{- define "metering.podCommon" -}}
serviceAccountName: {{ include "metering.serviceAccountName" . }}
automountServiceAccountToken: false
# Kubernetes would otherwise inject <SERVICE>_PORT=tcp://... variables for every Service in the namespace; a Service
# named metering-* would then produce METERING_* variables that the engine reads as options.
enableServiceLinks: false
securityContext:
  {{- toYaml .Values.podSecurityContext | nindent 2 }}
{{- with .Values.imagePullSecrets }}
imagePullSecrets:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end }}

{{/* Env of every metering container: settings from the ConfigMap, credentials from Secrets. (dict "root" $ "component" "stream") */}}
{{- define "metering.env" -}}
{{- $root := .root }}
{{- $v := $root.Values -}}
- name: METERING_PG
  valueFrom:
    secretKeyRef:
      name: {{ $v.secrets.postgres.existingSecret }}
      key: {{ $v.secrets.postgres.connectionStringKey }}
{{- if and (has .component (list "stream" "api" "alerts")) (hasPrefix "SASL" $v.kafka.securityProtocol) }}
- name: METERING_KAFKA_SASL_USERNAME
  valueFrom:
    secretKeyRef:
      name: {{ $v.secrets.kafkaSasl.existingSecret }}
      key: {{ $v.secrets.kafkaSasl.usernameKey }}
- name: METERING_KAFKA_SASL_PASSWORD
  valueFrom:
    secretKeyRef:
      name: {{ $v.secrets.kafkaSasl.existingSecret }}
      key: {{ $v.secrets.kafkaSasl.passwordKey }}
{{- end }}
{{- if and (has .component (list "stream" "api")) $v.redis.enabled }}
- name: METERING_REDIS
  valueFrom:
    secretKeyRef:
      name: {{ $v.secrets.redis.existingSecret }}
      key: {{ $v.secrets.redis.configurationKey }}
{{- end }}
{{- if and (has .component (list "api" "export")) $v.clickhouse.enabled $v.secrets.clickhouse.existingSecret }}
- name: METERING_CLICKHOUSE_PASSWORD
  valueFrom:
    secretKeyRef:
      name: {{ $v.secrets.clickhouse.existingSecret }}
      key: {{ $v.secrets.clickhouse.passwordKey }}
{{- end }}
{{- if eq .component "api" }}
- name: METERING_JWT_ISSUER
  value: {{ $v.api.auth.jwt.issuer | quote }}
- name: METERING_JWT_AUDIENCE
  value: {{ $v.api.auth.jwt.audience | quote }}
- name: METERING_JWT_KEY
  valueFrom:
    secretKeyRef:
      name: {{ $v.secrets.jwt.existingSecret }}
      key: {{ $v.secrets.jwt.key }}
{{- end }}
{{- if include "metering.hasPriceBook" $root }}
- name: METERING_PRICEBOOK
  value: /etc/metering/pricebooks/{{ $v.priceBooks.listFile }}
{{- $contracts := include "metering.contractFiles" $root }}
{{- if $contracts }}
- name: METERING_CONTRACTS
  value: {{ $contracts | splitList "," | join ",/etc/metering/pricebooks/" | printf "/etc/metering/pricebooks/%s" | quote }}
{{- end }}
{{- end }}
- name: POD_NAME
  valueFrom:
    fieldRef:
      fieldPath: metadata.name
{{- with $v.extraEnv }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{/* Volumes and mounts: the /tmp emptyDir, and the price books when configured. */}}
{{- define "metering.volumes" -}}
- name: tmp
  emptyDir:
    {{- if .Values.tmpVolume.medium }}
    medium: {{ .Values.tmpVolume.medium }}
    {{- end }}
    sizeLimit: {{ .Values.tmpVolume.sizeLimit }}
{{- if include "metering.hasPriceBook" . }}
- name: pricebooks
  configMap:
    name: {{ include "metering.priceBookConfigMapName" . }}
{{- end }}
{{- end }}

{{- define "metering.volumeMounts" -}}
- name: tmp
  mountPath: /tmp
{{- if include "metering.hasPriceBook" . }}
- name: pricebooks
  mountPath: /etc/metering/pricebooks
  readOnly: true
{{- end }}
{{- end }}

{{/* Soft spread over nodes for one component. */}}
{{- define "metering.topologySpread" -}}
topologySpreadConstraints:
  - maxSkew: 1
    topologyKey: kubernetes.io/hostname
    whenUnsatisfiable: ScheduleAnyway
    labelSelector:
      matchLabels:
        {{- include "metering.selectorLabels" . | nindent 8 }}
{{- end }}

{{/* Pod annotation that rolls the pods when the settings or price books change. */}}
{{- define "metering.configChecksum" -}}
checksum/config: {{ include (print .Template.BasePath "/configmap.yaml") . | sha256sum }}
{{- end }}

{{/*
Metrics of a long-running side process (export, alerts): pod annotations for annotation-based scraping.
Call with (dict "x" $x) where $x holds metrics.enabled and metrics.port.
*/}}
{{- define "metering.metricsAnnotations" -}}
{{- if .x.metrics.enabled }}
prometheus.io/scrape: "true"
prometheus.io/port: {{ .x.metrics.port | quote }}
prometheus.io/path: /metrics
{{- end }}
{{- end }}

{{/*
The container part: METERING_METRICS_PORT (or 0 to switch the endpoint off), the metrics port, and liveness
(/healthz) and readiness (/readyz) probes on it. Call with (dict "x" $x).
*/}}
{{- define "metering.metricsContainer" -}}
{{- $x := .x }}
env:
  - name: METERING_METRICS_PORT
    value: {{ ternary (toString (int $x.metrics.port)) "0" $x.metrics.enabled | quote }}
{{- if $x.metrics.enabled }}
ports:
  - name: metrics
    containerPort: {{ $x.metrics.port }}
    protocol: TCP
{{- if $x.probes.enabled }}
livenessProbe:
  httpGet:
    path: /healthz
    port: metrics
  initialDelaySeconds: {{ $x.probes.initialDelaySeconds | default 0 }}
  periodSeconds: {{ $x.probes.periodSeconds | default 10 }}
  timeoutSeconds: {{ $x.probes.timeoutSeconds | default 2 }}
  failureThreshold: {{ $x.probes.failureThreshold | default 3 }}
readinessProbe:
  httpGet:
    path: /readyz
    port: metrics
  periodSeconds: {{ $x.probes.periodSeconds | default 10 }}
  timeoutSeconds: {{ $x.probes.timeoutSeconds | default 2 }}
  failureThreshold: {{ $x.probes.failureThreshold | default 3 }}
{{- end }}
{{- end }}
{{- end }}

{{/*
Headless Service of a side process's metrics port, for the ServiceMonitor. Call with (dict "root" . "component" NAME "x" $x).
*/}}
{{- define "metering.metricsService" -}}
{{- if .x.metrics.enabled }}
---
# Headless Service of the {{ .component }} pod's metrics port, for the ServiceMonitor (it serves no traffic).
apiVersion: v1
kind: Service
metadata:
  name: {{ include "metering.fullname" .root }}-{{ .component }}-metrics
  labels:
    {{- include "metering.labels" .root | nindent 4 }}
    app.kubernetes.io/component: {{ .component }}
spec:
  clusterIP: None
  selector:
    {{- include "metering.selectorLabels" (dict "root" .root "component" .component) | nindent 4 }}
  ports:
    - name: metrics
      port: {{ .x.metrics.port }}
      targetPort: metrics
      protocol: TCP
{{- end }}
{{- end }}
