# Debian 13's Python 3.13 with venv and pip; service images create their own
# venv (Debian marks the system Python as externally managed, PEP 668).
ARG BASE_IMAGE=ragstack-local/debian13-minbase:latest
FROM ${BASE_IMAGE}

RUN apt-get update \
    && apt-get install -y --no-install-recommends python3 python3-venv python3-pip ca-certificates \
    && rm -rf /var/lib/apt/lists/*

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1
CMD ["python3"]
