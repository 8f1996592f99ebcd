# strikewire in a container: `docker build -t strikewire .`
# `docker run -v $PWD/data:/data -e TELEGRAM_TOKEN=… strikewire` with
# /data/config.yaml, /data/updates/ and the SQLite file (or a postgresql:// URL).
FROM python:3.11-slim

RUN useradd --create-home --uid 10001 strikewire
WORKDIR /app
COPY pyproject.toml README.md ./
COPY bot ./bot
RUN pip install --no-cache-dir . && rm -rf /root/.cache

USER strikewire
WORKDIR /data
ENV STRIKEWIRE_CONFIG=/data/config.yaml
STOPSIGNAL SIGTERM
ENTRYPOINT ["strikewire"]
CMD ["run"]
