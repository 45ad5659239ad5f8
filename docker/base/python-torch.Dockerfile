# The python base plus Debian's CPU build of PyTorch and NumPy, so the model
# image needs no multi-gigabyte wheel download. A venv created with
# --system-site-packages sees them.
ARG BASE_IMAGE=ragstack-local/python:latest
FROM ${BASE_IMAGE}

RUN apt-get update \
    && apt-get install -y --no-install-recommends python3-torch python3-numpy \
    && rm -rf /var/lib/apt/lists/*
