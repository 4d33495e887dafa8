"""{{ cookiecutter.project_name }}: the package behind the project's CLI and pipelines."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("{{ cookiecutter.project_slug }}")
except PackageNotFoundError:  # a pipeline pod runs the code unpacked by ZenML, not installed
    __version__ = "0+unknown"
