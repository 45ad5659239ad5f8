# Docker Compose v2 (Debian 13's 2.26) and the docker CLI, to drive the host's
# engine through its socket. For hosts whose docker CLI lacks the compose
# plugin (Debian 12's docker.io does, and its docker-compose package is v1).
ARG BASE_IMAGE=ragstack-local/debian13-minbase:latest
FROM ${BASE_IMAGE}

RUN apt-get update \
    && apt-get install -y --no-install-recommends docker-cli docker-compose \
    && rm -rf /var/lib/apt/lists/*

ENTRYPOINT ["docker", "compose"]
