#!/usr/bin/env bash
# Installs the Debian packages the project needs, only those missing. Sourced or run by the other
# scripts; works as root or through sudo. Usage: scripts/deps.sh [extra-package...]
set -euo pipefail

packages=(
  build-essential cmake ninja-build pkg-config
  libpaho-mqttpp-dev libpaho-mqtt-dev libcurl4-openssl-dev libmbedtls-dev nlohmann-json3-dev
  libgtest-dev libgmock-dev clang-format gcovr
  mosquitto mosquitto-clients nginx-light openssl curl
  libsqlite3-dev libpq-dev libcpp-httplib-dev libssl-dev postgresql
  "$@"
)

missing=()
for p in "${packages[@]}"; do
  # A package is present when dpkg reports it installed (status "install ok installed").
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi

if [ "$(id -u)" -eq 0 ]; then
  sudo=()
elif command -v sudo >/dev/null 2>&1; then
  sudo=(sudo)
else
  echo "deps.sh: need root or sudo to install: ${missing[*]}" >&2
  exit 1
fi

echo "deps.sh: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" apt-get update -qq
"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
