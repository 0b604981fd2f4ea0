{{/*
The pod template shared by the stable Deployment and the canary track.
Call with (dict "root" $ "track" "stable" "model" .Values.model).
*/}}
{{- define "model-server.podTemplate" -}}
{{- $root := .root }}
{{- $values := $root.Values }}
{{- $model := .model }}
{{- $modelName := include "model-server.modelName" $root -}}
metadata:
  annotations:
    ci-plugins.dev/model-version: {{ $model.version | toString | quote }}
    ci-plugins.dev/model-digest: {{ $model.digest | toString | quote }}
    ci-plugins.dev/source-commit: {{ $model.sourceCommit | toString | quote }}
    {{- if $model.artifact }}
    ci-plugins.dev/model-artifact: {{ $model.artifact | quote }}
    {{- end }}
    {{- if $values.metrics.enabled }}
    prometheus.io/scrape: "true"
    prometheus.io/port: {{ $values.service.port | quote }}
    prometheus.io/path: {{ $values.metrics.path | quote }}
    checksum/monitoring: {{ include "model-server.monitoringConfig" $root | sha256sum }}
    {{- end }}
    {{- with $values.podAnnotations }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
  labels:
    {{- include "model-server.labels" $root | nindent 4 }}
    ci-plugins.dev/track: {{ .track }}
    {{- with $values.podLabels }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
spec:
  {{- with $values.imagePullSecrets }}
  imagePullSecrets:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  serviceAccountName: {{ include "model-server.serviceAccountName" $root }}
  automountServiceAccountToken: {{ $values.serviceAccount.automount }}
  {{- with $values.podSecurityContext }}
  securityContext:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- if $model.artifact }}
  initContainers:
    - name: fetch-model
      image: {{ include "model-server.imageRef" (dict "image" $values.modelPuller.image "default" "") | quote }}
      imagePullPolicy: {{ $values.modelPuller.image.pullPolicy }}
      args:
        - pull
        - {{ include "model-server.artifactRef" $model | quote }}
        - --output
        - /models
        {{- if $values.modelPuller.plainHttp }}
        - --plain-http
        {{- end }}
        {{- if $values.modelPuller.registryConfigSecret }}
        - --registry-config
        - /etc/oras/config.json
        {{- end }}
      {{- with $values.securityContext }}
      securityContext:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      {{- with $values.modelPuller.resources }}
      resources:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      env:
        - name: HOME
          value: /tmp
      volumeMounts:
        - name: models
          mountPath: /models
        - name: tmp
          mountPath: /tmp
        {{- if $values.modelPuller.registryConfigSecret }}
        - name: registry-config
          mountPath: /etc/oras
          readOnly: true
        {{- end }}
  {{- end }}
  containers:
    - name: {{ $root.Chart.Name }}
      image: {{ include "model-server.image" $root | quote }}
      imagePullPolicy: {{ $values.image.pullPolicy }}
      {{- with $values.securityContext }}
      securityContext:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      command:
        - tensorflow_model_server
      args:
        - --port={{ $values.service.grpcPort }}
        - --rest_api_port={{ $values.service.port }}
        - --model_name={{ $modelName }}
        - --model_base_path={{ $values.model.basePath }}
        {{- if $values.metrics.enabled }}
        - --monitoring_config_file=/etc/model-server/monitoring.config
        {{- end }}
        {{- range $values.extraArgs }}
        - {{ . | quote }}
        {{- end }}
      {{- with $values.env }}
      env:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      ports:
        - name: http
          containerPort: {{ $values.service.port }}
          protocol: TCP
        - name: grpc
          containerPort: {{ $values.service.grpcPort }}
          protocol: TCP
      {{- range $probe := list "startupProbe" "readinessProbe" "livenessProbe" }}
      {{- $settings := index $values.probes $probe }}
      {{ $probe }}:
        httpGet:
          path: {{ printf "/v1/models/%s%s" $modelName (default "" $settings.pathSuffix) }}
          port: http
        {{- toYaml (omit $settings "pathSuffix") | nindent 8 }}
      {{- end }}
      {{- $resources := deepCopy (default (dict) $values.resources) }}
      {{- if $values.gpu.enabled }}
      {{- $limits := merge (dict "nvidia.com/gpu" $values.gpu.count) (default (dict) $resources.limits) }}
      {{- $_ := set $resources "limits" $limits }}
      {{- end }}
      {{- with $resources }}
      resources:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      volumeMounts:
        - name: models
          mountPath: /models
          readOnly: {{ not (empty $model.artifact) }}
        - name: tmp
          mountPath: /tmp
        {{- if $values.metrics.enabled }}
        - name: monitoring
          mountPath: /etc/model-server
          readOnly: true
        {{- end }}
  volumes:
    - name: models
      emptyDir:
        {{- with $values.modelPuller.volumeSizeLimit }}
        sizeLimit: {{ . }}
        {{- else }}
        {}
        {{- end }}
    - name: tmp
      emptyDir: {}
    {{- if $values.metrics.enabled }}
    - name: monitoring
      configMap:
        name: {{ include "model-server.fullname" $root }}-monitoring
    {{- end }}
    {{- if and $model.artifact $values.modelPuller.registryConfigSecret }}
    - name: registry-config
      secret:
        secretName: {{ $values.modelPuller.registryConfigSecret }}
        items:
          - key: .dockerconfigjson
            path: config.json
    {{- end }}
  {{- $nodeSelector := $values.nodeSelector }}
  {{- if $values.gpu.enabled }}
  {{- $nodeSelector = merge (deepCopy (default (dict) $values.nodeSelector)) $values.gpu.nodeSelector }}
  {{- end }}
  {{- with $nodeSelector }}
  nodeSelector:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- with $values.affinity }}
  affinity:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- $tolerations := $values.tolerations }}
  {{- if $values.gpu.enabled }}
  {{- $tolerations = concat (default (list) $values.tolerations) $values.gpu.tolerations }}
  {{- end }}
  {{- with $tolerations }}
  tolerations:
    {{- toYaml . | nindent 4 }}
  {{- end }}
{{- end }}

{{/*
TensorFlow Serving's monitoring config: exposes Prometheus metrics on the REST port.
*/}}
{{- define "model-server.monitoringConfig" -}}
prometheus_config {
  enable: true,
  path: {{ .Values.metrics.path | quote }}
}
{{- end }}
