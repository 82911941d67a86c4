# syntax=docker/dockerfile:1
# One image for every service; the service is the argument (see deploy/compose/entrypoint.sh):
#   docker build -t lingshui/social-assistance .
#   docker run lingshui/social-assistance review
# Settings come from the environment (<SVC>_…, see shared/settings.py); nothing secret is
# baked in: keys arrive as mounted files, the database URL as a secret.

ARG PYTHON_IMAGE=python:3.11-slim-bookworm

FROM ${PYTHON_IMAGE} AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
WORKDIR /src
# Dependencies first, so a code change does not re-download them: exactly the hashed lock
# (requirements/lock.sh). base.txt has no extras; LOCK=requirements/full.txt adds archive's S3
# document store and statistics charts (the `s3` and `charts` extras).
ARG LOCK=requirements/base.txt
COPY requirements ./requirements
RUN pip install --require-hashes --no-deps -r "${LOCK}"
COPY shared ./shared
COPY services ./services
COPY deploy/__init__.py deploy/gateway.py deploy/local.py deploy/cli.py ./deploy/
COPY pyproject.toml README.md ./
RUN pip install --no-deps . && python -c "import services, shared, deploy.gateway, deploy.cli"

FROM ${PYTHON_IMAGE}
LABEL org.opencontainers.image.title="lingshui-social-assistance" \
      org.opencontainers.image.description="Lingshui county social assistance (审核确认) services"
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    TZ=Asia/Shanghai
# A fixed, unprivileged uid: Kubernetes runAsNonRoot and the key files' ownership rely on it.
RUN groupadd --system --gid 10001 lingshui \
 && useradd --system --uid 10001 --gid 10001 --home-dir /var/lib/lingshui --create-home lingshui \
 && install -d -o 10001 -g 10001 -m 0750 /var/lib/lingshui/documents
COPY --from=build /opt/venv /opt/venv
COPY deploy/compose/entrypoint.sh /usr/local/bin/lingshui
WORKDIR /var/lib/lingshui
USER 10001:10001
EXPOSE 8080
ENTRYPOINT ["/usr/local/bin/lingshui"]
CMD ["intake"]
