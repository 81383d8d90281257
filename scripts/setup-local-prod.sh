#!/usr/bin/env bash
# Sets up local-prod on this machine: checks the tools, explains the 1Password item,
# clones the repository to a path of your choice, registers the clone as local-prod,
# offers to initialise shared data and to start it.
#
#   scripts/setup-local-prod.sh [--path=P] [--repo=URL] [--check-only] [--non-interactive] [--help]
set -euo pipefail

DEFAULT_PATH="$HOME/Documents/dev/ktrdr-prod"
ITEM="ktrdr-local-prod"
path="" repo="" check_only=0 interactive=1
here=$(cd "$(dirname "$0")/.." && pwd)
# How the targets are run; a repository without `go tool mage` (or a test) can override it.
read -r -a MAGE <<<"${SANDBOX_MAGE:-go tool mage}"

usage() {
  cat <<USAGE
Usage: setup-local-prod.sh [options]

Options:
  --path=P            where to clone local-prod (default: $DEFAULT_PATH)
  --repo=URL          repository to clone (default: this checkout's origin, or this checkout)
  --check-only        check prerequisites and stop
  --non-interactive   never ask: use defaults, skip optional steps
  --help              show this help
USAGE
}

for arg in "$@"; do
  case "$arg" in
    --path=*) path=${arg#--path=} ;;
    --repo=*) repo=${arg#--repo=} ;;
    --check-only) check_only=1 ;;
    --non-interactive) interactive=0 ;;
    --help|-h) usage; exit 0 ;;
    *) echo "Error: unknown option: $arg" >&2; usage >&2; exit 1 ;;
  esac
done
[ -t 0 ] || interactive=0

ok()   { printf '  ✓ %s\n' "$*"; }
bad()  { printf '  ✗ %s\n' "$*"; }
note() { printf '  ○ %s\n' "$*"; }
ask() { # ask QUESTION DEFAULT -> REPLY
  if [ "$interactive" = 1 ]; then read -r -p "$1 [$2] " REPLY; REPLY=${REPLY:-$2}; else REPLY=$2; fi
}

echo "=== Local-prod setup ==="
echo
echo "Checking prerequisites..."
missing=0
if command -v git >/dev/null 2>&1; then ok "git: $(git --version)"; else bad "git not found: install git"; missing=1; fi
if command -v go >/dev/null 2>&1; then ok "go: $(go version | cut -d' ' -f3)"; else bad "go not found: install Go (https://go.dev/doc/install)"; missing=1; fi
if command -v docker >/dev/null 2>&1; then
  if docker version --format '{{.Server.Version}}' >/dev/null 2>&1; then
    ok "docker: engine $(docker version --format '{{.Server.Version}}')"
  else
    bad "docker is installed but the daemon does not answer: start Docker"; missing=1
  fi
  if docker compose version >/dev/null 2>&1; then ok "docker compose: $(docker compose version --short)"
  else bad "docker compose v2 missing: scripts/ensure-docker.sh builds it"; missing=1; fi
else
  bad "docker not found: install Docker Engine or Docker Desktop"; missing=1
fi
op_ready=0
if command -v op >/dev/null 2>&1; then
  if op whoami >/dev/null 2>&1; then ok "op: signed in"; op_ready=1
  else note "op installed but not signed in: run 'eval \$(op signin)' before localProd:up"; fi
else
  note "op (1Password CLI) not found: local-prod needs it for secrets, or start with -noSecrets"
fi

echo
echo "1Password: local-prod reads the item '$ITEM' (fields of type password/concealed):"
echo "    db_password        -> DB_PASSWORD"
echo "    jwt_secret         -> JWT_SECRET"
echo "    anthropic_api_key  -> ANTHROPIC_API_KEY"
echo "    grafana_password   -> GF_ADMIN_PASSWORD"
echo "  Create it with: op item create --category=login --title=$ITEM 'db_password[password]=...' 'jwt_secret[password]=...' ..."
echo

if [ "$missing" = 1 ]; then
  echo "Error: prerequisites missing (see ✗ above)" >&2
  exit 1
fi
if [ "$check_only" = 1 ]; then
  echo "Prerequisites OK (--check-only: nothing else done)."
  exit 0
fi

if [ -z "$path" ]; then ask "Clone local-prod to" "$DEFAULT_PATH"; path=$REPLY; fi
case "$path" in "~"*) path="$HOME${path#\~}" ;; esac
if [ -e "$path" ]; then
  echo "Error: $path already exists; choose another --path (nothing was changed)" >&2
  exit 1
fi
if [ -z "$repo" ]; then
  repo=$(git -C "$here" remote get-url origin 2>/dev/null || echo "$here")
fi

echo "Cloning $repo to $path..."
mkdir -p "$(dirname "$path")"
git clone -q "$repo" "$path"
cd "$path"
echo "Registering the clone as local-prod..."
"${MAGE[@]}" localProd:init

echo
ask "Initialise shared data now? (minimal / from PATH / skip)" "skip"
case "$REPLY" in
  minimal) "${MAGE[@]}" sandbox:initShared -minimal ;;
  skip|"") note "skipped: later run go tool mage sandbox:initShared -minimal (or -from=PATH)" ;;
  *) "${MAGE[@]}" sandbox:initShared -from="$REPLY" ;;
esac

ask "Start local-prod now? (y/n)" "n"
if [ "$REPLY" = y ] || [ "$REPLY" = Y ]; then
  if [ "$op_ready" = 1 ]; then "${MAGE[@]}" localProd:up; else "${MAGE[@]}" localProd:up -noSecrets; fi
fi

echo
echo "=== Done ==="
echo "Local-prod lives at $path. From any directory:"
echo "  go tool mage localProd:up       # start (secrets from 1Password)"
echo "  go tool mage localProd:status   # health and URLs"
echo "  go tool mage localProd:down     # stop"
echo "See docs/LOCAL_PROD_SETUP.md."
