# Debian 13's Node.js 20 and npm.
ARG BASE_IMAGE=ragstack-local/debian13-minbase:latest
FROM ${BASE_IMAGE}

RUN apt-get update \
    && apt-get install -y --no-install-recommends nodejs npm ca-certificates \
    && rm -rf /var/lib/apt/lists/*

CMD ["node"]
