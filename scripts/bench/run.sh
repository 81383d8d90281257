#!/usr/bin/env bash
# Benchmarks where users wait, each quoted as a ratio against a reference command timed
# in the same run (machines are noisy; absolute seconds mean little):
#   copy    sandbox:initShared -from  vs  cp -a          (1 GiB in 64 files; 20k small files)
#   rerun   initShared over unchanged data  vs  its first run
#   disk    initShared -from  vs  cp -a, each until the data is on disk (then sync), pairs:
#           1 GiB in 1000 files + 20,000 small files; 1000 x 1 MiB alone; one big data/
#           (1016 x 1 MiB in 8 folders beside 20,000 x 2 KiB in 20) with models/ and strategies/,
#           and the same one level deeper (data/market/); destinations are moved aside
#           between timings and deleted after the pairs (see clear_dst)
#   stats   sandbox:status (Shared Data of 100k files)  vs  du -sb
#   list    sandbox:list / sandbox:status with 10 running instances  vs  docker compose ls +
#           docker stats --no-stream
#   up      sandbox:up to gate PASSED, containers removed before  vs  docker compose up -d
#           + a 50 ms poll of the gate's checks (pairs; needs Docker, curl and jq)
#   snap    at 64 MiB, 256 MiB and 1 GiB (pairs; SNAP_SIZES picks others): sandbox:snapshot  vs  docker cp of the db
#           container | zstd -1 to a file, sync; sandbox:restore  vs  the same by hand: stop
#           the db, zstd -d | docker cp into a staged helper, swap, start; create -seed  vs
#           restore
#   remote  docker ps via the tunnel vs local socket vs ssh://; sandbox:up on the remote engine vs
#           compose up --wait through the same socket; initShared -engine vs rsync -a (test bed)
#   swarm   sandbox:up of a sandbox on the Swarm test bed  vs  docker stack deploy of the same
#           rendered file + a 50 ms poll of the gate's checks (pairs; scripts/swarm-testbed.sh)
#   create  sandbox:create with a 200 MB .worktreeinclude  vs  git worktree add + cp -a;
#           sandbox:create -noInclude  vs  git worktree add alone
# Every comparison marked "pairs" runs PAIRS (default 5) pairs in alternating order and
# prints the medians and each pair's ratio.
# Usage: scripts/bench/run.sh [copy|disk|stats|list|up|create|snap|remote|swarm ...]   (default: all)
set -euo pipefail
cd "$(dirname "$0")/../.."
repo=$(pwd)
work=$(mktemp -d /tmp/sandbox-bench.XXXXXX)
# Sandboxes made off this checkout leave their branches (destroy keeps branches): remove
# the ones the benchmarks made.
# A benchmark that failed halfway leaves its sandboxes: take them down first.
cleanup() {
  for d in "$(dirname "$repo")"/ktrdr--*bench* "$(dirname "$repo")"/ktrdr--lb*; do
    [ -d "$d" ] && (cd "$d" && "$sbx" sandbox:destroy -force -discardChanges >/dev/null 2>&1)
  done
  git -C "$repo" for-each-ref --format='%(refname:short)' 'refs/heads/ktrdr--*bench*' 'refs/heads/ktrdr--lb*' | xargs -r git -C "$repo" branch -D -q
  rm -rf "$work"
}
trap cleanup EXIT
# Keep Go's caches where they are; only the tool's state moves to the temp home.
export GOPATH=$(go env GOPATH) GOMODCACHE=$(go env GOMODCACHE) GOCACHE=$(go env GOCACHE)
export HOME="$work/home" GIT_CONFIG_GLOBAL="$work/gitconfig" SANDBOX_PORT_OFFSET=${SANDBOX_PORT_OFFSET:-21000}
export DOCKER_CONFIG=${DOCKER_CONFIG:-$(eval echo ~"$(id -un)")/.docker}
mkdir -p "$HOME"
git config --global user.email bench@example.com; git config --global user.name bench
go tool mage -compile "$work/sandbox" >/dev/null
sbx="$work/sandbox"
what=${*:-copy disk stats list up create snap remote swarm}

