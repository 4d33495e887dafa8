"""{{ cookiecutter.project_name }}: the package behind the project's CLI and pipelines."""

from importlib.metadata import version

__version__ = version("{{ cookiecutter.project_slug }}")
