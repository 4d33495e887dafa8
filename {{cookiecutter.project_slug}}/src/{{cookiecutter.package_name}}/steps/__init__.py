"""ZenML steps: thin wrappers that hand artifacts to the plain functions and track the run."""
