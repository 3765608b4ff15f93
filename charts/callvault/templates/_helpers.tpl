{{/* Names and labels. */}}
{{- define "callvault.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "callvault.fullname" -}}
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

{{- define "callvault.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
app.kubernetes.io/name: {{ include "callvault.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end -}}

{{/* Selector labels of one process: (dict "root" $ "process" NAME). */}}
{{- define "callvault.selectorLabels" -}}
app.kubernetes.io/name: {{ include "callvault.name" .root }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .process }}
{{- end -}}

{{- define "callvault.image" -}}
{{- if .Values.image.digest -}}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest -}}
{{- else -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) -}}
{{- end -}}
{{- end -}}

{{- define "callvault.secretName" -}}
{{- default (printf "%s-secrets" (include "callvault.fullname" .)) .Values.secrets.existingSecret -}}
{{- end -}}

{{/*
The processes of the distributed mode: each group of `groups`, then each
enabled target no group runs, as YAML `processes: [{name, targets}]`.
*/}}
{{- define "callvault.processes" -}}
{{- $grouped := list -}}
{{- range .Values.groups -}}
{{- range .targets -}}
{{- if not (hasKey $.Values.targets .) -}}
{{- fail (printf "groups: %q is not a target (targets: %s)" . (keys $.Values.targets | sortAlpha | join ", ")) -}}
{{- end -}}
{{- if has . $grouped -}}
{{- fail (printf "groups: target %q is in two groups" .) -}}
{{- end -}}
{{- $grouped = append $grouped . -}}
{{- end -}}
{{- end -}}
processes:
{{- range .Values.groups }}
  - name: {{ .name }}
    targets: {{ toJson .targets }}
{{- end }}
{{- range $name, $target := .Values.targets }}
{{- if and $target.enabled (not (has $name $grouped)) }}
  - name: {{ $name }}
    targets: [{{ $name | quote }}]
{{- end }}
{{- end }}
{{- end -}}

{{/* The name of the process that runs the storage target. */}}
{{- define "callvault.storageProcess" -}}
{{- range (include "callvault.processes" . | fromYaml).processes -}}
{{- if has "storage" .targets -}}{{ .name }}{{- end -}}
{{- end -}}
{{- end -}}

{{- define "callvault.publicUrl" -}}
{{- if .Values.publicUrl -}}
{{- .Values.publicUrl | trimSuffix "/" -}}
{{- else -}}
{{- printf "https://%s" .Values.ingress.host -}}
{{- end -}}
{{- end -}}

{{/* The secret files every process reads (`*_FILE` settings). */}}
{{- define "callvault.secretFiles" -}}
CALLVAULT_AUTH__HS256_SECRET_FILE: hs256-secret
CALLVAULT_SECRETS__URL_SIGNING_FILE: url-signing
CALLVAULT_SECRETS__PII_FILE: pii
CALLVAULT_SECRETS__MANIFEST_SIGNING_FILE: manifest-signing
{{- end -}}

{{/*
The environment of a process: (dict "root" $ "targets" LIST). Everything a
target needs comes from its entry in `targets`, so a new target is one entry.
*/}}
{{- define "callvault.env" -}}
{{- $root := .root -}}
{{- $v := $root.Values -}}
{{- $embedded := eq $v.mode "embedded" -}}
{{- $needs := dict "blobs" false "keys" false "auth" false "internal" false "public" false "bundleLinks" false -}}
{{- range .targets -}}
{{- $t := index $v.targets . -}}
{{- range list "blobs" "keys" "auth" -}}
{{- if index $t . -}}{{- $_ := set $needs . true -}}{{- end -}}
{{- end -}}
{{- if $t.storageUrl -}}{{- $_ := set $needs $t.storageUrl true -}}{{- end -}}
{{- if eq ($t.disclosureUrl | default "") "public" -}}{{- $_ := set $needs "bundleLinks" true -}}{{- end -}}
{{- end -}}
- name: CALLVAULT_CONFIG
  value: /etc/callvault/callvault.toml
- name: CALLVAULT_DATA_DIR
  value: /data
- name: CALLVAULT_LISTEN
  value: {{ printf "0.0.0.0:%d" (int $v.service.port) | quote }}
{{- if $v.httpWorkers }}
- name: CALLVAULT_HTTP_WORKERS
  value: {{ $v.httpWorkers | quote }}
{{- end }}
- name: CALLVAULT_PUBLIC_URL
  value: {{ include "callvault.publicUrl" $root | quote }}
{{- if not $embedded }}
- name: CALLVAULT_BUS__KIND
  value: rabbitmq
- name: CALLVAULT_BUS__URL_FILE
  value: /run/secrets/callvault/bus-url
{{- end }}
{{- if $v.bus.namePrefix }}
- name: CALLVAULT_BUS__NAME_PREFIX
  value: {{ $v.bus.namePrefix | quote }}
{{- end }}
{{- if or (not $embedded) $v.secrets.existingSecret }}
{{- range $name, $file := (include "callvault.secretFiles" $root | fromYaml) }}
- name: {{ $name }}
  value: {{ printf "/run/secrets/callvault/%s" $file }}
{{- end }}
{{- end }}
{{- if not $embedded }}
{{- range .targets }}
{{- if (index $v.targets .).database }}
- name: {{ printf "CALLVAULT_DATABASE__%s_URL" (upper .) }}
  valueFrom:
    secretKeyRef:
      name: {{ include "callvault.secretName" $root }}
      key: {{ printf "database-%s-url" . }}
{{- end }}
{{- end }}
{{- end }}
{{- if or $needs.blobs $embedded }}
- name: CALLVAULT_BLOB__BACKEND
  value: {{ $v.blob.backend | quote }}
{{- if eq $v.blob.backend "s3" }}
- name: CALLVAULT_BLOB__S3_BUCKET
  value: {{ $v.blob.s3Bucket | quote }}
- name: CALLVAULT_BLOB__S3_REGION
  value: {{ $v.blob.s3Region | quote }}
{{- if $v.blob.s3Endpoint }}
- name: CALLVAULT_BLOB__S3_ENDPOINT
  value: {{ $v.blob.s3Endpoint | quote }}
{{- end }}
{{- end }}
{{- end }}
{{- if or $needs.keys $embedded }}
- name: CALLVAULT_KEYS__PROVIDER
  value: {{ $v.keys.provider | quote }}
{{- if eq $v.keys.provider "kms" }}
- name: CALLVAULT_KEYS__KMS_REGION
  value: {{ $v.keys.kmsRegion | quote }}
{{- if $v.keys.kmsEndpoint }}
- name: CALLVAULT_KEYS__KMS_ENDPOINT
  value: {{ $v.keys.kmsEndpoint | quote }}
{{- end }}
{{- end }}
{{- end }}
{{- if and $needs.internal $needs.public (not (has "storage" .targets)) }}
{{- fail (printf "a process running %s needs the storage URL both inside the cluster and public: group it with storage, or split it" (join "," .targets)) }}
{{- end }}
{{- if and (not $embedded) $needs.internal (not (include "callvault.storageProcess" $root)) }}
{{- fail (printf "%s uploads to the storage target, which no process runs: enable targets.storage" (join "," .targets)) }}
{{- end }}
{{- if and (not $embedded) (or $needs.public $needs.internal) }}
- name: CALLVAULT_STORAGE_URL
{{- if or $needs.public (has "storage" .targets) }}
  value: {{ include "callvault.publicUrl" $root | quote }}
{{- else }}
  value: {{ printf "http://%s-%s:%d" (include "callvault.fullname" $root) (include "callvault.storageProcess" $root) (int $v.service.port) | quote }}
{{- end }}
{{- end }}
{{- if and (not $embedded) $needs.bundleLinks }}
{{- /* Bundle download links: the Ingress routes /v1/disclosure/bundles to the disclosure target. */}}
- name: CALLVAULT_DISCLOSURE_URL
  value: {{ include "callvault.publicUrl" $root | quote }}
{{- end }}
{{- if or $embedded (has "billing" .targets) }}
{{- /* billing's settings (values `billing`), for the process that runs it. */}}
- name: CALLVAULT_BILLING__TIMER_INTERVAL_SECS
  value: {{ int64 $v.billing.timerIntervalSecs | toString | quote }}
- name: CALLVAULT_BILLING__GRACE_HOURS
  value: {{ int64 $v.billing.graceHours | toString | quote }}
{{- end }}
{{- if or $embedded (has "webhooks" .targets) }}
{{- /* webhooks' settings (values `webhooks`), for the process that runs it. */}}
- name: CALLVAULT_WEBHOOKS__WORKER_INTERVAL_SECS
  value: {{ int64 $v.webhooks.workerIntervalSecs | toString | quote }}
- name: CALLVAULT_WEBHOOKS__PER_ENDPOINT_CONCURRENCY
  value: {{ int64 $v.webhooks.perEndpointConcurrency | toString | quote }}
{{- if $v.webhooks.allowNetworks }}
- name: CALLVAULT_WEBHOOKS__ALLOW_NETWORKS
  value: {{ join "," $v.webhooks.allowNetworks | quote }}
{{- end }}
{{- end }}
{{- if or $needs.auth $embedded }}
{{- if $v.auth.issuer }}
- name: CALLVAULT_AUTH__ISSUER
  value: {{ $v.auth.issuer | quote }}
{{- end }}
{{- if $v.auth.audience }}
- name: CALLVAULT_AUTH__AUDIENCE
  value: {{ $v.auth.audience | quote }}
{{- end }}
{{- if $v.auth.jwksUrl }}
- name: CALLVAULT_AUTH__JWKS_URL
  value: {{ $v.auth.jwksUrl | quote }}
{{- end }}
{{- end }}
{{- range $name, $value := $v.env }}
- name: {{ $name }}
  value: {{ $value | toString | quote }}
{{- end }}
{{- range .targets }}
{{- range $name, $value := (index $v.targets .).env }}
- name: {{ $name }}
  value: {{ $value | toString | quote }}
{{- end }}
{{- end }}
{{- if $v.otel.endpoint }}
- name: OTEL_EXPORTER_OTLP_ENDPOINT
  value: {{ $v.otel.endpoint | quote }}
{{- end }}
- name: OTEL_TRACES_SAMPLER
  value: {{ $v.otel.sampler | quote }}
{{- if $v.otel.samplerArg }}
- name: OTEL_TRACES_SAMPLER_ARG
  value: {{ $v.otel.samplerArg | quote }}
{{- end }}
{{- if $v.otel.resourceAttributes }}
- name: OTEL_RESOURCE_ATTRIBUTES
  value: {{ $v.otel.resourceAttributes | quote }}
{{- end }}
{{- end -}}

{{/* Probes, shared by both modes. */}}
{{- define "callvault.probes" -}}
startupProbe:
  httpGet: {path: /healthz, port: http}
  periodSeconds: 2
  failureThreshold: 60
livenessProbe:
  httpGet: {path: /healthz, port: http}
  periodSeconds: 10
  timeoutSeconds: 3
  failureThreshold: 3
readinessProbe:
  httpGet: {path: /readyz, port: http}
  periodSeconds: 5
  timeoutSeconds: 3
  failureThreshold: 2
{{- end -}}

{{/* The secret files mounted by a process (the database URLs are variables). */}}
{{- define "callvault.secretVolume" -}}
- name: secrets
  secret:
    secretName: {{ include "callvault.secretName" .root }}
    defaultMode: 0400
    items:
{{- range $_, $file := (include "callvault.secretFiles" .root | fromYaml) }}
      - {key: {{ $file }}, path: {{ $file }}}
{{- end }}
{{- if .bus }}
      - {key: bus-url, path: bus-url}
{{- end }}
{{- end -}}

{{/* checkov skips that hold for every callvault pod, each with its reason. */}}
{{- define "callvault.checkovSkips" -}}
{{- if not .root.Values.image.digest -}}
checkov.io/skip1: CKV_K8S_43=the image is pinned by tag from the chart's appVersion; set image.digest to pin it by digest
{{ end -}}
{{- if .secretVariables -}}
checkov.io/skip2: CKV_K8S_35=the database URLs are variables from a secretKeyRef because the binary has no *_file setting for them; every other secret is a file
{{ end -}}
{{- end -}}
