#!/usr/bin/env bash
# A Docker Swarm of three machines on this one, for the Swarm tests: three network
# namespaces on a bridge (10.210.0.1 is this host; the nodes are 10.210.0.11, .12, .13),
# each with its own hostname (sbx-sw1..3), dockerd and sshd, in a private mount
# namespace where /tmp, /root, /work, /run and /home are empty (as on real hosts).
# sbx-sw1 is the manager; the two others join it as workers. Nothing here needs IPVS:
# the tool publishes ports in host mode and resolves services by DNS round robin.
#
#   scripts/swarm-testbed.sh up      start it (idempotent); prints the manager's engine
#   scripts/swarm-testbed.sh down    stop it and remove everything it made
#   scripts/swarm-testbed.sh status  exit 0 when the three nodes are ready in the Swarm
#   scripts/swarm-testbed.sh stop N / start N   take node N away and bring it back
#
# Reach the nodes as ssh://root@10.210.0.1N (or the host aliases sbx-sw1..3): a client
# config in /etc/ssh/ssh_config.d names the test key. A plain-HTTP image registry listens
# on 10.210.0.1:5999 (scripts/testregistry: go-containerregistry's in-memory registry,
# built here), which every node trusts (insecure-registries), for the tests of -registry.
set -euo pipefail

BR=sbxswbr HOST_IP=10.210.0.1 NET=10.210.0 REGISTRY_PORT=5999
HERE=$(cd "$(dirname "$0")" && pwd)
STATE=/var/lib/sandbox-swarm
CLIENT_CONF=/etc/ssh/ssh_config.d/sandbox-swarm.conf
HIDDEN=(/tmp /root /work /run /home)
NODES=(1 2 3)

need() { command -v "$1" >/dev/null 2>&1 || { echo "swarm-testbed: $1 is missing (apt-get install $2)" >&2; exit 1; }; }
ip_of() { echo "$NET.1$1"; }
holder_pid() { cat "$STATE/node$1/holder.pid" 2>/dev/null || true; }
alive() { local p; p=$(holder_pid "$1"); [ -n "$p" ] && kill -0 "$p" 2>/dev/null; }
on() { local n=$1; shift; timeout 20 ssh -o ConnectTimeout=3 -o BatchMode=yes "root@$(ip_of "$n")" "$@"; }
answers() { on "$1" docker version --format '{{.Server.Version}}' >/dev/null 2>&1; }
# iptables on this host: Docker's FORWARD policy drops bridged traffic between the nodes.
host_rule() {
  local t
  for t in iptables iptables-legacy; do
    command -v "$t" >/dev/null 2>&1 || continue
    "$t" "$1" FORWARD -i "$BR" -o "$BR" -j ACCEPT 2>/dev/null || true
  done
}

keys() {
  mkdir -p "$STATE"
  [ -f "$STATE/client_key" ] || ssh-keygen -q -t ed25519 -N '' -f "$STATE/client_key" <<<y >/dev/null
  [ -f "$STATE/host_key" ] || ssh-keygen -q -t ed25519 -N '' -f "$STATE/host_key" <<<y >/dev/null
  cp "$STATE/client_key.pub" "$STATE/authorized_keys"
  : >"$STATE/client.conf"
  for n in "${NODES[@]}"; do
    cat >>"$STATE/client.conf" <<EOF
Host sbx-sw$n $(ip_of "$n")
  HostName $(ip_of "$n")
  User root
  IdentityFile $STATE/client_key
  IdentitiesOnly yes
  StrictHostKeyChecking no
  UserKnownHostsFile /dev/null
  LogLevel ERROR
EOF
  done
  install -m 0644 "$STATE/client.conf" "$CLIENT_CONF"
}

# start_node N: its namespace (kept across stop/start), dockerd and sshd.
start_node() {
  local n=$1 d="$STATE/node$1" ns="sbx-sw$1" ip; ip=$(ip_of "$1")
  mkdir -p "$d"
  if ! ip netns list | grep -qw "$ns"; then
    ip netns add "$ns"
    ip link add "sbxsw${n}h" type veth peer name "sbxsw${n}n"
    ip link set "sbxsw${n}n" netns "$ns"
    ip link set "sbxsw${n}h" master "$BR" up
    ip -n "$ns" addr add "$ip/24" dev "sbxsw${n}n"
    ip -n "$ns" link set "sbxsw${n}n" up; ip -n "$ns" link set lo up
    ip -n "$ns" route add default via "$HOST_IP"
  fi
  cat >"$d/sshd_config" <<EOF
ListenAddress $ip
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
  local driver; driver=$(docker info --format '{{.Driver}}' 2>/dev/null || echo overlay2)
  cat >"$d/daemon.json" <<EOF
{"data-root": "$d/docker", "storage-driver": "$driver", "bip": "10.21$n.0.1/24",
 "default-address-pools": [{"base": "10.22$n.0.0/16", "size": 24}], "mtu": 1400,
 "insecure-registries": ["$HOST_IP:$REGISTRY_PORT"],
 "log-driver": "json-file", "log-opts": {"max-size": "10m", "max-file": "2"}}
EOF
  local mounts="" h
  for h in "${HIDDEN[@]}"; do [ -d "$h" ] && mounts+="mount -t tmpfs -o mode=0755 tmpfs $h; "; done
  # nsenter, not ip netns exec (which remounts /sys, after which dockerd finds no devices
  # cgroup); a UTS namespace of its own, so the Swarm knows the node by its own name
  setsid nsenter --net="/run/netns/$ns" -- unshare --mount --uts --propagation private -- bash -c "
    hostname sbx-sw$n
    $mounts
    mkdir -p /run/sshd /tmp && chmod 1777 /tmp
    DOCKER_SERVICE_PREFER_OFFLINE_IMAGE=1 dockerd --config-file $d/daemon.json >$d/dockerd.log 2>&1 &
    /usr/sbin/sshd -f $d/sshd_config -E $d/sshd.log
    exec sleep infinity" </dev/null >"$d/holder.log" 2>&1 &
  echo $! >"$d/holder.pid"
  for _ in $(seq 60); do answers "$n" && return; sleep 1; done
  echo "swarm-testbed: node $n did not answer over SSH within 60 s (see $d/*.log)" >&2
  tail -5 "$d/dockerd.log" >&2 || true
  exit 1
}

