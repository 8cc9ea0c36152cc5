# The image deploy/k8s/ runs (`loan-actors`, deploy/k8s/kustomization.yaml names the registry):
# one image for every process, chosen by its arguments: `edge`, `worker users|loans|servicing`,
# `migrate`. Build from the repository's root:
#   docker build -t registry.example.com/loan-actors:0.1.0 .
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /src
COPY pyproject.toml README.md ./
COPY actors ./actors
COPY edge ./edge
COPY ops ./ops
COPY otel ./otel
# A regular (not editable) install: the sources are not needed once it is done.
RUN pip install . && rm -rf /src

# The migrations are plain SQL files read at run time by `loans migrate`, outside the package.
COPY db /app/db
RUN useradd --system --user-group --uid 10001 --home-dir /app --no-create-home \
        --shell /usr/sbin/nologin loans
# /tmp is the only place a pod with a read-only root file system writes (an emptyDir there).
ENV LOANS_MIGRATIONS_DIR=/app/db \
    LOANS_DATA_DIR=/tmp/loans

WORKDIR /app
# Numeric, so Kubernetes' runAsNonRoot can tell it is not root without reading /etc/passwd.
USER 10001:10001
EXPOSE 8000 9100
ENTRYPOINT ["loans"]
CMD ["--help"]
