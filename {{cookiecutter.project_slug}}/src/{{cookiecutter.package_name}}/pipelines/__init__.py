"""ZenML pipelines: training, batch inference, monitoring."""