# stop_node N: every process of the node ends (as a machine that loses power); its
# namespace, addresses and data stay for start_node.
stop_node() {
  local n=$1
  alive "$n" || return 0
  local p; p=$(holder_pid "$n")
  for q in $(ip netns pids "sbx-sw$n" 2>/dev/null); do kill -9 "$q" 2>/dev/null || true; done
  kill -9 "$p" 2>/dev/null || true
  rm -f "$STATE/node$n/holder.pid"
}

registry_answers() { curl -sf -o /dev/null -m 3 "http://$HOST_IP:$REGISTRY_PORT/v2/"; }

# start_registry: the bed's registry (a missing Go toolchain or module proxy leaves the
# bed without one: the -registry test then says it did not run).
start_registry() {
  if [ ! -x "$STATE/bin/registry" ]; then
    (cd "$HERE/testregistry" && go build -o "$STATE/bin/registry" .) >"$STATE/registry-build.log" 2>&1 ||
      { echo "swarm-testbed: no registry (building scripts/testregistry failed: $STATE/registry-build.log)" >&2; return 0; }
  fi
  setsid "$STATE/bin/registry" -addr "$HOST_IP:$REGISTRY_PORT" </dev/null >"$STATE/registry.log" 2>&1 &
  echo $! >"$STATE/registry.pid"
  for _ in $(seq 20); do registry_answers && return 0; sleep 0.25; done
  echo "swarm-testbed: the registry does not answer (see $STATE/registry.log)" >&2
}

swarm_ready() {
  [ "$(on 1 docker node ls --format '{{.Status}}/{{.Availability}}' 2>/dev/null | grep -c '^Ready/Active$')" = 3 ]
}

up() {
  [ "$(id -u)" = 0 ] || { echo "swarm-testbed: run as root (it makes namespaces)" >&2; exit 1; }
  need sshd openssh-server; need nsenter util-linux; need ip iproute2; need rsync rsync
  if status; then echo "ssh://root@$(ip_of 1)"; return; fi
  down >/dev/null 2>&1 || true
  keys
  ip link add "$BR" type bridge; ip addr add "$HOST_IP/24" dev "$BR"; ip link set "$BR" up
  host_rule -I
  for n in "${NODES[@]}"; do start_node "$n" & done
  wait
  for n in "${NODES[@]}"; do answers "$n" || { echo "swarm-testbed: node $n is not up" >&2; exit 1; }; done
  start_registry # after the wait above: it waits for every background child
  on 1 docker swarm init --advertise-addr "$(ip_of 1)" --listen-addr "$(ip_of 1):2377" --default-addr-pool 10.230.0.0/16 >/dev/null
  local token; token=$(on 1 docker swarm join-token -q worker)
  for n in 2 3; do on "$n" docker swarm join --token "$token" --advertise-addr "$(ip_of "$n")" "$(ip_of 1):2377" >/dev/null; done
  for _ in $(seq 60); do swarm_ready && break; sleep 1; done
  swarm_ready || { echo "swarm-testbed: the nodes are not all ready in the Swarm" >&2; on 1 docker node ls >&2 || true; exit 1; }
  echo "ssh://root@$(ip_of 1)"
}

status() {
  for n in "${NODES[@]}"; do alive "$n" && answers "$n" || return 1; done
  [ ! -x "$STATE/bin/registry" ] || registry_answers || return 1
  swarm_ready
}

down() {
  for n in "${NODES[@]}"; do
    if alive "$n"; then
      nsenter --target "$(holder_pid "$n")" --net --mount -- sh -c 'kill $(cat /run/docker.pid) 2>/dev/null; for i in $(seq 20); do [ -e /run/docker.pid ] || exit 0; sleep 1; done' || true
    fi
    stop_node "$n"
    ip link del "sbxsw${n}h" 2>/dev/null || true
    ip netns del "sbx-sw$n" 2>/dev/null || true
  done
  ip link del "$BR" 2>/dev/null || true
  host_rule -D
  [ -f "$STATE/registry.pid" ] && kill "$(cat "$STATE/registry.pid")" 2>/dev/null || true
  rm -f "$CLIENT_CONF"
  # the nodes' data roots hold mounts while a dockerd dies hard: unmount before removing
  grep " $STATE/" /proc/mounts | awk '{print $2}' | sort -r | xargs -r -n1 umount -l 2>/dev/null || true
  rm -rf "$STATE"
}

case "${1:-}" in
  up) up ;;
  down) down ;;
  status) status ;;
  stop) stop_node "${2:?node number}" ;;
  start) start_node "${2:?node number}" ;;
  *) echo "usage: $0 up|down|status|stop N|start N" >&2; exit 2 ;;
esac
