"""Where pipelines run: the embedded local ZenML stack (and, later, a Kubeflow cluster)."""
