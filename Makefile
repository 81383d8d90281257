# Aliases for the Mage targets (go tool mage <target>), plus the demo and the tests.
# Every target has one, named in kebab case: sandbox:initShared is sandbox-init-shared,
# localProd:restore is local-prod-restore. Flags are variables in capitals:
#   values:   NAME (create's <name>; -name of init, snapshot, restore), BRANCH, SLOT, SEED,
#             FROM (initShared: a path; snapshot, restore: an instance id), DELETE, SERVICE,
#             TAIL, TIMEOUT, ENGINE, CONTEXT, SHELL_NAME (completion's -shell; SHELL is make's)
#   booleans (set to 1; any non-empty value, even 0, turns one on):
#             NOINCLUDE, NOHOOKS, NOWAIT, BUILD, NOSECRETS, FORCE, VOLUMES, KEEPWORKTREE,
#             DISCARDCHANGES, SNAPSHOT, NOSNAPSHOT, JSON, ALL, WATCH, FOLLOW, MINIMAL, DRYRUN, SWARM, REGISTRY,
#             ALLOWLOCALPROD
#   make sandbox-create NAME=feat-x SLOT=3
#   make sandbox-up NOSECRETS=1
#   make sandbox-destroy FORCE=1 SNAPSHOT=1
#   make sandbox-restore NAME=base FROM=ktrdr--feat-x

MAGE := go tool mage
flag = $(if $($(1)),-$(2)=$($(1)))
bool = $(if $($(1)),-$(2))

.PHONY: demo demo-clean test check bench help
help:
	@$(MAGE) -l

# The main job on the demo stack: create a sandbox, bring it up, show it healthy.
demo:
	./scripts/demo.sh

demo-clean:
	./scripts/demo.sh --clean

# The test suite (Docker suites included; they need the engine and compose v2).
test:
	go test -race -count=1 -timeout 30m ./...

# Every platform the library may be imported on is vetted (tests included), here and in
# the example projects; on Windows the module must build (its targets refuse to run there).
PLATFORMS := linux/amd64 linux/arm64 darwin/amd64 darwin/arm64
check:
	@set -e; for p in $(PLATFORMS); do \
	  echo "go vet ./... (GOOS=$${p%/*} GOARCH=$${p#*/})"; \
	  GOOS=$${p%/*} GOARCH=$${p#*/} go vet ./... && GOOS=$${p%/*} GOARCH=$${p#*/} go vet -tags mage ./magefiles; \
	  for ex in examples/*/; do (cd $$ex && GOOS=$${p%/*} GOARCH=$${p#*/} go vet -tags mage ./magefiles); done; \
	done
	GOOS=windows GOARCH=amd64 go build ./... && GOOS=windows GOARCH=amd64 go vet -tags mage ./magefiles
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { gofmt -l $$(git ls-files '*.go'); exit 1; }

bench:
	./scripts/bench/run.sh

.PHONY: sandbox-create sandbox-init sandbox-sync sandbox-up sandbox-down sandbox-destroy \
	sandbox-snapshot sandbox-snapshots sandbox-restore sandbox-list sandbox-status sandbox-logs \
	sandbox-shell sandbox-init-shared sandbox-doctor sandbox-gc sandbox-completion sandbox-mcp \
	local-prod-init local-prod-sync local-prod-up local-prod-down local-prod-destroy \
	local-prod-snapshot local-prod-restore local-prod-status local-prod-logs

sandbox-create:
	$(MAGE) sandbox:create "$(NAME)" $(call flag,BRANCH,branch) $(call flag,SLOT,slot) $(call bool,NOINCLUDE,noInclude) $(call bool,NOHOOKS,noHooks) $(call flag,SEED,seed) $(call flag,ENGINE,engine) $(call flag,CONTEXT,context) $(call bool,SWARM,swarm) $(call flag,REGISTRY,registry)
sandbox-init:
	$(MAGE) sandbox:init $(call flag,SLOT,slot) $(call flag,NAME,name) $(call flag,ENGINE,engine) $(call flag,CONTEXT,context) $(call bool,SWARM,swarm) $(call flag,REGISTRY,registry)
sandbox-sync:
	$(MAGE) sandbox:sync
