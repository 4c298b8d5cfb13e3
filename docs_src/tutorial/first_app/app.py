"""A small web app that hands its slow work to yotaq's workers, on the standard library alone.

POST /invoices/NUMBER  {"customer": ..., "lines": [[item, quantity, cents], ...]}: enqueued, answers 202
GET  /invoices/NUMBER  the job's status, and the invoice once rendered (or why it failed); ?wait=S waits

Run it from its own directory, beside a worker started there too: `python -m yotaq worker --queue invoices`.
"""

import json
import os
import re
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from invoices import render_invoice

import yotaq

queue = yotaq.Queue(yotaq.connect(os.environ.get("YOTAQ_REDIS_URL", "redis://localhost:6379/0")), "invoices")
ADDRESS = ("127.0.0.1", int(os.environ.get("PORT", "8000")))
INVOICE = re.compile(r"/invoices/(\d{1,9})(?:\?wait=(\d{1,2}))?")


class Handler(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        if not (found := INVOICE.fullmatch(self.path)):
            return self.reply(HTTPStatus.NOT_FOUND, {"error": "no such page"})
        body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", "0"))) or "{}")
        # the invoice's number is the job's id: a client that posts it twice gets the one job
        job = queue.options(job_id=f"invoice-{found[1]}", timeout=30).enqueue(
            render_invoice, int(found[1]), body["customer"], body["lines"]
        )
        self.reply(HTTPStatus.ACCEPTED, {"job": job.id})

    def do_GET(self) -> None:
        if not (found := INVOICE.fullmatch(self.path)):
            return self.reply(HTTPStatus.NOT_FOUND, {"error": "no such page"})
        job = queue.job(f"invoice-{found[1]}")
        outcome = {}
        try:
            outcome["invoice"] = job.result(timeout=int(found[2] or 0))  # waits in Redis, ?wait= seconds at most
        except yotaq.ResultTimeout:
            pass  # not finished: its status says where it is
        except yotaq.JobFailed as failure:
            outcome["error"] = f"{failure.type}: {failure.message}"
        if (status := job.status) is yotaq.Status.NOT_FOUND:
            return self.reply(HTTPStatus.NOT_FOUND, {"error": f"no invoice {found[1]}"})
        self.reply(HTTPStatus.OK, {"job": job.id, "status": status, **outcome})

    def reply(self, status: HTTPStatus, body: dict) -> None:
        data = json.dumps(body).encode() + b"\n"
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


if __name__ == "__main__":
    print(f"invoices app on http://{ADDRESS[0]}:{ADDRESS[1]}/", flush=True)
    ThreadingHTTPServer(ADDRESS, Handler).serve_forever()
