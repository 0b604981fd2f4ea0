{{/*
Expand the name of the chart.
*/}}
{{- define "model-server.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Create a default fully qualified app name.
We truncate at 63 chars because some Kubernetes name fields are limited to this (by the DNS naming spec).
If release name contains chart name it will be used as a full name.
*/}}
{{- define "model-server.fullname" -}}
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

{{/*
Create chart name and version as used by the chart label.
*/}}
{{- define "model-server.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Common labels
*/}}
{{- define "model-server.labels" -}}
helm.sh/chart: {{ include "model-server.chart" . }}
{{ include "model-server.selectorLabels" . }}
{{- if .Chart.AppVersion }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
{{- end }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/component: model-server
{{- end }}

{{/*
Selector labels: only name and instance (they are immutable in a Deployment).
*/}}
{{- define "model-server.selectorLabels" -}}
app.kubernetes.io/name: {{ include "model-server.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{/*
Create the name of the service account to use
*/}}
{{- define "model-server.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "model-server.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/*
The TensorFlow Serving model name: model.name, else the release name (the app).
*/}}
{{- define "model-server.modelName" -}}
{{- default .Release.Name .Values.model.name }}
{{- end }}

{{/*
An image reference from {repository, tag, digest}: repository[:tag][@digest].
Call with (dict "image" .Values.image "default" .Chart.AppVersion).
*/}}
{{- define "model-server.imageRef" -}}
{{- $tag := default .default .image.tag }}
{{- $ref := .image.repository }}
{{- if $tag }}{{ $ref = printf "%s:%s" $ref $tag }}{{ end }}
{{- if .image.digest }}{{ $ref = printf "%s@%s" $ref .image.digest }}{{ end }}
{{- $ref }}
{{- end }}

{{/*
The serving image: image.reference when set (ci-plugins render sets it from a serving
image built by `ci-plugins package`), else repository:tag@digest, with the GPU tag and
digest when gpu.enabled.
*/}}
{{- define "model-server.image" -}}
{{- if .Values.image.reference }}
{{- .Values.image.reference }}
{{- else if and .Values.gpu.enabled .Values.gpu.image.tag }}
{{- include "model-server.imageRef" (dict "image" (dict "repository" .Values.image.repository "tag" .Values.gpu.image.tag "digest" .Values.gpu.image.digest) "default" "") }}
{{- else }}
{{- include "model-server.imageRef" (dict "image" .Values.image "default" .Chart.AppVersion) }}
{{- end }}
{{- end }}

{{/*
Where the OCI artifact reference points, without the oci:// scheme (oras takes a plain reference).
*/}}
{{- define "model-server.artifactRef" -}}
{{- trimPrefix "oci://" .artifact }}
{{- end }}
