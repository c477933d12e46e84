#!/bin/sh
# Creates Temporal's two PostgreSQL databases and brings their schemas to the
# version that ships with this admin-tools image. Every step is idempotent
# (create ignores an existing database, update-schema skips applied
# versions), so the one-shot service can run on every `docker compose up`.
# Connection: SQL_PLUGIN, SQL_HOST, SQL_PORT, SQL_USER, SQL_PASSWORD.
set -eu

schema=/etc/temporal/schema/postgresql/v12
echo "waiting for PostgreSQL at ${SQL_HOST}:${SQL_PORT}"
i=0
until nc -z "$SQL_HOST" "$SQL_PORT"; do
  i=$((i + 1))
  [ "$i" -lt 60 ] || { echo "PostgreSQL did not come up"; exit 1; }
  sleep 1
done

for db in "${TEMPORAL_DB:-temporal}:temporal" "${TEMPORAL_VISIBILITY_DB:-temporal_visibility}:visibility"; do
  name=${db%%:*}
  kind=${db##*:}
  echo "database $name ($kind)"
  temporal-sql-tool --db "$name" create-database
  temporal-sql-tool --db "$name" setup-schema -v 0.0
  temporal-sql-tool --db "$name" update-schema -d "$schema/$kind/versioned"
done
echo "Temporal schema is up to date"
