{{- /* Shared parts of the pod templates, as inline JSON (valid YAML). */ -}}

{{- /* Pod Security Standards "restricted", as the image's postgres user
       (26). fsGroup makes the PVCs and the projected files group 26;
       OnRootMismatch skips the recursive walk once the PVC root is right. */ -}}
{{- define "podSecurityContext" -}}
{"runAsNonRoot": true, "runAsUser": {{ .UID }}, "runAsGroup": {{ .UID }}, "fsGroup": {{ .UID }}, "fsGroupChangePolicy": "OnRootMismatch", "seccompProfile": {"type": "RuntimeDefault"}}
{{- end -}}

{{- define "containerSecurityContext" -}}
{"allowPrivilegeEscalation": false, "privileged": false, "readOnlyRootFilesystem": true, "runAsNonRoot": true, "capabilities": {"drop": ["ALL"]}}
{{- end -}}


{{- /* The S3 CA, beside pgbackrest.conf in a projected volume. */ -}}
{{- define "s3CASource" -}}
{{- if and .Spec.S3 .Spec.S3.CASecret }}
          - secret:
              name: {{ quote .Spec.S3.CASecret }}
              items:
              - key: ca.crt
                path: s3/ca.crt
{{- end }}
{{- end -}}
