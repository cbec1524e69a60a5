#!/usr/bin/env bash
# Makes sure the services the tests talk to are running on this machine: PostgreSQL on
# 127.0.0.1:5432 (trust auth). Installs it from Debian's packages when it is missing and we
# are root. Idempotent; prints what it did.
set -uo pipefail

pg_up() { pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null; }

if command -v pg_isready >/dev/null && pg_up; then
  exit 0
fi
if ! command -v pg_ctlcluster >/dev/null; then
  if [[ $(id -u) -eq 0 ]] && command -v apt-get >/dev/null; then
    echo "ensure-services: installing PostgreSQL from Debian's packages"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
  else
    echo "ensure-services: PostgreSQL is not installed and cannot be installed here" >&2
    exit 0  # the PostgreSQL tests say so themselves (and fail in CI)
  fi
fi
version=$(ls /etc/postgresql 2>/dev/null | sort -V | tail -n 1)
if [[ -n $version ]]; then
  echo "ensure-services: starting PostgreSQL $version"
  conf=/etc/postgresql/$version/main/pg_hba.conf
  # the tests connect as postgres over TCP without a password (trust, loopback only)
  if [[ -w $conf ]] && ! grep -qE '^host\s+all\s+all\s+127\.0\.0\.1/32\s+trust' "$conf"; then
    sed -i '1i host all all 127.0.0.1/32 trust\nhost all all ::1/128 trust' "$conf"
  fi
  pg_ctlcluster --skip-systemctl-redirect "$version" main start 2>/dev/null \
    || pg_ctlcluster --skip-systemctl-redirect "$version" main reload 2>/dev/null || true
  for _ in $(seq 1 30); do pg_up && exit 0; sleep 1; done
  echo "ensure-services: PostgreSQL did not come up on 127.0.0.1:5432" >&2
fi
exit 0
