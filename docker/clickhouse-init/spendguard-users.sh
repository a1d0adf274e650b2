#!/bin/bash
# Creates SpendGuard's admin, writer and reader users from sql/access/users.sql, with passwords
# from the environment. The ClickHouse image runs this once, on an empty data volume, from
# /docker-entrypoint-initdb.d.
set -euo pipefail

sql_string() {
  # A value inside a single-quoted SQL string: backslashes and quotes escaped.
  printf '%s' "$1" | sed -e 's/\\/\\\\/g' -e "s/'/\\\\'/g"
}

for name in SPENDGUARD_ADMIN_PASSWORD SPENDGUARD_WRITER_PASSWORD SPENDGUARD_READER_PASSWORD; do
  if [ -z "${!name:-}" ]; then
    echo "spendguard-users: $name is not set" >&2
    exit 1
  fi
done

sed -e "s|__SPENDGUARD_ADMIN_PASSWORD__|$(sql_string "$SPENDGUARD_ADMIN_PASSWORD" | sed 's/[\\&|]/\\&/g')|" \
  -e "s|__SPENDGUARD_WRITER_PASSWORD__|$(sql_string "$SPENDGUARD_WRITER_PASSWORD" | sed 's/[\\&|]/\\&/g')|" \
  -e "s|__SPENDGUARD_READER_PASSWORD__|$(sql_string "$SPENDGUARD_READER_PASSWORD" | sed 's/[\\&|]/\\&/g')|" \
  "${SPENDGUARD_USERS_SQL:-/spendguard/access/users.sql}" |
  clickhouse client --user "${CLICKHOUSE_USER:-default}" --password "${CLICKHOUSE_PASSWORD:-}" --multiquery
