"""The project's command line: one entry point for every job, with help that teaches.

Each module here is one group of commands, a thin Typer layer over the functions of the module
that owns the work; it imports that module inside the command, so `--help` starts fast.
"""

from __future__ import annotations

import atexit
import logging
import sys
from typing import Annotated, Any

import typer

from {{ cookiecutter.package_name }}.cli import cluster, data, govern, project, serve, train


class App(typer.Typer):
    """A Typer app whose failures are one line saying what went wrong (tracebacks with --debug)."""

    debug = False

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        """Run the command; turn an uncaught error into one line and exit status 1."""
        try:
            return super().__call__(*args, **kwargs)
        except Exception as error:
            if App.debug:
                raise
            message = f"error: {describe(error)} (rerun with --debug for details)"
            typer.secho(message, err=True, fg="red")
            sys.exit(1)
        finally:
            close_log_handlers()


def close_log_handlers() -> None:
    """Flush and close every logging handler now, while the interpreter can still start threads.

    Python 3.12.0 to 3.12.2 refuse new threads once shutdown begins (CPython gh-113964), and
    OpenTelemetry's log handler, which ZenML's step-log store creates, flushes on a new thread:
    left to logging's exit hook, every pipeline command would end with a traceback.
    """
    logging.shutdown()
    atexit.unregister(logging.shutdown)


def describe(error: Exception) -> str:
    """One line for any error; a validation error names each field that failed."""
    from pydantic import ValidationError

    if isinstance(error, ValidationError):
        return "invalid settings: " + "; ".join(
            f"{'.'.join(str(part) for part in issue['loc'])}: {issue['msg']}"
            for issue in error.errors()
        )
    return str(error) or type(error).__name__


app = App(
    name="{{ cookiecutter.project_slug }}",
    help="{{ cookiecutter.project_name }}: data, features, training, serving and monitoring.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)


@app.callback()
def main(
    debug: Annotated[bool, typer.Option("--debug", help="Show full tracebacks.")] = False,
) -> None:
    """{{ cookiecutter.project_name }}: data, features, training, serving and monitoring."""
    App.debug = debug


for group in (project, data, cluster, train, govern, serve):
    group.register(app)