now() { date +%s.%N; }
# median of N timings of a command (seconds)
timeit() {
  local n=$1; shift
  local ts=()
  for _ in $(seq "$n"); do
    local t0; t0=$(now); "$@" >/dev/null 2>&1; ts+=("$(echo "$(now) - $t0" | bc -l)")
  done
  printf '%s\n' "${ts[@]}" | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'
}
# What the harness itself costs per timing (bash, date, bc), subtracted from every figure
# so a 10 ms command is not reported as 40 ms.
harness=0
calibrate() { harness=$(timeit 9 true); }
net() { echo "x = $1 - $harness; if (x < 0) x = 0; x" | bc -l; }
ratio() { echo "scale=2; $1 / $2" | bc -l; }
report() {
  local a b; a=$(net "$2"); b=$(net "$4")
  printf '%-58s %8.3fs  vs %-26s %8.3fs  ratio %s\n' "$1" "$a" "$3" "$b" "$(ratio "$a" "$b")"
}

# pairs N LABEL OURS REFLABEL REF [PREP]: N timed pairs of two functions, the order
# alternated within each pair (odd pairs ours first, even pairs the reference first) so
# neither side always meets the warmer cache or the emptier disk queue; PREP runs untimed
# before every timing. Prints the medians, their ratio, and every pair's ratio.
PAIRS=${PAIRS:-5}
# once times one run; a run that fails is said on stderr (a failed run is no figure).
once() {
  local t0 out rc=0; t0=$(now); out=$("$@" 2>&1) || rc=$?
  local t; t=$(echo "$(now) - $t0" | bc -l)
  [ "$rc" = 0 ] || printf '    FAILED (%s): %s\n' "$*" "$(echo "$out" | tail -2 | tr '\n' ' ')" >&2
  echo "$t"
}
median() { printf '%s\n' "$@" | sort -g | awk '{x[NR]=$1} END {print x[int((NR+1)/2)]}'; }
pairs() {
  local n=$1 label=$2 ours=$3 reflabel=$4 ref=$5 prep=${6:-:}
  local o=() r=() each=() to tr
  for i in $(seq "$n"); do
    if (( i % 2 )); then
      $prep || true; to=$(once "$ours"); $prep || true; tr=$(once "$ref")
    else
      $prep || true; tr=$(once "$ref"); $prep || true; to=$(once "$ours")
    fi
    to=$(net "$to"); tr=$(net "$tr")
    o+=("$to"); r+=("$tr"); each+=("$(ratio "$to" "$tr")")
  done
  local mo mr; mo=$(median "${o[@]}"); mr=$(median "${r[@]}")
  printf '%-58s %8.3fs  vs %-26s %8.3fs  ratio %s\n' "$label" "$mo" "$reflabel" "$mr" "$(ratio "$mo" "$mr")"
  printf '    %d pairs, each ours/ref: %s\n' "$n" "${each[*]}"
  LAST_OURS=$mo LAST_REF=$mr
}

mktree_big() { mkdir -p "$1/data"; for i in $(seq 64); do head -c $((16<<20)) /dev/urandom >"$1/data/f$i.bin"; done; }
mktree_small() { mkdir -p "$1/data"; for d in $(seq 200); do mkdir -p "$1/data/d$d"; for f in $(seq 100); do head -c 8192 /dev/urandom >"$1/data/d$d/f$f.csv"; done; done; }

bench_copy() {
  for kind in big small; do
    src="$work/src-$kind"; "mktree_$kind" "$src"
    cp -a "$src/data" "$work/warm" && rm -rf "$work/warm"          # same cache state for both
    cpa() { rm -rf "$work/cp"; cp -a "$src/data" "$work/cp"; }
    ours() { rm -rf "$HOME/.ktrdr/shared"; "$sbx" sandbox:initShared -from="$src"; }
    t_cp=$(timeit 5 cpa); t_ours=$(timeit 5 ours); t_cp2=$(timeit 5 cpa); t_cp=$(printf "%s\n" "$t_cp" "$t_cp2" | sort -g | head -1)
    label="initShared -from ($kind: $(du -sh "$src/data" | cut -f1), $(find "$src/data" -type f | wc -l) files)"
    report "$label" "$t_ours" "cp -a" "$t_cp"
    rerun() { "$sbx" sandbox:initShared -from="$src"; }
    t_rerun=$(timeit 3 rerun)
    report "initShared -from again, unchanged ($kind)" "$t_rerun" "first initShared -from" "$t_ours"
    rm -rf "$src" "$work/cp" "$HOME/.ktrdr/shared"
  done
}

