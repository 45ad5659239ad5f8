# The python base plus Debian's CPU build of PyTorch and NumPy, so the model
# image needs no multi-gigabyte wheel download. A venv created with
# --system-site-packages sees them.
ARG BASE_IMAGE=ragstack-local/python:latest
FROM ${BASE_IMAGE}

# Debian's torch links the generic libblas.so.3; without recommends that is the
# reference BLAS, about 10x slower on the model's matmuls. OpenBLAS takes over
# the alternative when installed.
RUN apt-get update \
    && apt-get install -y --no-install-recommends python3-torch python3-numpy libopenblas0-pthread \
    && rm -rf /var/lib/apt/lists/* \
    && readlink -f /usr/lib/*/libblas.so.3 | grep -q openblas
