{{/*
Pieces of the pod spec shared by the Deployments and the migrations Job. Each takes
(dict "root" $ "component" $component).
*/}}

{{/*
The container's environment: listen address, logging, OpenTelemetry, the shared
services the component's `connections` ask for (credentials by secretKeyRef), then
the component's own `env`, which replaces a built-in variable of the same name.
*/}}
{{- define "dictamesh.env" -}}
{{- $root := .root }}
{{- $c := .component }}
{{- $v := $root.Values }}
{{- $own := default (dict) $c.env }}
{{- $builtin := list }}
{{- $builtin = append $builtin (dict "name" "DICTAMESH_LISTEN" "value" (printf "0.0.0.0:%d" (int $v.containerPort))) }}
{{- /* The root filesystem is read-only: /tmp (an emptyDir) is the only writable place. */}}
{{- $builtin = append $builtin (dict "name" "HOME" "value" "/tmp") }}
{{- $builtin = append $builtin (dict "name" "TMPDIR" "value" "/tmp") }}
{{- $builtin = append $builtin (dict "name" "DICTAMESH_LOG" "value" $v.log.level) }}
{{- if eq $v.log.format "json" }}
{{- $builtin = append $builtin (dict "name" "DICTAMESH_LOG_FORMAT" "value" "json") }}
{{- end }}
{{- if $v.otel.endpoint }}
{{- $builtin = append $builtin (dict "name" "K8S_POD_NAME" "valueFrom" (dict "fieldRef" (dict "fieldPath" "metadata.name"))) }}
{{- $builtin = append $builtin (dict "name" "K8S_NAMESPACE" "valueFrom" (dict "fieldRef" (dict "fieldPath" "metadata.namespace"))) }}
{{- $builtin = append $builtin (dict "name" "OTEL_EXPORTER_OTLP_ENDPOINT" "value" $v.otel.endpoint) }}
{{- $builtin = append $builtin (dict "name" "OTEL_EXPORTER_OTLP_PROTOCOL" "value" $v.otel.protocol) }}
{{- $builtin = append $builtin (dict "name" "OTEL_SERVICE_NAME" "value" (printf "dictamesh-%s" $c.name)) }}
{{- $attributes := list "k8s.pod.name=$(K8S_POD_NAME)" "k8s.namespace.name=$(K8S_NAMESPACE)" "service.instance.id=$(K8S_POD_NAME)" }}
{{- range $key, $value := $v.otel.resourceAttributes }}
{{- $attributes = append $attributes (printf "%s=%v" $key $value) }}
{{- end }}
{{- $builtin = append $builtin (dict "name" "OTEL_RESOURCE_ATTRIBUTES" "value" (join "," $attributes)) }}
{{- end }}
{{- if $c.connections.database }}
{{- $builtin = append $builtin (dict "name" "DATABASE_URL" "valueFrom" (dict "secretKeyRef" (dict "name" $v.database.existingSecret "key" $v.database.urlKey))) }}
{{- end }}
{{- if $c.connections.redis }}
{{- if $v.redis.existingSecret }}
{{- $builtin = append $builtin (dict "name" "REDIS_URL" "valueFrom" (dict "secretKeyRef" (dict "name" $v.redis.existingSecret "key" $v.redis.urlKey))) }}
{{- else if $v.redis.url }}
{{- $builtin = append $builtin (dict "name" "REDIS_URL" "value" $v.redis.url) }}
{{- end }}
{{- end }}
{{- if and $c.connections.kafka $v.kafka.brokers }}
{{- $builtin = append $builtin (dict "name" "KAFKA_BROKERS" "value" $v.kafka.brokers) }}
{{- with $v.kafka.securityProtocol }}
{{- $builtin = append $builtin (dict "name" "KAFKA_SECURITY_PROTOCOL" "value" .) }}
{{- end }}
{{- with $v.kafka.saslMechanism }}
{{- $builtin = append $builtin (dict "name" "KAFKA_SASL_MECHANISM" "value" .) }}
{{- end }}
{{- with $v.kafka.existingSecret }}
{{- $builtin = append $builtin (dict "name" "KAFKA_SASL_USERNAME" "valueFrom" (dict "secretKeyRef" (dict "name" . "key" $v.kafka.usernameKey))) }}
{{- $builtin = append $builtin (dict "name" "KAFKA_SASL_PASSWORD" "valueFrom" (dict "secretKeyRef" (dict "name" . "key" $v.kafka.passwordKey))) }}
{{- end }}
{{- end }}
{{- if and $c.connections.kafka (ne $c.role "catalog") }}
{{- if $v.schemaRegistry.url }}
{{- $builtin = append $builtin (dict "name" "SCHEMA_REGISTRY_URL" "value" $v.schemaRegistry.url) }}
{{- else if $v.catalog.enabled }}
{{- $catalogService := dict "name" "catalog" "service" $v.catalog.service }}
{{- $builtin = append $builtin (dict "name" "SCHEMA_REGISTRY_URL" "value" (include "dictamesh.serviceUrl" (dict "root" $root "component" $catalogService))) }}
{{- end }}
{{- end }}
{{- range $builtin }}
{{- if not (hasKey $own .name) }}
- {{ toYaml . | indent 2 | trim }}
{{- end }}
{{- end }}
{{- range $name, $value := $own }}
{{- if kindIs "map" $value }}
- name: {{ $name }}
  {{- toYaml $value | nindent 2 }}
{{- else }}
- name: {{ $name }}
  value: {{ toString $value | quote }}
{{- end }}
{{- end }}
{{- end }}

