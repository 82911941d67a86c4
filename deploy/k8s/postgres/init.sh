#!/bin/sh
# PostgreSQL first-start script (official image: /docker-entrypoint-initdb.d/; Kubernetes
# mounts the identical copy deploy/k8s/postgres/init.sh). One login role and one database
# per service, owned by that role, closed to everyone else: a service never reads another
# service's tables (docs/architecture.md), and the database enforces it.
#
#   LINGSHUI_SERVICES                    space-separated service names
#   LINGSHUI_<SERVICE>_DB_PASSWORD       that service's password (required, per service)
#   POSTGRES_USER, POSTGRES_DB           the superuser session the image provides
#
# Idempotent: run it again (e.g. `psql` from an operator shell with the same variables)
# after adding a service; existing roles and databases are left as they are.
set -eu
: "${LINGSHUI_SERVICES:?space-separated service names}"
for service in $LINGSHUI_SERVICES; do
  var="LINGSHUI_$(echo "$service" | tr '[:lower:]' '[:upper:]')_DB_PASSWORD"
  password="$(printenv "$var" || true)"
  if [ -z "$password" ]; then
    echo "postgres-init: $var is not set; refusing to create $service without a password" >&2
    exit 1
  fi
  # psql variables (:'x' literal, :"x" identifier) quote the values, so nothing is spliced.
  psql -v ON_ERROR_STOP=1 -X -q --username "${POSTGRES_USER:-postgres}" \
       --dbname "${POSTGRES_DB:-postgres}" -v name="$service" -v password="$password" <<'SQL'
SELECT format('CREATE ROLE %I LOGIN PASSWORD %L', :'name', :'password')
 WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = :'name') \gexec
SELECT format('CREATE DATABASE %I OWNER %I ENCODING %L TEMPLATE template0', :'name', :'name', 'UTF8')
 WHERE NOT EXISTS (SELECT 1 FROM pg_database WHERE datname = :'name') \gexec
SELECT format('REVOKE ALL ON DATABASE %I FROM PUBLIC', :'name') \gexec
SELECT format('GRANT ALL ON DATABASE %I TO %I', :'name', :'name') \gexec
SQL
  echo "postgres-init: database and role '$service' ready"
done