# clear_dst empties both destinations before a disk timing by moving them aside, and
# empty_trash deletes them after the pairs. Deleting them in between made each timing
# pay for the last one: ext4 without a journal (this machine's) skips inodes freed in
# the last 60 s and checks every one of them on each file it creates (perf: 59% of a
# cp -a of 1000 small files), so a copy right after an rm -rf of 21,000 files measured
# that rm more than itself, and pairs of one run ranged from 0.2 to 3.
clear_dst() {
  mkdir -p "$work/trash"
  for d in "$HOME/.ktrdr/shared" "$work/cp"; do [ -e "$d" ] && mv "$d" "$(mktemp -d "$work/trash/t.XXXXXX")/"; done
  sync
}
empty_trash() { rm -rf "$work/trash" "$HOME/.ktrdr/shared" "$work/cp"; sync; }

bench_disk() {
  # 1 GiB in 1000 files + 20,000 small files; then the 1000 x 1 MiB tree alone. Each side
  # copies to disk and syncs; each starts from an empty destination.
  src="$work/src-disk"; mkdir -p "$src/data" "$src/models"
  for i in $(seq 1000); do head -c $((1<<20)) /dev/urandom >"$src/data/f$i.bin"; done
  for d in $(seq 100); do mkdir -p "$src/models/d$d"; for f in $(seq 200); do head -c 2048 /dev/urandom >"$src/models/d$d/f$f.json"; done; done
  ours() { "$sbx" sandbox:initShared -from="$src"; sync; }
  ref() { mkdir -p "$work/cp" && cp -a "$src/data" "$src/models" "$work/cp/"; sync; }
  pairs "$PAIRS" "initShared -from to disk (1 GiB + 20k files, sync)" ours "cp -a, sync" ref clear_dst
  local first=$LAST_OURS
  t_re=$(timeit 3 "$sbx" sandbox:initShared -from="$src")
  report "initShared -from again, unchanged" "$t_re" "first initShared -from, sync" "$first"
  empty_trash
  rm -rf "$src/models"
  pairs "$PAIRS" "initShared -from to disk (1000 x 1 MiB, sync)" ours "cp -a, sync" ref clear_dst
  rm -rf "$src"; empty_trash
  bench_disk_one_folder
}

# The same amount of data shaped as a user's shared directory usually is: one subdirectory
# (data/) holding nearly everything, its large and small files in folders side by side.
mktree_one_folder() {
  mkdir -p "$1/models" "$1/strategies"
  for d in $(seq 8); do mkdir -p "$1/data/bars$d"; for f in $(seq 127); do head -c $((1<<20)) /dev/urandom >"$1/data/bars$d/f$f.bin"; done; done
  for d in $(seq 20); do mkdir -p "$1/data/ticks$d"; for f in $(seq 1000); do head -c 2048 /dev/urandom >"$1/data/ticks$d/f$f.csv"; done; done
  head -c $((8<<20)) /dev/urandom >"$1/models/model.bin"
  for f in $(seq 20); do head -c 512 /dev/urandom | base64 >"$1/strategies/s$f.yaml"; done
}

