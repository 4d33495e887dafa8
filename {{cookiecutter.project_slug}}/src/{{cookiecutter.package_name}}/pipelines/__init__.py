"""ZenML pipelines: training, batch inference."""
