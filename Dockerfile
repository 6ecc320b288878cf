# The image every Airflow service of docker-compose.yml runs: Airflow 3.3 with this project's
# pinned dependencies (requirements.lock) and the package installed (plugins/ and the sample generator
# in src/, which the services never import). dags/, plugins/, expectations/,
# sql/ and reference/ are mounted at run time, so code changes need no rebuild.
FROM apache/airflow:3.3.2-python3.11

USER airflow
COPY --chown=airflow:root requirements.lock /opt/alliance/requirements.lock
COPY --chown=airflow:root pyproject.toml README.md /opt/alliance/
COPY --chown=airflow:root plugins/ /opt/alliance/plugins/
COPY --chown=airflow:root src/ /opt/alliance/src/
RUN pip install --no-cache-dir -r /opt/alliance/requirements.lock \
 && pip install --no-cache-dir --no-deps -e /opt/alliance
