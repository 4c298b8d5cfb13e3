"""The dashboard's ASGI app: pages (Jinja2, every value escaped), the JSON the page polls every second,
the SVG charts, the actions (POSTs behind the CSRF check) and ``/metrics``."""

from __future__ import annotations

import hmac
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode

import jinja2
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, PlainTextResponse, RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from .. import __version__
from ..broker.connection import Client
from ..exceptions import ConfigurationError, YotaqError
from ..queue import Queue
from . import charts, security
from .listings import FILTER_SCAN, STATES, BadListing, Listings
from .views import COUNTS, Board

HERE = Path(__file__).parent
MAX_FORM_BYTES = 16_384
NOTICES = {  # what an action did, by a fixed code: no text of the query string reaches the page
    "requeued": "requeued {count} job(s)",
    "purged": "purged {count} job(s)",
    "cancelled": "cancelled the job",
    "not-cancelled": "the job had already finished: nothing to cancel",
}


def create_app(
    client: Client, *, queues: list[str] | None = None, secret: bytes | None = None, token: str | None = None
) -> Starlette:
    """The dashboard as an ASGI app, reading Redis through ``client``.

    Args:
        client: a ``redis.Redis`` or ``RedisCluster`` (``yotaq.connect(url)`` makes one).
        queues: the queues to show; None for every queue found in Redis.
        secret: the queues' secret: messages and results are read only through their signatures.
        token: when given, every request needs it (the login form's cookie, or ``Authorization: Bearer``).
    """
    board = Board(client, secret, queues)
    listings = Listings(board)
    csrf = security.new_csrf_token()
    environment = jinja2.Environment(
        loader=jinja2.FileSystemLoader(HERE / "templates"), autoescape=True, undefined=jinja2.StrictUndefined
    )
    environment.globals.update(
        version=__version__, counts=COUNTS, states=STATES, windows=charts.WINDOWS, csrf=csrf, notice="", window="1h"
    )
    environment.filters["query"] = lambda values: urlencode(values)
    environment.filters["combine"] = lambda values, **more: {
        name: value for name, value in {**values, **more}.items() if value not in (None, "")
    }
    environment.globals["filter_scan"] = FILTER_SCAN

    def page(request: Request, template: str, status_code: int = 200, **values: Any) -> HTMLResponse:
        response = HTMLResponse(environment.get_template(template).render(**values), status_code=status_code)
        security.set_csrf_cookie(response, request, csrf)
        return response

    def queue_or_404(name: str | None) -> Queue:
        queue = board.queue(name) if name else None
        if queue is None:
            raise HTTPException(404, "no such queue here")
        return queue

    def notice_of(request: Request) -> str:
        """The notice an action's redirect names, with the count it passes (a number, or nothing shown)."""
        notice = NOTICES.get(request.query_params.get("notice", ""), "")
        count = request.query_params.get("count", "")
        return notice.format(count=count) if count.isdigit() or "{count}" not in notice else ""

    def window_of(request: Request) -> charts.Window:
        name = request.query_params.get("window", charts.DEFAULT_WINDOW.name)
        if name not in charts.WINDOWS:
            raise HTTPException(400, f"window must be one of {', '.join(charts.WINDOWS)}")
        return charts.WINDOWS[name]

    async def index(request: Request) -> Response:
        window = window_of(request)
        overview = await run_in_threadpool(board.overview)
        return page(request, "index.html", queues=overview, notice=notice_of(request), window=window.name)

    async def overview(request: Request) -> Response:
        return JSONResponse({"queues": await run_in_threadpool(board.overview)})

    async def chart(request: Request) -> Response:
        window = window_of(request)
        drawn = await run_in_threadpool(board.series, request.query_params.get("queue", ""), window.by_minute)
        if drawn is None or request.path_params["name"] not in ("throughput", "duration"):
            raise HTTPException(404, "no such queue here")
        seconds, now_s = drawn
        draw = charts.throughput_svg if request.path_params["name"] == "throughput" else charts.duration_svg
        return Response(draw(seconds, now_s, window), media_type="image/svg+xml")

    async def listing(request: Request) -> dict[str, Any]:
        """The page of jobs the query string asks for (``/jobs`` and ``/api/jobs``)."""
        params = request.query_params
        queue = queue_or_404(params.get("queue"))
        number = params.get("page", "1")
        if not number.isdigit() or len(number) > 6:
            raise HTTPException(400, "page must be a whole number")
        try:
            return await run_in_threadpool(
                listings.jobs, queue, params.get("state", "pending"), int(number), params.get("exception") or None
            )
        except BadListing as exc:
            raise HTTPException(400, str(exc)) from None

    async def jobs(request: Request) -> Response:
        listed = await listing(request)
        return page(request, "jobs.html", listed=listed, notice=notice_of(request), names=board.names())

    async def api_jobs(request: Request) -> Response:
        return JSONResponse(await listing(request))

    async def workers(request: Request) -> Response:
        shown = [queue for queue in map(board.queue, board.names()) if queue is not None]
        return page(request, "workers.html", workers=await run_in_threadpool(listings.workers, shown))

    async def api_workers(request: Request) -> Response:
        shown = [queue for queue in map(board.queue, board.names()) if queue is not None]
        return JSONResponse({"workers": await run_in_threadpool(listings.workers, shown)})

    async def favicon(request: Request) -> Response:
        return Response((HERE / "static" / "favicon.svg").read_bytes(), media_type="image/svg+xml")

    async def job(request: Request) -> Response:
        job_id, name = request.query_params.get("id", "").strip(), request.query_params.get("queue")
        if not job_id:
            return RedirectResponse("/", status_code=303)
        try:
            if not name:
                name = await run_in_threadpool(board.find, job_id)
            view = None if name is None else await run_in_threadpool(board.job_view, name, job_id)
        except ConfigurationError:  # not a valid job id
            view = None
        if view is None or (view["status"] == "not_found" and not view["unreadable"]):
            return page(request, "missing.html", status_code=404, job_id=job_id, queue=name)
        queue = queue_or_404(name)
        view |= await run_in_threadpool(listings.about, queue, job_id, view)
        return page(request, "job.html", job=view, notice=notice_of(request))

    async def job_status(request: Request) -> Response:
        name, job_id = request.query_params.get("queue", ""), request.query_params.get("id", "")
        try:
            status = await run_in_threadpool(board.job_status, name, job_id)
        except ConfigurationError:
            status = None
        if status is None:
            raise HTTPException(404, "no such queue here")
        return JSONResponse({"status": status})

    async def checked_form(request: Request) -> dict[str, str]:
        """The POSTed form, once it has passed the CSRF check (else 403)."""
        fields = await form_of(request)
        if not security.same_origin(request) or not security.csrf_ok(request, fields, csrf):
            raise HTTPException(403, "refused: this form did not come from this dashboard (CSRF check)")
        return fields

    def back(fields: dict[str, str], **notice: Any) -> Response:
        return RedirectResponse(f"{security.safe_next(fields.get('next'))}{_joiner(fields.get('next'))}"
                                f"{urlencode(notice)}", status_code=303)  # fmt: skip

    def filtered(queue: Queue, kind: str, exception: str) -> list[tuple[Any, str]]:
        if kind != "failed":
            raise HTTPException(400, "only failed jobs are filtered by exception")
        now_ms = board.broker.clock(board.broker.fleet(queue.shards[0]))
        return listings.matching(queue, exception, now_ms)[0]

    async def requeue(request: Request) -> Response:
        fields = await checked_form(request)
        queue, kind = queue_or_404(fields.get("queue")), _kind(fields.get("kind"))
        ids = [fields["id"]] if fields.get("id") else None
        if ids is None and fields.get("exception"):
            ids = [job_id for _, job_id in await run_in_threadpool(filtered, queue, kind, fields["exception"])]
        try:
            count = await run_in_threadpool(queue.requeue, kind, ids)
        except ConfigurationError as exc:
            raise HTTPException(400, str(exc)) from None
        return back(fields, notice="requeued", count=count)

    async def purge(request: Request) -> Response:
        fields = await checked_form(request)
        queue, kind = queue_or_404(fields.get("queue")), _kind(fields.get("kind"))
        if fields.get("exception"):
            found = await run_in_threadpool(filtered, queue, kind, fields["exception"])
            by_shard: dict[Any, list[str]] = {}
            for keys, job_id in found:
                by_shard.setdefault(keys, []).append(job_id)
            count = 0
            for keys, ids in by_shard.items():
                count += await run_in_threadpool(board.broker.forget_jobs, keys, kind, ids)
        else:
            count = await run_in_threadpool(queue.purge, kind)
        return back(fields, notice="purged", count=count)

    async def cancel(request: Request) -> Response:
        fields = await checked_form(request)
        queue = queue_or_404(fields.get("queue"))
        try:
            cancelled = await run_in_threadpool(lambda: queue.job(fields.get("id", "")).cancel())
        except ConfigurationError as exc:
            raise HTTPException(400, str(exc)) from None
        return back(fields, notice="cancelled" if cancelled else "not-cancelled")

    async def login(request: Request) -> Response:
        if token is None:
            return RedirectResponse("/", status_code=303)
        target = security.safe_next(request.query_params.get("next"))
        if request.method == "GET":
            return page(request, "login.html", next=target, wrong=False)
        form = await form_of(request)
        given, target = form.get("token"), security.safe_next(form.get("next"))
        if not security.same_origin(request):
            raise HTTPException(403, "refused: this form did not come from this dashboard")
        if given is None or not hmac.compare_digest(given.encode(), token.encode()):
            return page(request, "login.html", status_code=401, next=target, wrong=True)
        response = RedirectResponse(target, status_code=303)
        security.set_session_cookie(response, request, token)
        return response

    async def metrics(request: Request) -> Response:
        try:
            from ..metrics import exposition
        except ImportError:
            raise HTTPException(404, "metrics need prometheus-client: pip install 'yotaq[metrics]'") from None
        body, content_type = await run_in_threadpool(exposition, board.broker, board.fixed)
        return Response(body, media_type=content_type)

    async def unavailable(request: Request, exc: Exception) -> Response:
        message = f"Redis cannot be read now: {exc}"
        if request.url.path.startswith("/api/"):
            return JSONResponse({"error": message}, status_code=503)
        return PlainTextResponse(message, status_code=503)

    async def http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        return PlainTextResponse(str(exc.detail), status_code=exc.status_code)

    app = Starlette(
        routes=[
            Route("/", index),
            Route("/api/overview", overview),
            Route("/api/job", job_status),
            Route("/charts/{name:str}.svg", chart),
            Route("/job", job),
            Route("/jobs", jobs),
            Route("/api/jobs", api_jobs),
            Route("/workers", workers),
            Route("/api/workers", api_workers),
            Route("/favicon.ico", favicon),
            Route("/actions/requeue", requeue, methods=["POST"]),
            Route("/actions/purge", purge, methods=["POST"]),
            Route("/actions/cancel", cancel, methods=["POST"]),
            Route("/login", login, methods=["GET", "POST"]),
            Route("/metrics", metrics),
            Mount("/static", StaticFiles(directory=HERE / "static"), name="static"),
        ],
        exception_handlers={YotaqError: unavailable, HTTPException: http_error},
    )
    app.add_middleware(security.Guard, token=token, csrf=csrf)
    return app


async def form_of(request: Request) -> dict[str, str]:
    """A small URL-encoded form (all these pages send), read without a multipart parser."""
    if request.headers.get("content-type", "").split(";")[0].strip() != "application/x-www-form-urlencoded":
        raise HTTPException(415, "send the form URL-encoded")
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_FORM_BYTES:
            raise HTTPException(413, "form too large")
    return dict(parse_qsl(body.decode(errors="replace"), keep_blank_values=True))


def _kind(kind: str | None) -> Any:
    if kind not in ("failed", "dead"):
        raise HTTPException(400, "kind must be failed or dead")
    return kind


def _joiner(target: str | None) -> str:
    return "&" if "?" in security.safe_next(target) else "?"
