"""moto's server in a process of its own, behind the fault middleware of
local_stack/faults.py, so that it serves on one core while the handlers run on the
other (in-process, moto and the handlers take turns on one interpreter lock).

The suite arms the faults and reads what fired over two routes of the same server:
`POST /_faults/arm` (a FaultPlan as JSON) and `GET /_faults/fired`.

    python -m local_stack.fault_server   # prints the port it serves on, then serves
"""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
import urllib.request
from collections import Counter
from typing import Any

from local_stack.faults import AwsFaults, FaultPlan

CONTROL = "/_faults/"


class Controlled:
    """The fault middleware, plus the routes that arm it and report what it did."""

    def __init__(self, faults: AwsFaults) -> None:
        self.faults = faults

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        path = environ.get("PATH_INFO", "")
        if not path.startswith(CONTROL):
            return self.faults(environ, start_response)
        if path == CONTROL + "arm":
            plan = json.loads(environ["wsgi.input"].read(int(environ["CONTENT_LENGTH"])))
            plan["poison_line_ids"] = frozenset(plan.get("poison_line_ids", ()))
            self.faults.arm(FaultPlan(**plan))
        body = json.dumps(dict(self.faults.fired)).encode()
        start_response("200 OK", [("Content-Type", "application/json")])
        return [body]


class RemoteFaults:
    """The suite's handle on the server's faults: `arm` a plan, read `fired`."""

    def __init__(self, endpoint: str) -> None:
        self.endpoint = endpoint

    def arm(self, plan: FaultPlan) -> None:
        data = dataclasses.asdict(plan)
        data["poison_line_ids"] = sorted(plan.poison_line_ids)
        request = urllib.request.Request(
            self.endpoint + CONTROL + "arm", json.dumps(data).encode(), method="POST"
        )
        urllib.request.urlopen(request, timeout=30).read()

    @property
    def fired(self) -> Counter[str]:
        with urllib.request.urlopen(self.endpoint + CONTROL + "fired", timeout=30) as r:
            return Counter(json.loads(r.read()))


def start() -> tuple[subprocess.Popen, str]:
    """The server as a child process; (process, endpoint)."""
    process = subprocess.Popen(
        [sys.executable, "-m", "local_stack.fault_server"],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    port = int(process.stdout.readline())
    return process, f"http://127.0.0.1:{port}"


def main() -> None:
    import logging

    from moto.moto_server.werkzeug_app import (
        DomainDispatcherApplication,
        MotoRequestHandler,
        create_backend_app,
    )
    from werkzeug.serving import make_server

    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    app = Controlled(AwsFaults(DomainDispatcherApplication(create_backend_app)))
    server = make_server("127.0.0.1", 0, app, True, request_handler=MotoRequestHandler)
    print(server.server_address[1], flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
