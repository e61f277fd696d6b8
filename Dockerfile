# One image for every v6 service; the compose file picks the command.
FROM python:3.11-slim
WORKDIR /app
ENV PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1
COPY pyproject.toml README.md ./
COPY shared ./shared
COPY services ./services
COPY desk ./desk
RUN pip install .
# Tables and JetStream data live on a volume, never in the image; a fresh volume takes this
# folder's owner and mode: the services' user alone may enter it
ENV V6_DATA_ROOT=/data
RUN mkdir -m 0700 /data && chown 1000:1000 /data
VOLUME ["/data"]
USER 1000:1000
CMD ["v6", "--help"]
