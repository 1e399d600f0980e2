{{/*
Names, labels and the list of components. A component is the router, the catalog
or one adapter, with its values merged over the chart-wide defaults; every
workload template ranges over the list from "dictamesh.components".
*/}}

{{- define "dictamesh.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* The resource name prefix: <release>-<chart>, or the release alone when it already contains the chart name. */}}
{{- define "dictamesh.fullname" -}}
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

{{/* <fullname>-<component>, within the 63 characters of a DNS label. */}}
{{- define "dictamesh.componentFullname" -}}
{{- printf "%s-%s" (include "dictamesh.fullname" .root | trunc (int (sub 62 (len .name)))) .name | trimSuffix "-" }}
{{- end }}

{{- define "dictamesh.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Kubernetes recommended labels shared by every resource. */}}
{{- define "dictamesh.labels" -}}
helm.sh/chart: {{ include "dictamesh.chart" . }}
{{ include "dictamesh.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: dictamesh
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{- define "dictamesh.selectorLabels" -}}
app.kubernetes.io/name: {{ include "dictamesh.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{/* Labels of one component's resources; takes (dict "root" $ "component" $c). */}}
{{- define "dictamesh.componentLabels" -}}
{{ include "dictamesh.labels" .root }}
app.kubernetes.io/component: {{ .component.name }}
dictamesh.io/role: {{ .component.role }}
{{- end }}

{{/* What selects one component's pods; takes (dict "root" $ "component" $c). */}}
{{- define "dictamesh.componentSelectorLabels" -}}
{{ include "dictamesh.selectorLabels" .root }}
app.kubernetes.io/component: {{ .component.name }}
{{- end }}

{{- define "dictamesh.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "dictamesh.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/* The dictamesh image reference: repository@digest, or repository:tag (default appVersion). */}}
{{- define "dictamesh.image" -}}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}
{{- end }}

{{/* In-cluster base URL of a component's Service. */}}
{{- define "dictamesh.serviceUrl" -}}
{{- $port := int .component.service.port }}
{{- printf "http://%s.%s.svc%s" (include "dictamesh.componentFullname" (dict "root" .root "name" .component.name)) .root.Release.Namespace (ternary "" (printf ":%d" $port) (eq $port 80)) }}
{{- end }}

{{/*
The components, as YAML {items: [...]}: each is its values merged over the chart's
autoscaling and podDisruptionBudget defaults (adapters also over adapterDefaults),
plus name, role, image and args. Read it with
  (include "dictamesh.components" . | fromYaml).items
*/}}
{{- define "dictamesh.components" -}}
{{- $shared := dict "autoscaling" (deepCopy .Values.autoscaling) "podDisruptionBudget" (deepCopy .Values.podDisruptionBudget) }}
{{- $listen := printf "0.0.0.0:%d" (int .Values.containerPort) }}
{{- $items := list }}
{{- if .Values.router.enabled }}
{{- $router := mergeOverwrite (deepCopy $shared) (deepCopy .Values.router) }}
{{- $_ := set $router "name" "router" }}
{{- $_ := set $router "role" "router" }}
{{- $_ := set $router "image" (include "dictamesh.image" .) }}
{{- $_ := set $router "args" (list "router" "--supergraph" "/etc/dictamesh/supergraph.yaml" "--config" "/etc/dictamesh/router.yaml" "--listen" $listen) }}
{{- $items = append $items $router }}
{{- end }}
{{- if .Values.catalog.enabled }}
{{- $catalog := mergeOverwrite (deepCopy $shared) (deepCopy (omit .Values.catalog "migrations")) }}
{{- $_ := set $catalog "name" "catalog" }}
{{- $_ := set $catalog "role" "catalog" }}
{{- $_ := set $catalog "image" (include "dictamesh.image" .) }}
{{- $args := list "catalog" "--listen" $listen }}
{{- if .Values.catalog.migrations.enabled }}
{{- $args = append $args "--no-migrate" }}
{{- end }}
{{- $_ := set $catalog "args" $args }}
{{- $items = append $items $catalog }}
{{- end }}
{{- range $name, $values := .Values.adapters }}
{{- $adapter := mergeOverwrite (deepCopy $shared) (deepCopy $.Values.adapterDefaults) (deepCopy (default (dict) $values)) }}
{{- if $adapter.enabled }}
{{- $_ := set $adapter "name" $name }}
{{- $_ := set $adapter "role" "adapter" }}
{{- if not $adapter.image }}
{{- $_ := set $adapter "image" (include "dictamesh.image" $) }}
{{- if not $adapter.args }}
{{- $_ := set $adapter "args" (list "subgraph" $name) }}
{{- end }}
{{- end }}
{{- $items = append $items $adapter }}
{{- end }}
{{- end }}
{{- toYaml (dict "items" $items) }}
{{- end }}

{{/* The fewest replicas a component runs: autoscaling.minReplicas or replicas. */}}
{{- define "dictamesh.minReplicas" -}}
{{- if .autoscaling.enabled }}{{ int .autoscaling.minReplicas }}{{ else }}{{ int .replicas }}{{ end }}
{{- end }}
