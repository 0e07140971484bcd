{{/* Names -------------------------------------------------------------------------------------------------- */}}
{{- define "supertest.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "supertest.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 50 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 50 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 50 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/* Labels: recommended app.kubernetes.io labels; selector labels never change across upgrades. */}}
{{- define "supertest.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
app.kubernetes.io/name: {{ include "supertest.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: supertest
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{/* Usage: include "supertest.componentLabels" (list $ "api") */}}
{{- define "supertest.componentLabels" -}}
{{ include "supertest.labels" (index . 0) }}
app.kubernetes.io/component: {{ index . 1 }}
{{- end -}}

{{- define "supertest.selectorLabels" -}}
{{- $ := index . 0 -}}
app.kubernetes.io/name: {{ include "supertest.name" $ }}
app.kubernetes.io/instance: {{ $.Release.Name }}
app.kubernetes.io/component: {{ index . 1 }}
{{- end -}}

{{/* Images: include "supertest.image" (list $ .Values.api.image) */}}
{{- define "supertest.image" -}}
{{- $ := index . 0 -}}
{{- $img := index . 1 -}}
{{- $repo := $img.repository -}}
{{- if and $.Values.global.imageRegistry (eq (len (splitList "/" $repo)) 2) -}}
{{- $repo = printf "%s/%s" $.Values.global.imageRegistry $repo -}}
{{- end -}}
{{- printf "%s:%s" $repo (default $.Chart.AppVersion $img.tag) -}}
{{- end -}}

{{- define "supertest.imagePullSecrets" -}}
{{- with .Values.global.imagePullSecrets }}
imagePullSecrets:
{{- range . }}
  - name: {{ . }}
{{- end }}
{{- end }}
{{- end -}}

{{/* ServiceAccount names */}}
{{- define "supertest.apiServiceAccount" -}}
{{- default (printf "%s-api" (include "supertest.fullname" .)) .Values.api.serviceAccount.name -}}
{{- end -}}
{{- define "supertest.operatorServiceAccount" -}}
{{- default (printf "%s-operator" (include "supertest.fullname" .)) .Values.operator.serviceAccount.name -}}
{{- end -}}
{{- define "supertest.runnerServiceAccount" -}}
{{- if or .Values.runner.serviceAccount.create .Values.runner.serviceAccount.name -}}
{{- default (printf "%s-runner" (include "supertest.fullname" .)) .Values.runner.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{/* Service names of the bundled services and of the operator */}}
{{- define "supertest.postgresHost" -}}{{ include "supertest.fullname" . }}-postgres{{- end -}}
{{- define "supertest.redisHost" -}}{{ include "supertest.fullname" . }}-redis{{- end -}}
{{- define "supertest.objectStoreHost" -}}{{ include "supertest.fullname" . }}-objectstore{{- end -}}
{{- define "supertest.operatorService" -}}{{ include "supertest.fullname" . }}-operator{{- end -}}
{{- define "supertest.webhookConfigName" -}}
{{- default (printf "%s.supertest.dev" (include "supertest.fullname" .)) .Values.operator.webhook.configName -}}
{{- end -}}

{{/* Secret names: the user's existingSecret or the chart's own. */}}
{{- define "supertest.connectionSecret" -}}{{ include "supertest.fullname" . }}-connections{{- end -}}
{{- define "supertest.databaseSecret" -}}
{{- if and (not .Values.postgres.enabled) .Values.postgres.external.existingSecret -}}
{{- .Values.postgres.external.existingSecret -}}
{{- else -}}
{{- include "supertest.connectionSecret" . -}}
{{- end -}}
{{- end -}}
{{- define "supertest.databaseSecretKey" -}}
{{- if and (not .Values.postgres.enabled) .Values.postgres.external.existingSecret -}}
{{- .Values.postgres.external.existingSecretKey -}}
{{- else -}}DATABASE_URL{{- end -}}
{{- end -}}
{{- define "supertest.redisSecret" -}}
{{- if and (not .Values.redis.enabled) .Values.redis.external.existingSecret -}}
{{- .Values.redis.external.existingSecret -}}
{{- else -}}
{{- include "supertest.connectionSecret" . -}}
{{- end -}}
{{- end -}}
{{- define "supertest.redisSecretKey" -}}
{{- if and (not .Values.redis.enabled) .Values.redis.external.existingSecret -}}
{{- .Values.redis.external.existingSecretKey -}}
{{- else -}}REDIS_URL{{- end -}}
{{- end -}}
{{/* Run pods read AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY from this Secret (S3_CREDENTIALS_SECRET). */}}
{{- define "supertest.s3Secret" -}}
{{- if and (not .Values.objectStore.enabled) .Values.objectStore.external.existingSecret -}}
{{- .Values.objectStore.external.existingSecret -}}
{{- else -}}
{{- include "supertest.fullname" . }}-s3
{{- end -}}
{{- end -}}
{{/* The Fernet key (SECRETS_KEY) of the API and the operator. */}}
{{- define "supertest.secretsKeySecret" -}}
{{- default (printf "%s-secrets-key" (include "supertest.fullname" .)) .Values.secretsKey.existingSecret -}}
{{- end -}}
{{- define "supertest.secretsKeySecretKey" -}}
{{- if .Values.secretsKey.existingSecret -}}{{ .Values.secretsKey.existingSecretKey }}{{- else -}}SECRETS_KEY{{- end -}}
{{- end -}}
{{- define "supertest.sessionSecret" -}}
{{- default (printf "%s-session" (include "supertest.fullname" .)) .Values.api.existingSecret -}}
{{- end -}}

{{- define "supertest.artifactsSecret" -}}
{{- default (printf "%s-artifacts" (include "supertest.fullname" .)) .Values.api.artifacts.existingSecret -}}
{{- end -}}
{{/* ARTIFACTS_URL as the API reads it: the configured origin, or the UI's host on the Service's artifacts port. */}}
{{- define "supertest.artifactsUrl" -}}
{{- default (printf "http://*:%d" (int .Values.api.artifacts.servicePort)) (trimSuffix "/" .Values.api.artifacts.url) -}}
{{- end -}}

{{- define "supertest.s3Endpoint" -}}
{{- if .Values.objectStore.enabled -}}
http://{{ include "supertest.objectStoreHost" . }}.{{ .Release.Namespace }}.svc:7070
{{- else -}}
{{- required "objectStore.external.endpoint is required when objectStore.enabled is false" .Values.objectStore.external.endpoint -}}
{{- end -}}
{{- end -}}

{{/*
A generated secret value that survives upgrades: the live Secret's value when there is one (lookup), else the
given value, else a random one. Usage: include "supertest.secretValue" (list $ secretName key given length [format])
With format "fernet" a random value is a Fernet key: the urlsafe base64 of `length` (32) random characters.
*/}}
{{- define "supertest.secretValue" -}}
{{- $ := index . 0 -}}
{{- $name := index . 1 -}}
{{- $key := index . 2 -}}
{{- $given := index . 3 -}}
{{- $length := index . 4 -}}
{{- if $given -}}
{{- $given -}}
{{- else -}}
{{- $live := lookup "v1" "Secret" $.Release.Namespace $name -}}
{{- if and $live (hasKey ($live.data | default dict) $key) -}}
{{- index $live.data $key | b64dec -}}
{{- else if and (gt (len .) 5) (eq (index . 5) "fernet") -}}
{{- randAlphaNum $length | b64enc | replace "+" "-" | replace "/" "_" -}}
{{- else -}}
{{- randAlphaNum $length -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/*
The environment every supertest process shares (API, operator, migrations): services and capacity.
Names are exactly those of supertest/settings.py (CoreSettings).
*/}}
{{- define "supertest.coreEnv" -}}
- name: RUN_BACKEND
  value: kubernetes
- name: DATABASE_URL
  valueFrom:
    secretKeyRef:
      name: {{ include "supertest.databaseSecret" . }}
      key: {{ include "supertest.databaseSecretKey" . }}
- name: REDIS_URL
  valueFrom:
    secretKeyRef:
      name: {{ include "supertest.redisSecret" . }}
      key: {{ include "supertest.redisSecretKey" . }}
- name: S3_ENDPOINT
  value: {{ include "supertest.s3Endpoint" . | quote }}
- name: S3_TEST_BUCKET_NAME
  value: {{ .Values.objectStore.buckets.test | quote }}
- name: S3_JOB_BUCKET_NAME
  value: {{ .Values.objectStore.buckets.job | quote }}
- name: AWS_REGION
  value: {{ .Values.objectStore.region | quote }}
- name: AWS_ACCESS_KEY_ID
  valueFrom:
    secretKeyRef:
      name: {{ include "supertest.s3Secret" . }}
      key: AWS_ACCESS_KEY_ID
- name: AWS_SECRET_ACCESS_KEY
  valueFrom:
    secretKeyRef:
      name: {{ include "supertest.s3Secret" . }}
      key: AWS_SECRET_ACCESS_KEY
- name: RUNNING_CAPACITY
  value: {{ .Values.config.runningCapacity | int64 | quote }}
- name: QUEUED_CAPACITY
  value: {{ .Values.config.queuedCapacity | int64 | quote }}
- name: MAX_CONCURRENT_TESTS
  value: {{ .Values.config.maxConcurrentTests | int64 | quote }}
- name: TEST_EXECUTION_TIMEOUT_MS
  value: {{ .Values.config.testExecutionTimeoutMs | int64 | quote }}
- name: MAX_SCRIPT_BYTES
  value: {{ .Values.config.maxScriptBytes | int64 | quote }}
- name: AUTO_QUARANTINE_FLAKY_RATE
  value: {{ divf (.Values.config.autoQuarantineFlakyPercent | default 0) 100 | quote }}
- name: AUTO_QUARANTINE_MIN_RUNS
  value: {{ .Values.config.autoQuarantineMinRuns | default 5 | int64 | quote }}
- name: LOG_FORMAT
  value: {{ .Values.config.logFormat | quote }}
- name: LOG_LEVEL
  value: {{ .Values.config.logLevel | quote }}
- name: SUPERTEST_HOME
  value: /tmp/supertest
- name: SECRETS_KEY
  valueFrom:
    secretKeyRef:
      name: {{ include "supertest.secretsKeySecret" . }}
      key: {{ include "supertest.secretsKeySecretKey" . }}
{{- end -}}

{{/* The namespaces the operator serves: the release namespace, or "" (every namespace) when cluster-wide. */}}
{{- define "supertest.watchNamespaces" -}}
{{- if .Values.rbac.clusterWide -}}{{- else -}}{{ .Release.Namespace }}{{- end -}}
{{- end -}}

{{/* The operator's leader Lease (operator/supertest_operator/leader.py names it after PEERING_NAME). */}}
{{- define "supertest.leaseName" -}}supertest-operator-{{ .Values.operator.peeringName }}{{- end -}}

{{- define "supertest.peering" -}}
{{- if gt (int .Values.operator.replicas) 1 -}}true{{- end -}}
{{- end -}}

{{/*
The migration container, shared by the hook Job and (bundled Postgres) the API's initContainer.
Usage: include "supertest.migrationContainer" (list $ secretName secretKey)
*/}}
{{- define "supertest.migrationContainer" -}}
{{- $ := index . 0 -}}
{{- $secret := index . 1 -}}
{{- $key := index . 2 -}}
name: migrate
image: {{ include "supertest.image" (list $ $.Values.migrations.image) }}
imagePullPolicy: {{ $.Values.migrations.image.pullPolicy }}
command: ["supertest", "migrate"]
env:
  - name: DATABASE_URL
    valueFrom:
      secretKeyRef:
        name: {{ $secret }}
        key: {{ $key }}
  - name: HOME
    value: /tmp
  - name: SUPERTEST_HOME
    value: /tmp/supertest
  - name: LOG_FORMAT
    value: {{ $.Values.config.logFormat | quote }}
  {{- with $.Values.migrations.extraEnv }}
  {{- toYaml . | nindent 2 }}
  {{- end }}
resources:
  {{- toYaml $.Values.migrations.resources | nindent 2 }}
securityContext:
  {{- toYaml $.Values.migrations.securityContext | nindent 2 }}
volumeMounts:
  - name: tmp
    mountPath: /tmp
{{- end -}}

{{/*
A Prometheus Operator ServiceMonitor scraping /metrics on one component's Service port; the API and the operator
each render one. Usage: include "supertest.serviceMonitor" (list $ component portName)
*/}}
{{- define "supertest.serviceMonitor" -}}
{{- $ := index . 0 -}}
{{- $component := index . 1 -}}
{{- $port := index . 2 }}
apiVersion: monitoring.coreos.com/v1
kind: ServiceMonitor
metadata:
  name: {{ include "supertest.fullname" $ }}-{{ $component }}
  namespace: {{ $.Release.Namespace }}
  labels:
    {{- include "supertest.componentLabels" (list $ $component) | nindent 4 }}
    {{- with $.Values.metrics.serviceMonitor.labels }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
spec:
  selector:
    matchLabels:
      {{- include "supertest.selectorLabels" (list $ $component) | nindent 6 }}
  namespaceSelector:
    matchNames: [{{ $.Release.Namespace | quote }}]
  endpoints:
    - port: {{ $port }}
      path: /metrics
      interval: {{ $.Values.metrics.serviceMonitor.interval }}
{{- end -}}

{{/*
The hash the API and operator pods carry as an annotation, so that they roll when a chart-managed Secret they
read changes: the rendered connection, S3, session, secrets-key, run-token-key and artifacts-signing Secrets, joined with `---` (as the single
secrets.yaml of earlier chart versions rendered the first three).
*/}}
{{- define "supertest.secretsChecksum" -}}
{{- $base := .Template.BasePath -}}
{{- $joined := include (print $base "/shared/connections-secret.yaml") . | trimSuffix "\n" -}}
{{- range $file := list "/shared/s3-secret.yaml" "/api/secret.yaml" "/shared/secrets-key-secret.yaml" "/shared/run-token-secret.yaml" "/api/artifacts-secret.yaml" -}}
{{- $doc := include (print $base $file) $ | trimSuffix "\n" -}}
{{- if $doc -}}{{- $joined = print $joined "\n---" $doc -}}{{- end -}}
{{- end -}}
{{- print $joined "\n" | sha256sum -}}
{{- end -}}

{{/* Run tokens: the Secret holding RUN_TOKEN_KEY (API and operator only), and the URL run pods post to. */}}
{{- define "supertest.runTokenSecret" -}}
{{- default (printf "%s-run-token-key" (include "supertest.fullname" .)) .Values.runner.ingest.existingSecret -}}
{{- end -}}

{{- define "supertest.ingestUrl" -}}
{{- default (printf "http://%s-api.%s.svc:%v" (include "supertest.fullname" .) .Release.Namespace .Values.api.service.port) .Values.runner.ingest.url -}}
{{- end -}}

{{- define "supertest.runTokenEnv" -}}
- name: RUN_TOKEN_KEY
  valueFrom:
    secretKeyRef:
      name: {{ include "supertest.runTokenSecret" . }}
      key: RUN_TOKEN_KEY
{{- end -}}
