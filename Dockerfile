# The image docker-compose.yml runs worker.py and client.py in.
FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml README.md ./
COPY yotaq ./yotaq
RUN pip install --no-cache-dir .
COPY client.py worker.py ./
CMD ["python", "worker.py"]
