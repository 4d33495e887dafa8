"""ZenML steps: thin wrappers that hand artifacts to the plain functions and track the run.

Importing the steps (as every pipeline does, locally and in a Kubeflow pod) caches ZenML's
distribution lookup: see artifact_sources.
"""

from {{ cookiecutter.package_name }}.steps.artifact_sources import cache_distribution_lookup

cache_distribution_lookup()
