#!/usr/bin/env bash
# Benchmarks where users wait, each quoted as a ratio against a reference command timed
# in the same run (machines are noisy; absolute seconds mean little):
#   copy    sandbox:initShared -from  vs  cp -a          (1 GiB in 64 files; 20k small files)
#   rerun   initShared over unchanged data  vs  its first run
#   stats   sandbox:status (Shared Data of 100k files)  vs  du -sb
#   list    sandbox:list / sandbox:status with 10 running instances  vs  docker compose ls +
#           docker stats --no-stream
#   up      sandbox:up to gate PASSED  vs  docker compose up -d --wait   (needs Docker)
#   create  sandbox:create with a 200 MB .worktreeinclude  vs  git worktree add + cp -a;
#           sandbox:create -noInclude  vs  git worktree add alone
# Usage: scripts/bench/run.sh [copy|stats|list|up|create ...]   (default: all)
set -euo pipefail
cd "$(dirname "$0")/../.."
repo=$(pwd)
work=$(mktemp -d /tmp/sandbox-bench.XXXXXX)
trap 'rm -rf "$work"' EXIT
# Keep Go's caches where they are; only the tool's state moves to the temp home.
export GOPATH=$(go env GOPATH) GOMODCACHE=$(go env GOMODCACHE) GOCACHE=$(go env GOCACHE)
export HOME="$work/home" GIT_CONFIG_GLOBAL="$work/gitconfig" SANDBOX_PORT_OFFSET=${SANDBOX_PORT_OFFSET:-21000}
export DOCKER_CONFIG=${DOCKER_CONFIG:-$(eval echo ~"$(id -un)")/.docker}
mkdir -p "$HOME"
git config --global user.email bench@example.com; git config --global user.name bench
go tool mage -compile "$work/sandbox" >/dev/null
sbx="$work/sandbox"
what=${*:-copy stats list up create}

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

bench_up() {
  docker compose version >/dev/null 2>&1 || { echo "up: skipped (no docker compose v2)"; return; }
  (cd "$repo" && "$sbx" sandbox:create upbench >/dev/null)
  dir="$(dirname "$repo")/ktrdr--upbench"
  (cd "$dir" && "$sbx" sandbox:up -noSecrets -noWait >/dev/null 2>&1 && "$sbx" sandbox:down >/dev/null 2>&1)  # image built, binary cached
  set -a; . "$dir/.env.sandbox"; set +a
  ref() { docker compose -p upbench-ref --project-directory "$dir" -f "$dir/docker-compose.sandbox.yml" up -d --wait --wait-timeout 120; docker compose -p upbench-ref -f "$dir/docker-compose.sandbox.yml" down -v -t 1; }
  ours() { (cd "$dir" && "$sbx" sandbox:up -noSecrets && "$sbx" sandbox:down -volumes); }
  # time only the up part of each: measure up+down and down alone
  refdown() { docker compose -p upbench-ref --project-directory "$dir" -f "$dir/docker-compose.sandbox.yml" up -d --wait --wait-timeout 120 >/dev/null 2>&1; t0=$(now); docker compose -p upbench-ref -f "$dir/docker-compose.sandbox.yml" down -v -t 1 >/dev/null 2>&1; echo "$(now) - $t0" | bc -l; }
  oursdown() { (cd "$dir" && "$sbx" sandbox:up -noSecrets >/dev/null 2>&1); t0=$(now); (cd "$dir" && "$sbx" sandbox:down -volumes >/dev/null 2>&1); echo "$(now) - $t0" | bc -l; }
  local r=() o=()
  for _ in 1 2 3; do
    t0=$(now); d=$(refdown); r+=("$(echo "$(now) - $t0 - $d" | bc -l)")
    t0=$(now); d=$(oursdown); o+=("$(echo "$(now) - $t0 - $d" | bc -l)")
  done
  med() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
  report "sandbox:up to Startability Gate: PASSED" "$(med "${o[@]}")" "docker compose up -d --wait" "$(med "${r[@]}")"
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

calibrate
echo "(harness overhead per timing: ${harness}s, subtracted)"
for w in $what; do "bench_$w"; done
