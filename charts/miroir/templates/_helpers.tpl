{{- define "miroir.fullname" -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "miroir.labels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "miroir.secretName" -}}
{{- default (include "miroir.fullname" .) .Values.secrets.existingSecret -}}
{{- end -}}
