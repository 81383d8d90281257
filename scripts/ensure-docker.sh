#!/usr/bin/env bash
# Makes sure a Docker engine answers and docker compose v2 is installed; on a fresh
# machine it starts the engine and builds compose v2 from its Go module (the only
# registry this project's machines reach is the Go module proxy).
set -euo pipefail
COMPOSE_VERSION=${COMPOSE_VERSION:-v2.40.3}

if ! command -v docker >/dev/null 2>&1; then
  echo "docker is not installed: install Docker Engine (apt-get install docker.io) or Docker Desktop" >&2
  exit 1
fi

if ! docker version --format '{{.Server.Version}}' >/dev/null 2>&1; then
  echo "The Docker daemon does not answer; starting it..."
  if command -v systemctl >/dev/null 2>&1 && systemctl start docker 2>/dev/null; then :
  elif command -v service >/dev/null 2>&1 && service docker start >/dev/null 2>&1; then :
  else
    (nohup dockerd >/tmp/dockerd.log 2>&1 &)
  fi
  for _ in $(seq 1 60); do
    docker version --format '{{.Server.Version}}' >/dev/null 2>&1 && break
    sleep 1
  done
  docker version --format '{{.Server.Version}}' >/dev/null 2>&1 || { echo "Docker did not start (see /tmp/dockerd.log)" >&2; exit 1; }
fi

if ! docker compose version >/dev/null 2>&1; then
  echo "docker compose v2 is missing; building $COMPOSE_VERSION from its Go module (a few minutes)..."
  src=$(go mod download -json "github.com/docker/compose/v2@$COMPOSE_VERSION" | sed -n 's/^\t"Dir": "\(.*\)",$/\1/p')
  [ -n "$src" ] || { echo "could not download github.com/docker/compose/v2@$COMPOSE_VERSION" >&2; exit 1; }
  out=$(mktemp -d)
  (cd "$src" && CGO_ENABLED=0 go build -trimpath -ldflags "-s -w -X github.com/docker/compose/v2/internal.Version=$COMPOSE_VERSION" -o "$out/docker-compose" ./cmd)
  # ~/.docker/cli-plugins is where the docker CLI looks for the user; the system
  # directory keeps it found when HOME points elsewhere (as in the test suites).
  for d in "$HOME/.docker/cli-plugins" /usr/local/lib/docker/cli-plugins; do
    mkdir -p "$d" 2>/dev/null && cp "$out/docker-compose" "$d/docker-compose" 2>/dev/null && chmod +x "$d/docker-compose" || true
  done
  rm -rf "$out"
  docker compose version
fi
