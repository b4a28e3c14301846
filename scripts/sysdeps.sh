#!/usr/bin/env bash
# System packages the project needs (Debian): PDF rendering; for tests pdftotext, the PostgreSQL server and Chromium.
# Installs only what is missing, and only when it can (root with apt-get); otherwise it says what to install.
set -euo pipefail
want=(poppler-utils fonts-dejavu-core libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0)
if [[ "${1:-}" == "--test" ]]; then
  command -v initdb >/dev/null 2>&1 || ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || want+=(postgresql)
  want+=(chromium)
fi
missing=()
for pkg in "${want[@]}"; do
  dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
done
((${#missing[@]})) || exit 0
if [[ $(id -u) -eq 0 ]] && command -v apt-get >/dev/null 2>&1; then
  echo "installing system packages: ${missing[*]}"
  apt-get update -qq >/dev/null
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
else
  echo "please install these system packages: ${missing[*]}" >&2
fi
