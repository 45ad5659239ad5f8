# Debian 13's NGINX and openssl, for `make demo`: it serves the static UI over
# HTTPS with a throwaway self-signed certificate, as the nginx_tls role does on
# a host, and proxies /api/ to the orchestrator.
ARG BASE_IMAGE=ragstack-local/debian13-minbase:latest
FROM ${BASE_IMAGE}

RUN apt-get update \
    && apt-get install -y --no-install-recommends nginx openssl \
    && rm -rf /var/lib/apt/lists/* /etc/nginx/sites-enabled/default \
    && ln -sf /dev/stdout /var/log/nginx/access.log \
    && ln -sf /dev/stderr /var/log/nginx/error.log

STOPSIGNAL SIGQUIT
CMD ["nginx", "-g", "daemon off;"]