sandbox-up:
	$(MAGE) sandbox:up $(call bool,NOWAIT,noWait) $(call bool,BUILD,build) $(call flag,TIMEOUT,timeout) $(call bool,NOSECRETS,noSecrets) $(call bool,NOHOOKS,noHooks) $(call bool,FORCE,force)
sandbox-down:
	$(MAGE) sandbox:down $(call bool,VOLUMES,volumes) $(call bool,NOHOOKS,noHooks)
sandbox-destroy:
	$(MAGE) sandbox:destroy $(call bool,FORCE,force) $(call bool,KEEPWORKTREE,keepWorktree) $(call bool,DISCARDCHANGES,discardChanges) $(call bool,NOHOOKS,noHooks) $(call bool,SNAPSHOT,snapshot)
sandbox-snapshot:
	$(MAGE) sandbox:snapshot $(call flag,NAME,name) $(call flag,DELETE,delete) $(call flag,FROM,from)
sandbox-snapshots:
	$(MAGE) sandbox:snapshots $(call bool,JSON,json) $(call bool,ALL,all)
sandbox-restore:
	$(MAGE) sandbox:restore $(call flag,NAME,name) $(call flag,FROM,from) $(call bool,NOSECRETS,noSecrets) $(call flag,TIMEOUT,timeout) $(call bool,NOWAIT,noWait)
sandbox-list:
	$(MAGE) sandbox:list $(call bool,JSON,json) $(call bool,WATCH,watch)
sandbox-status:
	$(MAGE) sandbox:status $(call bool,JSON,json)
sandbox-logs:
	$(MAGE) sandbox:logs $(call flag,SERVICE,service) $(call bool,FOLLOW,follow) $(call flag,TAIL,tail)
sandbox-shell:
	$(MAGE) sandbox:shell $(call flag,SERVICE,service)
sandbox-init-shared:
	$(MAGE) sandbox:initShared $(call flag,FROM,from) $(call bool,MINIMAL,minimal) $(call flag,ENGINE,engine) $(call flag,CONTEXT,context)
sandbox-doctor:
	$(MAGE) sandbox:doctor $(call bool,JSON,json)
sandbox-gc:
	$(MAGE) sandbox:gc $(call bool,DRYRUN,dryRun) $(call bool,VOLUMES,volumes) $(call bool,FORCE,force) $(call bool,IMAGES,images)
sandbox-completion:
	$(MAGE) sandbox:completion $(call flag,SHELL_NAME,shell)
sandbox-mcp:
	$(MAGE) sandbox:mcp $(call bool,ALLOWLOCALPROD,allowLocalProd)
local-prod-init:
	$(MAGE) localProd:init $(call flag,ENGINE,engine) $(call flag,CONTEXT,context) $(call bool,SWARM,swarm) $(call flag,REGISTRY,registry)
local-prod-sync:
	$(MAGE) localProd:sync
local-prod-up:
	$(MAGE) localProd:up $(call bool,NOWAIT,noWait) $(call bool,BUILD,build) $(call flag,TIMEOUT,timeout) $(call bool,NOSECRETS,noSecrets) $(call bool,NOHOOKS,noHooks) $(call bool,FORCE,force)
local-prod-down:
	$(MAGE) localProd:down $(call bool,VOLUMES,volumes) $(call bool,NOHOOKS,noHooks) $(call bool,NOSNAPSHOT,noSnapshot)
local-prod-destroy:
	$(MAGE) localProd:destroy $(call bool,FORCE,force) $(call bool,NOHOOKS,noHooks) $(call bool,NOSNAPSHOT,noSnapshot)
local-prod-snapshot:
	$(MAGE) localProd:snapshot $(call flag,NAME,name) $(call flag,DELETE,delete)
local-prod-restore:
	$(MAGE) localProd:restore $(call flag,NAME,name) $(call flag,FROM,from) $(call bool,NOSECRETS,noSecrets) $(call flag,TIMEOUT,timeout) $(call bool,NOWAIT,noWait)
local-prod-status:
	$(MAGE) localProd:status $(call bool,JSON,json)
local-prod-logs:
	$(MAGE) localProd:logs $(call flag,SERVICE,service) $(call bool,FOLLOW,follow) $(call flag,TAIL,tail)
