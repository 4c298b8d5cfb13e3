"""A live web dashboard for yotaq's queues (the ``dashboard`` extra): ``python -m yotaq dashboard``.

Starlette serves the pages and the JSON they poll every second, uvicorn runs it; the charts are SVG
drawn on the server. Nothing is fetched from elsewhere, so it works offline. See
``docs/guide/dashboard.md``.
"""

from __future__ import annotations

import socket
import sys

from ..exceptions import ConfigurationError

EXTRA_MISSING = "the dashboard needs its extra: pip install 'yotaq[dashboard]'"


def main(url: str, *, host: str, port: int, queues: list[str] | None, token: str | None, secret: str | None) -> None:
    """Serve the dashboard until SIGINT or SIGTERM: what ``python -m yotaq dashboard`` runs.

    Raises:
        ConfigurationError: it would listen beyond this machine without a token, it cannot listen there
            (the port taken, say), or the extra is missing.
    """
    try:
        import uvicorn

        from .app import create_app
        from .security import check_binding
    except ImportError as exc:
        raise ConfigurationError(f"{EXTRA_MISSING} ({exc})") from None
    from ..broker import Broker, QueueKeys, connect
    from ..monitor import warn_of_unknown
    from ..serializer import as_secret

    check_binding(host, token)
    for name in queues or []:
        QueueKeys(name)  # a bad name is refused before anything starts
    # Bound here rather than by uvicorn, which would say why it cannot in a log line of its own and exit 3.
    listening = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET)
    try:
        listening.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn does: a restart need not wait
        listening.bind((host, port))
        listening.listen()
    except OSError as exc:  # the port taken, or the address not this machine's
        listening.close()
        raise ConfigurationError(f"cannot listen on {host} port {port}: {exc.strerror or exc}") from None
    with listening, connect(url) as client:
        warn_of_unknown(Broker(client), queues or [])
        app = create_app(client, queues=queues, secret=as_secret(secret), token=token)
        shown = "http://" + (f"[{host}]" if ":" in host else host) + f":{port}/"
        print(f"yotaq dashboard on {shown}" + (" (token required)" if token else ""), file=sys.stderr, flush=True)
        config = uvicorn.Config(
            app,
            log_level="warning",
            access_log=False,
            ws="none",
            lifespan="off",
            server_header=False,
            proxy_headers=False,
        )
        uvicorn.Server(config).run(sockets=[listening])
