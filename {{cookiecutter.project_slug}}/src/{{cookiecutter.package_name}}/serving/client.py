"""A client for the running service: one request to /predict, its failures as one plain line."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any

from pydantic import SecretStr

from {{ cookiecutter.package_name }}.serving.readiness import wait_until_ready

REQUEST_TIMEOUT_S = 30


def request_prediction(
    body: bytes,
    *,
    port: int,
    api_key: SecretStr | None = None,
    wait_s: float = 0,
    explain: bool = False,
) -> Any:
    """POST a JSON request to /predict on 127.0.0.1 and return the decoded answer.

    With `wait_s`, wait that long for /readyz first (a service just started); with `explain`,
    ask for the reasons (the largest SHAP contributions) as well. The API key goes in
    `X-API-Key`. An HTTP error raises RuntimeError with the status and the service's body; no
    service on the port raises RuntimeError that says how to start one.
    """
    base = f"http://127.0.0.1:{port}"
    if wait_s:
        wait_until_ready(f"{base}/readyz", wait_s)
    query = "?explain=true" if explain else ""
    call = urllib.request.Request(
        f"{base}/predict{query}", data=body, headers={"Content-Type": "application/json"}
    )
    if api_key is not None:
        call.add_header("X-API-Key", api_key.get_secret_value())
    try:
        with urllib.request.urlopen(call, timeout=REQUEST_TIMEOUT_S) as response:
            return json.load(response)
    except urllib.error.HTTPError as error:
        raise RuntimeError(f"the service answered {error.code}: {error.read().decode()}") from None
    except urllib.error.URLError as error:
        raise RuntimeError(
            f"no service on port {port} ({error.reason}): run `make serve`"
        ) from None
