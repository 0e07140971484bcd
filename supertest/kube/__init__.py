"""Kubernetes mode, core side: CRD names, spec/status models and the API's KubernetesLauncher."""
