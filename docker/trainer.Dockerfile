# fmnist trainer with a CUDA build of torch. Everything is installed at build time, so a
# container starts without network access.
FROM python:3.11-slim-bookworm
# PyPI's Linux x86_64 torch wheels are CUDA builds and pull the CUDA libraries as packages;
# the host needs only the NVIDIA driver and container toolkit. Set TORCH_INDEX_URL to a
# PyTorch index such as https://download.pytorch.org/whl/cu128 for another CUDA version.
ARG TORCH_VERSION=2.13.0
ARG TORCH_INDEX_URL=https://pypi.org/simple
RUN pip install --no-cache-dir --index-url "${TORCH_INDEX_URL}" "torch==${TORCH_VERSION}"

WORKDIR /opt/fmnist
COPY pyproject.toml README.md ./
COPY fmnist ./fmnist
COPY hydra_plugins ./hydra_plugins
COPY conf ./conf
# torch is already at the version pyproject.toml pins, so pip keeps the CUDA build.
RUN pip install --no-cache-dir ".[postgres]" \
    && useradd --create-home --uid 1000 fmnist \
    && mkdir -p /cache /work && chown fmnist /cache /work

USER fmnist
# The data and the compute cache live in the /cache volume: ~/.cache/fmnist resolves to
# /cache/fmnist, where the first job downloads the data set once.
ENV XDG_CACHE_HOME=/cache \
    PYTHONUNBUFFERED=1
WORKDIR /work
ENTRYPOINT ["python", "-m", "fmnist.train"]