# bench_disk_one_folder times that shape, then the same folders one level deeper
# (data/market/…), where the folder mixing large and small files is not the copy's root.
bench_disk_one_folder() {
  src="$work/src-onefolder"; mktree_one_folder "$src"
  ours() { "$sbx" sandbox:initShared -from="$src"; sync; }
  ref() { mkdir -p "$work/cp" && cp -a "$src/data" "$src/models" "$src/strategies" "$work/cp/"; sync; }
  pairs "$PAIRS" "initShared -from to disk (one big data/, sync)" ours "cp -a, sync" ref clear_dst
  local first=$LAST_OURS
  t_re=$(timeit 3 "$sbx" sandbox:initShared -from="$src")
  report "initShared -from again, unchanged (one big data/)" "$t_re" "first initShared -from, sync" "$first"
  empty_trash
  mkdir "$src/market" && mv "$src"/data/* "$src/market/" && mv "$src/market" "$src/data/"
  pairs "$PAIRS" "initShared -from to disk (one big data/market/, sync)" ours "cp -a, sync" ref clear_dst
  rm -rf "$src"; empty_trash
}

bench_stats() {
  mkdir -p "$HOME/.ktrdr/shared/data" "$HOME/.ktrdr/shared/models" "$HOME/.ktrdr/shared/strategies"
  for d in $(seq 400); do mkdir -p "$HOME/.ktrdr/shared/data/d$d"; (cd "$HOME/.ktrdr/shared/data/d$d" && touch $(seq -f 'f%g.csv' 250)); done
  (cd "$repo" && "$sbx" sandbox:create statbench >/dev/null)
  dir="$(dirname "$repo")/ktrdr--statbench"
  t_du=$(timeit 5 du -sb "$HOME/.ktrdr/shared")
  st() { (cd "$dir" && "$sbx" sandbox:status); }
  t_st=$(timeit 5 st)
  report "sandbox:status (Shared Data: $(find "$HOME/.ktrdr/shared" -type f | wc -l) files)" "$t_st" "du -sb" "$t_du"
  (cd "$dir" && "$sbx" sandbox:destroy -force >/dev/null)
  rm -rf "$HOME/.ktrdr/shared"
}

bench_list() {
  # ten sandboxes, all running: list and status then also ask docker stats for memory and CPU
  for i in $(seq 10); do (cd "$repo" && "$sbx" sandbox:create "lb$i" >/dev/null); done
  for i in $(seq 10); do (cd "$(dirname "$repo")/ktrdr--lb$i" && "$sbx" sandbox:up -noSecrets -noWait >/dev/null 2>&1); done
  dir="$(dirname "$repo")/ktrdr--lb1"
  reference() { docker compose ls; docker stats --no-stream; }
  li() { "$sbx" sandbox:list; }
  st() { (cd "$dir" && "$sbx" sandbox:status); }
  t_ref=$(timeit 5 reference); t_li=$(timeit 5 li); t_st=$(timeit 5 st); t_ref2=$(timeit 5 reference)
  t_ref=$(printf "%s\n" "$t_ref" "$t_ref2" | sort -g | head -1)
  report "sandbox:list (10 running instances)" "$t_li" "compose ls + docker stats" "$t_ref"
  report "sandbox:status (10 running instances)" "$t_st" "compose ls + docker stats" "$t_ref"
  for i in $(seq 10); do (cd "$(dirname "$repo")/ktrdr--lb$i" && "$sbx" sandbox:destroy -force >/dev/null 2>&1); done
}

# gate_poll makes the startability gate's checks of the KTRDR table, in its order, each
# polled every 50 ms: what a hand-written script after compose up would do.
# gate_poll makes the gate's checks every 50 ms, in its order. The tcp check, as the
# gate's, holds the connection 20 ms (read -t times out, status > 128): Docker's port
# proxy accepts at once and closes while nothing listens behind it.
gate_poll() {
  until (exec 3<>"/dev/tcp/127.0.0.1/$KTRDR_DB_PORT"; read -r -t 0.02 -u 3; [ $? -gt 128 ]) 2>/dev/null; do sleep 0.05; done
  until curl -sf -o /dev/null "http://127.0.0.1:$KTRDR_API_PORT/api/v1/health"; do sleep 0.05; done
  until [ "$(curl -sf "http://127.0.0.1:$KTRDR_API_PORT/api/v1/workers" | jq '.workers | length' 2>/dev/null || echo 0)" -ge 4 ]; do sleep 0.05; done
  until c=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$KTRDR_JAEGER_UI_PORT/"); [ "$c" = 200 ] || [ "$c" = 302 ]; do sleep 0.05; done
}

bench_up() {
  docker compose version >/dev/null 2>&1 || { echo "up: skipped (no docker compose v2)"; return; }
  (cd "$repo" && "$sbx" sandbox:create upbench >/dev/null)
  dir="$(dirname "$repo")/ktrdr--upbench"
  (cd "$dir" && "$sbx" sandbox:up -noSecrets -noWait >/dev/null 2>&1 && "$sbx" sandbox:down >/dev/null 2>&1)  # image built, binary cached
  set -a; . "$dir/.env.sandbox"; set +a
  local compose=(docker compose -p ktrdr--upbench --project-directory "$dir" -f "$dir/docker-compose.sandbox.yml")
  removed() { "${compose[@]}" down -v -t 1 >/dev/null 2>&1; }
  ours() { cd "$dir" && "$sbx" sandbox:up -noSecrets; }
  ref() { "${compose[@]}" up -d && gate_poll; }
  pairs "$PAIRS" "sandbox:up to Startability Gate: PASSED" ours "compose up -d + 50 ms gate poll" ref removed
  removed
  (cd "$dir" && "$sbx" sandbox:destroy -force >/dev/null 2>&1)
}

bench_create() {
  local r="$work/increpo"
  mkdir -p "$r/demo" && cp "$repo/docker-compose.sandbox.yml" "$r/" && cp "$repo/demo/Dockerfile" "$r/demo/"
  # a project's worth of tracked sources: 40 packages of 50 files of 2 KB
  for p in $(seq 40); do mkdir -p "$r/src/p$p"; for f in $(seq 50); do head -c 2048 /dev/urandom | base64 >"$r/src/p$p/f$f.go"; done; done
  printf '.env.sandbox\n.env\ncache/\n' >"$r/.gitignore"; printf '.env\ncache/\n' >"$r/.worktreeinclude"
  (cd "$r" && git init -q -b main && git add -A && git commit -q -m bench)
  echo "LOCAL=1" >"$r/.env"; mkdir -p "$r/cache"
  for i in $(seq 50); do head -c $((4<<20)) /dev/urandom >"$r/cache/m$i.bin"; done
  local n=0 a=() b=() c=() d=()
  med() { printf '%s\n' "$@" | sort -g | awk '{x[NR]=$1} END {print x[int((NR+1)/2)]}'; }
  for _ in 1 2 3; do
    n=$((n+1))
    t0=$(now); (cd "$r" && "$sbx" sandbox:create "inc$n" >/dev/null); a+=("$(echo "$(now) - $t0" | bc -l)")
    t0=$(now); (cd "$r" && git worktree add -q -b "ref$n" "$work/ref$n" && cp -a .env cache "$work/ref$n/"); b+=("$(echo "$(now) - $t0" | bc -l)")
    t0=$(now); (cd "$r" && "$sbx" sandbox:create "bare$n" -noInclude >/dev/null); c+=("$(echo "$(now) - $t0" | bc -l)")
    t0=$(now); (cd "$r" && git worktree add -q -b "plain$n" "$work/plain$n"); d+=("$(echo "$(now) - $t0" | bc -l)")
    for x in "inc$n" "bare$n"; do (cd "$work/ktrdr--$x" && "$sbx" sandbox:destroy -force -discardChanges >/dev/null); done
    (cd "$r" && git worktree remove --force "$work/ref$n" && git worktree remove --force "$work/plain$n")
  done
  report "sandbox:create, 200 MB in 51 included files" "$(med "${a[@]}")" "git worktree add + cp -a" "$(med "${b[@]}")"
  report "sandbox:create -noInclude" "$(med "${c[@]}")" "git worktree add" "$(med "${d[@]}")"
  rm -rf "$r"
}

# fill_volume MIB: the snapshot bench's database volume holds MIB MiB (files of at most
# 32 MiB, half random, half text-like), put there through a helper container.
fill_volume() {
  local mib=$1 per=$(( $1 < 64 ? $1 : 32 )) n
  n=$(( mib / per / 2 )); [ "$n" -ge 1 ] || n=1
  rm -rf "$work/fill"; mkdir -p "$work/fill"
  for i in $(seq "$n"); do head -c $((per<<20)) /dev/urandom >"$work/fill/r$i.bin"; done
  for i in $(seq "$n"); do yes "2026-11-24,EURUSD,1.0842,1.0845,1.0839,1.0843,1200 $i" | head -c $((per<<20)) >"$work/fill/t$i.csv"; done
  # each size's files are a superset of the smaller one's (same names), so the volume
  # holds exactly MIB MiB of them after the copy
  local c; c=$(docker create -v "$vol:/v" "$img" idle); docker cp "$work/fill/." "$c:/v/fill"; docker rm -f "$c" >/dev/null
  rm -rf "$work/fill"
}

bench_snap() {
  set +o pipefail   # yes | head and friends end by SIGPIPE on purpose
  docker compose version >/dev/null 2>&1 || { echo "snap: skipped (no docker compose v2)"; return; }
  (cd "$repo" && "$sbx" sandbox:create snapbench >/dev/null)
  dir="$(dirname "$repo")/ktrdr--snapbench"
  (cd "$dir" && "$sbx" sandbox:up -noSecrets -noWait >/dev/null 2>&1)
  vol=ktrdr--snapbench_postgres_data
  db=$(docker ps -q --filter label=com.docker.compose.project=ktrdr--snapbench --filter label=com.docker.compose.service=db)
  (cd "$dir" && "$sbx" sandbox:snapshot -name=warmup >/dev/null)   # builds the helper image
  img=$(docker image ls --filter 'label=sandbox.snapshot-helper' --format '{{.Repository}}:{{.Tag}}' | awk 'NR==1')
  ours_snap() { cd "$dir" && "$sbx" sandbox:snapshot -name=b; }
  ref_snap() { docker cp "$db:/var/lib/postgresql/data" - | zstd -1 -q -T0 >"$work/ref.tar.zst" && sync; }
  snap_clear() { (cd "$dir" && "$sbx" sandbox:snapshot -delete=b >/dev/null 2>&1); rm -f "$work/ref.tar.zst"; sync; }
  ours_restore() { cd "$dir" && "$sbx" sandbox:restore -name=b -noSecrets -noWait; }
  # The same restore by hand, step after step, with the same helper: stop the database
  # (data is never swapped under a live one), stage the snapshot's copy, swap it in,
  # start the database again.
  ref_restore() {   # every step must succeed: a failed one is reported, not timed as fast
    local c; docker stop -t 10 "$db" >/dev/null && c=$(docker run -d -v "$vol:/v" "$img" idle) && docker exec "$c" /sandbox-helper stage /v &&
    zstd -d -q -c "$HOME/.ktrdr/snapshots/ktrdr--snapbench/b/postgres_data.tar.zst" | docker cp - "$c:/v/.sandbox-restore/v" &&   # the tar holds the volume root (./…)
    docker exec "$c" /sandbox-helper swap /v && docker rm -f "$c" >/dev/null && docker start "$db" >/dev/null
  }
  # the reference leaves its copy staged in the volume: cleared (untimed) before each timing
  restore_prep() { local c; c=$(docker run -d -v "$vol:/v" "$img" idle); docker exec "$c" /sandbox-helper stage /v >/dev/null 2>&1; docker rm -f "$c" >/dev/null; sync; }
  for mib in ${SNAP_SIZES:-64 256 1024}; do
    (cd "$dir" && "$sbx" sandbox:down >/dev/null 2>&1)
    fill_volume "$mib"
    (cd "$dir" && "$sbx" sandbox:up -noSecrets -noWait >/dev/null 2>&1)
    db=$(docker ps -q --filter label=com.docker.compose.project=ktrdr--snapbench --filter label=com.docker.compose.service=db)
    pairs "$PAIRS" "sandbox:snapshot, $mib MiB volume" ours_snap "docker cp db | zstd -1, sync" ref_snap snap_clear
    ours_snap >/dev/null 2>&1; ref_snap >/dev/null 2>&1   # the copies both restores read
    # a restore runs this version's helper (a snapshot takes any helper the engine has, so
    # an older one may be all the warm-up left): the reference uses the same
    ours_restore >/dev/null 2>&1
    img=$(docker image ls --filter 'label=sandbox.snapshot-helper' --format '{{.Repository}}:{{.Tag}}' | awk 'NR==1')
    pairs "$PAIRS" "sandbox:restore -noWait, $mib MiB (running stack)" ours_restore "stop, stage, swap, start" ref_restore restore_prep
    restore_prep; snap_clear   # the reference's last staged copy must not be in the next snapshot
  done
  ours_snap >/dev/null 2>&1
  ours_seed() { cd "$repo" && "$sbx" sandbox:create seedbench -seed=ktrdr--snapbench:b; }
  seed_clear() { [ -d "$(dirname "$repo")/ktrdr--seedbench" ] && (cd "$(dirname "$repo")/ktrdr--seedbench" && "$sbx" sandbox:destroy -force >/dev/null 2>&1); git -C "$repo" branch -D -q seedbench 2>/dev/null; restore_prep; }
  pairs 3 "sandbox:create -seed (1 GiB snapshot)" ours_seed "sandbox:restore -noWait" ours_restore seed_clear
  du -sh "$HOME/.ktrdr/snapshots/ktrdr--snapbench/b" | sed 's/^/  stored: /'
  (cd "$dir" && "$sbx" sandbox:destroy -force >/dev/null 2>&1)
  docker image rm -f "$img" >/dev/null 2>&1 || true
  rm -f "$work/ref.tar.zst"
  set -o pipefail
}

# remo_repo DIR BIN DATA: a repository of examples/remote at DIR (its go.mod pointing at
# this checkout), its targets compiled to BIN, and shared data for it at DATA.
remo_repo() {
  local r=$1 rbin=$2 data=$3 ex="$repo/examples/remote"
  (cd "$ex" && go tool mage -compile "$rbin" >/dev/null)
  mkdir -p "$r" && cp -r "$ex/docker-compose.sandbox.yml" "$ex/demo" "$ex/site" "$ex/.gitignore" "$ex/go.sum" "$r/" && rm -rf "$r/demo/bin"
  sed "s#=> ../..#=> $repo#" "$ex/go.mod" >"$r/go.mod"
  (cd "$r" && git init -q -b main && git add -A && git commit -q -m remo)
  mkdir -p "$data/assets" && echo a >"$data/assets/a.txt"
}

bench_remote() {
  "$repo/scripts/remote-testbed.sh" status || { echo "remote: skipped (run scripts/remote-testbed.sh up as root first)"; return; }
  local engine=ssh://root@10.200.0.2 host=root@10.200.0.2 r="$work/remo" rbin="$work/remo-bin"
  remo_repo "$r" "$rbin" "$work/rdata"
  export REMO_DEMO_IMAGE=remo-demo:bench
  (cd "$r" && "$rbin" sandbox:initShared -engine=$engine -from="$work/rdata" >/dev/null && "$rbin" sandbox:create rb -engine=$engine >/dev/null)
  local dir="$work/remo--rb"
  (cd "$dir" && "$rbin" sandbox:up >/dev/null 2>&1 && "$rbin" sandbox:down >/dev/null 2>&1)   # image built there, binary cached

  # One docker call: through a forwarded socket, through ssh://, and on the local socket.
  local tdir; tdir=$(mktemp -d /tmp/tb.XXXXXX)
  ssh -f -N -M -S "$tdir/ctl" -o ExitOnForwardFailure=yes -L "$tdir/d.sock:/var/run/docker.sock" $host
  local t_tun t_ssh t_loc
  t_tun=$(timeit 9 docker -H "unix://$tdir/d.sock" ps); t_ssh=$(timeit 5 docker -H "ssh://$host" ps); t_loc=$(timeit 9 docker ps)
  report "docker ps through the tunnel's socket" "$t_tun" "docker ps on the local socket" "$t_loc"
  report "docker ps through DOCKER_HOST=ssh://" "$t_ssh" "docker ps through the tunnel" "$t_tun"

  # sandbox:up to the gate (tunnel, port checks, sync, forwards included) against compose
  # up --wait through a forwarded socket to the same engine, interleaved.
  local envf="$dir/.env.sandbox" o=() f=()
  ref() { (set -a; . "$envf"; set +a; DOCKER_HOST="unix://$tdir/d.sock" docker compose -p rbref --project-directory "$dir" -f "$dir/docker-compose.sandbox.yml" up -d --wait --wait-timeout 120 >/dev/null 2>&1); }
  refdown() { (set -a; . "$envf"; set +a; DOCKER_HOST="unix://$tdir/d.sock" docker compose -p rbref --project-directory "$dir" -f "$dir/docker-compose.sandbox.yml" down -v -t 1 >/dev/null 2>&1); }
  med() { printf '%s\n' "$@" | sort -g | awk '{x[NR]=$1} END {print x[int((NR+1)/2)]}'; }
  for _ in 1 2 3; do
    t0=$(now); ref; f+=("$(echo "$(now) - $t0" | bc -l)"); refdown
    t0=$(now); (cd "$dir" && "$rbin" sandbox:up >/dev/null 2>&1); o+=("$(echo "$(now) - $t0" | bc -l)"); (cd "$dir" && "$rbin" sandbox:down -volumes >/dev/null 2>&1)
  done
  report "sandbox:up on the remote engine, to gate PASSED" "$(med "${o[@]}")" "compose up -d --wait, same socket" "$(med "${f[@]}")"

  # initShared -engine of 1 GiB (1000 files of 1 MiB) against rsync -a of the same tree.
  mkdir -p "$work/rbig/assets"; for i in $(seq 1000); do head -c $((1<<20)) /dev/urandom >"$work/rbig/assets/f$i.bin"; done
  local shared="$HOME/.remo/shared" a=() b=()
  for _ in 1 2 3; do
    ssh $host "rm -rf '$shared' /tmp/rsref"
    t0=$(now); (cd "$r" && "$rbin" sandbox:initShared -engine=$engine -from="$work/rbig" >/dev/null); a+=("$(echo "$(now) - $t0" | bc -l)")
    t0=$(now); rsync -a "$work/rbig/" $host:/tmp/rsref/; b+=("$(echo "$(now) - $t0" | bc -l)")
  done
  report "initShared -engine, 1 GiB in 1000 files" "$(med "${a[@]}")" "rsync -a to the same host" "$(med "${b[@]}")"
  t_re=$(timeit 3 sh -c "cd '$r' && '$rbin' sandbox:initShared -engine=$engine -from='$work/rbig'")
  report "initShared -engine again, unchanged" "$t_re" "first initShared -engine" "$(med "${a[@]}")"

  (cd "$dir" && "$rbin" sandbox:destroy -force >/dev/null 2>&1)
  ssh -S "$tdir/ctl" -O exit $host 2>/dev/null; rm -rf "$tdir" "$work/rbig" "$work/rdata"
  ssh $host "rm -rf '$shared' /tmp/rsref '$work'; docker image rm -f remo-demo:bench >/dev/null 2>&1; docker image prune -f >/dev/null 2>&1" || true
  git -C "$r" worktree prune 2>/dev/null || true
}

bench_swarm() {
  "$repo/scripts/swarm-testbed.sh" status || { echo "swarm: skipped (run scripts/swarm-testbed.sh up as root first)"; return; }
  local manager=ssh://root@10.210.0.11 r="$work/swrepo" rbin="$work/sw-bin"
  remo_repo "$r" "$rbin" "$work/swdata"
  export REMO_DEMO_IMAGE=remo-demo:swbench
  for n in 11 12 13; do (cd "$r" && "$rbin" sandbox:initShared -engine=ssh://root@10.210.0.$n -from="$work/swdata" >/dev/null); done
  (cd "$r" && "$rbin" sandbox:create swb -engine=$manager -swarm >/dev/null)
  local dir="$work/remo--swb"
  (cd "$dir" && "$rbin" sandbox:up >/dev/null 2>&1 && "$rbin" sandbox:down >/dev/null 2>&1)   # placed, image built there
  local endpoint addr node
  endpoint=$(jq -r '.instances["remo--swb"].endpoint' "$HOME/.remo/sandbox/engines.json"); addr=${endpoint#ssh://root@}
  node=$(jq -r '.instances["remo--swb"].swarm.node' "$HOME/.remo/sandbox/engines.json")
  set -a; . "$dir/.env.sandbox"; set +a
  docker compose -p remo--swref --project-directory "$dir" -f "$dir/docker-compose.sandbox.yml" config --format json |
    (cd "$repo" && go run ./scripts/bench/render remo--swref "$node") >"$work/swref.json"
  ours() { cd "$dir" && "$rbin" sandbox:up; }
  oursdown() { (cd "$dir" && "$rbin" sandbox:down >/dev/null 2>&1); }
  # the reference: the same rendered file with plain docker stack deploy, then the gate's
  # checks polled every 50 ms on the node's ports (straight to the node, no proxy in
  # front: a bare connect is true there)
  ref() {
    DOCKER_HOST=$manager docker stack deploy --resolve-image never -c "$work/swref.json" remo--swref >/dev/null || return 1
    until (exec 3<>"/dev/tcp/$addr/$REMO_DB_PORT") 2>/dev/null; do sleep 0.05; done
    until curl -sf -o /dev/null "http://$addr:$REMO_WEB_PORT/api/v1/health"; do sleep 0.05; done
  }
  refdown() {
    DOCKER_HOST=$manager docker stack rm remo--swref >/dev/null 2>&1
    until [ -z "$(ssh root@$addr docker ps -aq --filter label=com.docker.stack.namespace=remo--swref)" ]; do sleep 0.2; done
  }
  both_down() { oursdown; refdown; }
  pairs "$PAIRS" "sandbox:up on the Swarm ($node), to gate PASSED" ours "stack deploy + 50 ms gate poll" ref both_down
  both_down
  (cd "$dir" && "$rbin" sandbox:destroy -force >/dev/null 2>&1)
  ssh root@$addr "docker volume rm remo--swref_db_data >/dev/null 2>&1; docker image rm -f remo-demo:swbench >/dev/null 2>&1" || true
  for n in 11 12 13; do ssh root@10.210.0.$n "rm -rf '$work'" || true; done
  git -C "$r" worktree prune 2>/dev/null || true
}

calibrate
echo "(harness overhead per timing: ${harness}s, subtracted)"
for w in $what; do "bench_$w"; done
