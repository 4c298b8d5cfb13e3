"""A FastAPI app that enqueues tasks and reads their results without ever blocking its event loop.

Run it with a worker beside it: `python -m yotaq worker` and `uvicorn docs_src.guide.fastapi_app:app`.
"""

import asyncio
import contextlib
import os
from collections.abc import AsyncIterator

from fastapi import FastAPI, HTTPException

import yotaq

REDIS_URL = os.environ.get("YOTAQ_REDIS_URL", "redis://localhost:6379/0")


async def make_thumbnail(image: str, size: int) -> str:
    await asyncio.sleep(0.1)  # fetch the image, resize it, store it ...
    return f"{image}?size={size}"


@contextlib.asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    async with yotaq.AsyncQueue.from_url(REDIS_URL) as queue:  # one queue and its connections for the app
        app.state.queue = queue
        yield


app = FastAPI(lifespan=lifespan)


@app.post("/thumbnails", status_code=202)
async def request_thumbnail(image: str, size: int = 128) -> dict[str, str]:
    job = await app.state.queue.options(retries=2, timeout=30).enqueue(make_thumbnail, image, size)
    return {"job": job.id}


@app.get("/thumbnails/{job_id}")
async def thumbnail(job_id: str, wait: float = 0) -> dict[str, str]:
    try:
        job = app.state.queue.job(job_id)
    except yotaq.ConfigurationError:  # not even a job id
        raise HTTPException(404, f"no job {job_id}") from None
    if wait:  # wait in Redis up to `wait` seconds: the event loop serves other requests meanwhile
        with contextlib.suppress(yotaq.ResultTimeout, yotaq.JobFailed):
            await job.result(timeout=min(wait, 30))
    status = await job.status()
    if status is yotaq.Status.NOT_FOUND:
        raise HTTPException(404, f"no job {job_id}")
    if status is yotaq.Status.DONE:
        return {"job": job_id, "status": status, "thumbnail": await job.result()}
    return {"job": job_id, "status": status}
