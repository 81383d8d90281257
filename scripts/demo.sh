#!/usr/bin/env bash
# The main job on the demo stack: create a sandbox beside this repository, bring it up
# (building the demo images on first use), and show it healthy with its URLs.
#   scripts/demo.sh           create (or reuse) sandbox "demo", up, status
#   scripts/demo.sh --clean   destroy it again
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)
name=${DEMO_NAME:-demo}
dir="$(dirname "$repo")/ktrdr--$name"

if [ "${1:-}" = "--clean" ]; then
  [ -d "$dir" ] || { echo "No demo sandbox at $dir"; exit 0; }
  cd "$dir" && exec go tool mage sandbox:destroy -force -discardChanges
fi

./scripts/ensure-docker.sh
if [ ! -d "$HOME/.ktrdr/shared/data" ]; then
  go tool mage sandbox:initShared -minimal
fi
if [ ! -f "$dir/.env.sandbox" ]; then
  go tool mage sandbox:create "$name"
fi
cd "$dir"
go tool mage sandbox:up -noSecrets -build
go tool mage sandbox:status
echo
echo "Try: curl -s http://localhost:$(grep '^KTRDR_API_PORT=' .env.sandbox | cut -d= -f2)/api/v1/workers"
echo "Remove it with: make demo-clean"
