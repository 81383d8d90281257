#!/usr/bin/env bash
# A second machine on this one, for the remote-engine tests: a network namespace joined
# to this host by a veth pair (10.200.0.1 here, 10.200.0.2 there) holding its own dockerd
# and sshd. It runs in a private mount namespace where /tmp, /root, /work and /run are
# empty tmpfs, so a path the tool has not synced there really is missing or empty
# there, as on a real remote host.
#
#   scripts/remote-testbed.sh up      start it (idempotent); prints the engine to use
#   scripts/remote-testbed.sh down    stop it and remove everything it made
#   scripts/remote-testbed.sh status  exit 0 when it answers over SSH
#
# Reach it as ssh://root@10.200.0.2 (or the host alias sandbox-testbed): a client config
# in /etc/ssh/ssh_config.d names the test key. Traffic stays on the veth pair.
set -euo pipefail

NS=sbx-testbed
HOST_IF=sbxtb0 REMOTE_IF=sbxtb1
HOST_IP=10.200.0.1 REMOTE_IP=10.200.0.2
STATE=/var/lib/sandbox-testbed
CLIENT_CONF=/etc/ssh/ssh_config.d/sandbox-testbed.conf
HIDDEN=(/tmp /root /work /run /home)

need() { command -v "$1" >/dev/null 2>&1 || { echo "remote-testbed: $1 is missing (apt-get install $2)" >&2; exit 1; }; }

holder_pid() { cat "$STATE/holder.pid" 2>/dev/null || true; }
alive() { local p; p=$(holder_pid); [ -n "$p" ] && kill -0 "$p" 2>/dev/null; }
# in_ns runs a command inside the test bed's network and mount namespaces.
in_ns() { nsenter --target "$(holder_pid)" --net --mount -- "$@"; }

answers() {
  timeout 10 ssh -o ConnectTimeout=3 -o BatchMode=yes root@"$REMOTE_IP" docker version --format '{{.Server.Version}}' >/dev/null 2>&1
}

up() {
  [ "$(id -u)" = 0 ] || { echo "remote-testbed: run as root (it makes namespaces)" >&2; exit 1; }
  need sshd openssh-server; need rsync rsync; need nsenter util-linux; need ip iproute2
  if alive && answers; then echo "ssh://root@$REMOTE_IP"; return; fi
  down >/dev/null 2>&1 || true
  mkdir -p "$STATE"
  ssh-keygen -q -t ed25519 -N '' -f "$STATE/client_key" <<<y >/dev/null
  ssh-keygen -q -t ed25519 -N '' -f "$STATE/host_key" <<<y >/dev/null
  cp "$STATE/client_key.pub" "$STATE/authorized_keys"
  cat >"$STATE/sshd_config" <<EOF
ListenAddress $REMOTE_IP
HostKey $STATE/host_key
AuthorizedKeysFile $STATE/authorized_keys
PermitRootLogin prohibit-password
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
AllowTcpForwarding yes
AllowStreamLocalForwarding yes
StreamLocalBindUnlink yes
PidFile /run/sshd.pid
EOF
  # The host's daemon.json names the host's data-root: the test bed's dockerd gets its
  # own, with the host's storage driver (the only one known to work here).
  local driver; driver=$(docker info --format '{{.Driver}}' 2>/dev/null || echo overlay2)
  cat >"$STATE/daemon.json" <<EOF
{"data-root": "$STATE/docker", "storage-driver": "$driver", "bip": "10.201.0.1/24",
 "default-address-pools": [{"base": "10.202.0.0/16", "size": 24}], "mtu": 1400,
 "log-driver": "json-file", "log-opts": {"max-size": "10m", "max-file": "2"}}
EOF
  cat >"$STATE/client.conf" <<EOF
Host sandbox-testbed $REMOTE_IP
  HostName $REMOTE_IP
  User root
  IdentityFile $STATE/client_key
  IdentitiesOnly yes
  StrictHostKeyChecking no
  UserKnownHostsFile /dev/null
  LogLevel ERROR
EOF
  install -m 0644 "$STATE/client.conf" "$CLIENT_CONF"

  ip netns add "$NS"
  ip link add "$HOST_IF" type veth peer name "$REMOTE_IF"
  ip link set "$REMOTE_IF" netns "$NS"
  ip addr add "$HOST_IP/24" dev "$HOST_IF"; ip link set "$HOST_IF" up
  ip -n "$NS" addr add "$REMOTE_IP/24" dev "$REMOTE_IF"
  ip -n "$NS" link set "$REMOTE_IF" up; ip -n "$NS" link set lo up

  # `ip netns exec` remounts /sys, after which dockerd finds no devices cgroup: enter the
  # network namespace with nsenter and make the private mount namespace with unshare.
  local mounts="" d
  for d in "${HIDDEN[@]}"; do [ -d "$d" ] && mounts+="mount -t tmpfs -o mode=0755 tmpfs $d; "; done
  setsid nsenter --net="/run/netns/$NS" -- unshare --mount --propagation private -- bash -c "
    $mounts
    mkdir -p /run/sshd /tmp && chmod 1777 /tmp
    dockerd --config-file $STATE/daemon.json >$STATE/dockerd.log 2>&1 &
    /usr/sbin/sshd -f $STATE/sshd_config -E $STATE/sshd.log
    exec sleep infinity" </dev/null >"$STATE/holder.log" 2>&1 &
  echo $! >"$STATE/holder.pid"
  for _ in $(seq 60); do answers && break; sleep 1; done
  answers || { echo "remote-testbed: it did not answer over SSH within 60 s (see $STATE/*.log)" >&2; tail -5 "$STATE/dockerd.log" >&2 || true; exit 1; }
  echo "ssh://root@$REMOTE_IP"
}

down() {
  if alive; then
    in_ns sh -c 'kill $(cat /run/docker.pid) 2>/dev/null; for i in $(seq 30); do [ -e /run/docker.pid ] || exit 0; sleep 1; done' || true
    in_ns sh -c 'kill $(cat /run/sshd.pid) 2>/dev/null' || true
    # every process left in the namespace (containers' shims, sessions) goes with it
    for p in $(ip netns pids "$NS" 2>/dev/null); do kill -9 "$p" 2>/dev/null || true; done
    kill -9 "$(holder_pid)" 2>/dev/null || true
  fi
  ip link del "$HOST_IF" 2>/dev/null || true
  ip netns del "$NS" 2>/dev/null || true
  rm -f "$CLIENT_CONF"
  rm -rf "$STATE"
}

case "${1:-}" in
  up) up ;;
  down) down ;;
  status) alive && answers ;;
  *) echo "usage: $0 up|down|status" >&2; exit 2 ;;
esac
