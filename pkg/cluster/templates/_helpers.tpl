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


{{- /* The object stores' CAs and the GCS service key, beside pgbackrest.conf
       in a projected volume (cluster.S3CAFile, GCSCAFile, GCSKeyFile,
       AzureCAFile). */ -}}
{{- define "objectStoreFiles" -}}
{{- if and .Spec.S3 .Spec.S3.CASecret }}
          - secret:
              name: {{ quote .Spec.S3.CASecret }}
              items:
              - key: ca.crt
                path: s3/ca.crt
{{- end }}
{{- with .Spec.GCS }}
{{- if eq .KeyType "service" }}
          - secret:
              name: {{ quote .CredentialsSecret }}
              items:
              - key: gcs-key.json
                path: gcs/key.json
{{- end }}
{{- if .CASecret }}
          - secret:
              name: {{ quote .CASecret }}
              items:
              - key: ca.crt
                path: gcs/ca.crt
{{- end }}
{{- end }}
{{- with .Spec.Azure }}
{{- if .CASecret }}
          - secret:
              name: {{ quote .CASecret }}
              items:
              - key: ca.crt
                path: azure/ca.crt
{{- end }}
{{- end }}
{{- end -}}
