{{- /*
Small single-replica StatefulSets for evaluation: Postgres, Redis and an S3-compatible server (versitygw).
Production installs point postgres.external / redis.external / objectStore.external at managed services.
Each has a Service and a StatefulSet file here; these helpers are shared by the three StatefulSets.
*/ -}}
{{- define "supertest.bundled.volumeClaim" -}}
{{- $p := index . 1 -}}
volumeClaimTemplates:
  - metadata:
      name: data
    spec:
      accessModes: [ReadWriteOnce]
      {{- with $p.storageClass }}
      storageClassName: {{ . | quote }}
      {{- end }}
      resources:
        requests:
          storage: {{ $p.size }}
{{- end -}}
{{- define "supertest.bundled.podExtras" -}}
{{- $v := index . 1 -}}
{{- with $v.nodeSelector }}
nodeSelector:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with $v.tolerations }}
tolerations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with $v.affinity }}
affinity:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end -}}
