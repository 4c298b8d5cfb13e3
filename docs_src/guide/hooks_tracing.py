"""Trace every task with OpenTelemetry: a hook opens a span before each task and ends it after."""

import os

from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

import yotaq

exporter = InMemorySpanExporter()  # in production, an OTLP exporter to your collector
provider = TracerProvider()
provider.add_span_processor(SimpleSpanProcessor(exporter))
trace.set_tracer_provider(provider)
tracer = trace.get_tracer("yotaq")


class Tracing(yotaq.Hook):
    """One span per task, with its id, queue, try and outcome."""

    def __init__(self):
        self.spans = {}

    def before_task(self, job):
        attributes = {"job.id": job.id, "job.queue": job.queue, "job.attempt": job.attempt}
        self.spans[job.id] = tracer.start_span("yotaq.task", attributes=attributes)

    def after_task(self, job, outcome, error, seconds):
        span = self.spans.pop(job.id)
        span.set_attribute("job.outcome", outcome)
        if error is not None:
            span.record_exception(error)
            span.set_status(trace.Status(trace.StatusCode.ERROR))
        span.end()


redis = yotaq.connect(os.environ.get("YOTAQ_REDIS_URL", "redis://localhost:6379/0"))
queue = yotaq.Queue(redis, "traced")
queue.enqueue(divmod, 7, 2)
queue.enqueue(int, "x")
yotaq.Worker(redis, ["traced"], hooks=[Tracing()], burst=True).run()

for span in exporter.get_finished_spans():
    print(span.name, span.attributes["job.outcome"], span.status.status_code.name)
