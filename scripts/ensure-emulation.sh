#!/usr/bin/env bash
# Makes this Linux machine run arm64 binaries (and so linux/arm64 containers) through
# QEMU user emulation, for the cross-platform suite: Debian's qemu-user-static and
# binfmt-support, binfmt_misc mounted, the qemu-aarch64 entry enabled. Needs root.
# Docker Desktop on a Mac does this itself (Rosetta or QEMU); nothing to run there.
set -euo pipefail
entry=/proc/sys/fs/binfmt_misc/qemu-aarch64
if [ -f "$entry" ] && head -1 "$entry" | grep -q enabled; then
  exit 0
fi
if [ ! -x /usr/bin/qemu-aarch64-static ] || ! command -v update-binfmts >/dev/null 2>&1; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y -q qemu-user-static binfmt-support >/dev/null 2>&1 ||
    { apt-get update -q >/dev/null && apt-get install -y -q qemu-user-static binfmt-support >/dev/null; }
fi
if [ ! -f /proc/sys/fs/binfmt_misc/register ]; then
  mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc
fi
# The F flag (qemu-user-static's entries have it) opens the interpreter now, so
# containers, which do not have it in their filesystem, can use it.
update-binfmts --enable qemu-aarch64 >/dev/null 2>&1 || true
if ! head -1 "$entry" 2>/dev/null | grep -q enabled; then
  echo "arm64 emulation could not be enabled (see update-binfmts --display qemu-aarch64)" >&2
  exit 1
fi
echo "arm64 emulation: $(tr '\n' ' ' < "$entry" | cut -c1-80)"
