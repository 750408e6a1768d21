# MLflow tracking server with the PostgreSQL driver, which the official MLflow image lacks.
# The version matches the client in the trainer image, so client and server agree.
FROM python:3.11-slim-bookworm
ARG MLFLOW_VERSION=3.17.2
RUN pip install --no-cache-dir "mlflow==${MLFLOW_VERSION}" "psycopg2-binary==2.9.13" \
    && useradd --create-home --uid 1000 mlflow \
    && mkdir /mlartifacts && chown mlflow /mlartifacts
USER mlflow
WORKDIR /home/mlflow
EXPOSE 5000