{{/* Pod-level settings shared by Deployments and the Job (no scheduling spread). */}}
{{- define "dictamesh.podCommon" -}}
{{- $root := .root }}
{{- $c := .component }}
automountServiceAccountToken: false
{{- with $root.Values.imagePullSecrets }}
imagePullSecrets:
  {{- toYaml . | nindent 2 }}
{{- end }}
securityContext:
  {{- toYaml $root.Values.podSecurityContext | nindent 2 }}
{{- with $c.priorityClassName }}
priorityClassName: {{ . }}
{{- end }}
{{- with $c.nodeSelector }}
nodeSelector:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with $c.tolerations }}
tolerations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end }}

{{/*
Spreading a component's replicas: its own `affinity`, or pod anti-affinity per node
(soft or hard), plus a topology spread over zones.
*/}}
{{- define "dictamesh.scheduling" -}}
{{- $root := .root }}
{{- $c := .component }}
{{- $scheduling := $root.Values.scheduling }}
{{- $selector := include "dictamesh.componentSelectorLabels" . | fromYaml }}
{{- if $c.affinity }}
affinity:
  {{- toYaml $c.affinity | nindent 2 }}
{{- else if eq $scheduling.podAntiAffinity "soft" }}
affinity:
  podAntiAffinity:
    preferredDuringSchedulingIgnoredDuringExecution:
      - weight: 100
        podAffinityTerm:
          topologyKey: kubernetes.io/hostname
          labelSelector:
            matchLabels:
              {{- toYaml $selector | nindent 14 }}
{{- else if eq $scheduling.podAntiAffinity "hard" }}
affinity:
  podAntiAffinity:
    requiredDuringSchedulingIgnoredDuringExecution:
      - topologyKey: kubernetes.io/hostname
        labelSelector:
          matchLabels:
            {{- toYaml $selector | nindent 12 }}
{{- end }}
{{- if $scheduling.topologySpread.enabled }}
topologySpreadConstraints:
  - maxSkew: {{ $scheduling.topologySpread.maxSkew }}
    topologyKey: {{ $scheduling.topologySpread.topologyKey }}
    whenUnsatisfiable: {{ $scheduling.topologySpread.whenUnsatisfiable }}
    labelSelector:
      matchLabels:
        {{- toYaml $selector | nindent 8 }}
    matchLabelKeys:
      - pod-template-hash
{{- end }}
{{- end }}

{{/* Probes on /health/live and /health/ready of the http port. */}}
{{- define "dictamesh.probes" -}}
{{- $probes := .Values.probes }}
startupProbe:
  httpGet:
    path: /health/live
    port: http
  {{- toYaml $probes.startup | nindent 2 }}
livenessProbe:
  httpGet:
    path: /health/live
    port: http
  {{- toYaml $probes.liveness | nindent 2 }}
readinessProbe:
  httpGet:
    path: /health/ready
    port: http
  {{- toYaml $probes.readiness | nindent 2 }}
{{- end }}
