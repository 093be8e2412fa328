#!/usr/bin/env bash
# Real-deploy testbed: Docker engine, local images, terraform and an offline
# provider mirror. Idempotent; run as root. See README.md beside this file.
#
#   bash test/e2e/testbed/setup.sh && source /var/cache/dws-testbed/env.sh
#
# Env: DWS_TESTBED_CACHE (default /var/cache/dws-testbed)
#      DWS_TESTBED_SKIP_VERIFY=1   skip the terraform apply/destroy smoke test
#      DWS_TESTBED_BUILD_TERRAFORM=1  build terraform from source even if one is on PATH
set -euo pipefail

T0=$(date +%s)
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
CACHE=${DWS_TESTBED_CACHE:-/var/cache/dws-testbed}
LOGS=$CACHE/logs
mkdir -p "$CACHE" "$LOGS" "$CACHE/tmp"

log() { printf '[testbed %4ss] %s\n' "$(($(date +%s) - T0))" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }
# run CMD with output to a log file; on failure show its tail and stop
run_logged() {
  local logfile=$1; shift
  if ! "$@" >"$logfile" 2>&1; then
    tail -n 40 "$logfile" >&2 || true
    die "command failed: $* (full log: $logfile)"
  fi
}

# one run at a time per cache
exec 9>"$CACHE/.lock"
flock 9

export DEBIAN_FRONTEND=noninteractive
export CHECKPOINT_DISABLE=1
export GOPROXY=${GOPROXY:-https://proxy.golang.org}
export GOFLAGS=${GOFLAGS:--buildvcs=false}
export GOTOOLCHAIN=${GOTOOLCHAIN:-local}
export PATH=$PATH:/usr/local/go/bin

# ---------------------------------------------------------------- 1. packages
# testssl.sh checks the load balancer's TLS in the e2e
if ! command -v dockerd >/dev/null || ! command -v debootstrap >/dev/null || ! command -v testssl >/dev/null; then
  log "installing docker.io debootstrap testssl.sh"
  APT=(apt-get -o DPkg::Lock::Timeout=600 -o Acquire::Retries=3)
  # other sources configured on the host may be unreachable: that is not fatal
  "${APT[@]}" update >"$LOGS/apt-update.log" 2>&1 || log "apt-get update reported errors (see $LOGS/apt-update.log)"
  run_logged "$LOGS/apt-install.log" "${APT[@]}" install -y --no-install-recommends \
    docker.io debootstrap ca-certificates iptables testssl.sh
fi

# ---------------------------------------------------------------- 2. dockerd
DOCKER=docker
command -v docker >/dev/null || DOCKER=/usr/bin/docker
server_up() { "$DOCKER" version --format '{{.Server.Version}}' >/dev/null 2>&1; }
if ! server_up && ! /usr/bin/docker version --format '{{.Server.Version}}' >/dev/null 2>&1; then
  # the engine's own ranges (172.31.0.0/24 bridge, 172.30.0.0/16 pool) must not
  # overlap an address the host already has (docker0/br-* are the engine's own)
  if ip -4 -o addr show 2>/dev/null | awk '$2 != "docker0" && $2 !~ /^br-/ {print $4}' |
    grep -qE '^172\.3[01]\.'; then
    die "host already has an address in 172.30.0.0/15; pick other --bip/--default-address-pool"
  fi
  log "starting dockerd (log: /var/log/dws-dockerd.log)"
  setsid nohup dockerd \
    --bip 172.31.0.1/24 \
    --default-address-pool base=172.30.0.0/16,size=24 \
    >>/var/log/dws-dockerd.log 2>&1 </dev/null 9>&- &
  dockerd_pid=$!
  for _ in $(seq 1 60); do
    /usr/bin/docker version --format '{{.Server.Version}}' >/dev/null 2>&1 && break
    kill -0 "$dockerd_pid" 2>/dev/null || break
    sleep 1
  done
fi
if ! server_up; then
  # the client on PATH may be unable to talk to this engine: fall back to docker.io's
  if /usr/bin/docker version --format '{{.Server.Version}}' >/dev/null 2>&1; then
    log "$(command -v docker) cannot talk to the engine; using /usr/bin/docker"
    DOCKER=/usr/bin/docker
  else
    tail -n 20 /var/log/dws-dockerd.log >&2 || true
    die "docker engine did not answer (see /var/log/dws-dockerd.log)"
  fi
fi
log "docker: client $("$DOCKER" version --format '{{.Client.Version}}'), engine $("$DOCKER" version --format '{{.Server.Version}}') ($(command -v "$DOCKER"))"
# the 20.10 engine + a client without buildx: use the classic builder
export DOCKER_BUILDKIT=0

# ---------------------------------------------------------------- 3. base image
BASE=dws-base:trixie
ROOTFS_TAR=$CACHE/rootfs/debian-trixie-minbase.tar
if ! "$DOCKER" image inspect "$BASE" >/dev/null 2>&1; then
  if [[ ! -s $ROOTFS_TAR ]]; then
    log "debootstrap trixie (minbase)"
    mkdir -p "$CACHE/rootfs"
    dir=$(mktemp -d "$CACHE/tmp/rootfs.XXXXXX")
    run_logged "$LOGS/debootstrap.log" debootstrap --variant=minbase trixie "$dir" http://deb.debian.org/debian
    # like the official debian images: no services started by package scripts,
    # no downloaded lists or packages left behind
    printf '#!/bin/sh\nexit 101\n' >"$dir/usr/sbin/policy-rc.d"
    chmod 0755 "$dir/usr/sbin/policy-rc.d"
    rm -rf "$dir"/var/lib/apt/lists/* "$dir"/var/cache/apt/archives/*.deb "$dir"/var/log/bootstrap.log
    tar --numeric-owner -C "$dir" -cf "$ROOTFS_TAR.tmp" .
    mv "$ROOTFS_TAR.tmp" "$ROOTFS_TAR"
    rm -rf "$dir"
  fi
  log "importing $BASE"
  "$DOCKER" import \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'CMD ["bash"]' \
    "$ROOTFS_TAR" "$BASE" >/dev/null
fi
BASE_ID=$("$DOCKER" image inspect --format '{{.Id}}' "$BASE")

# ---------------------------------------------------------------- 4. images
IMAGES=(haproxy nginx node mysql mariadb wrk monitoring golang)
declare -A TAG
# build contexts are staged under $CACHE/contexts: images/<name>/ plus, for a
# Dockerfile that asks for it, host-ca/ with the host's local CA certificates
stage_context() {
  local ctx=$CACHE/contexts/$1
  rm -rf "$ctx" && mkdir -p "$CACHE/contexts"
  cp -r "$HERE/images/$1" "$ctx"
  if grep -q 'host-ca/' "$ctx/Dockerfile"; then
    mkdir -p "$ctx/host-ca"
    find /usr/local/share/ca-certificates -maxdepth 1 -name '*.crt' -exec cp {} "$ctx/host-ca/" \; 2>/dev/null || true
  fi
}
image_hash() { # sha256 over the base image id and every file of the build context
  local dir=$CACHE/contexts/$1 f
  {
    printf 'base %s\n' "$BASE_ID"
    while IFS= read -r f; do
      printf 'file %s\n' "${f#"$dir"/}"
      sha256sum <"$f"
    done < <(find "$dir" -type f | LC_ALL=C sort)
  } | sha256sum | cut -c1-12
}
for name in "${IMAGES[@]}"; do
  stage_context "$name"
  tag=dws-$name:$(image_hash "$name")
  TAG[$name]=$tag
  if "$DOCKER" image inspect "$tag" >/dev/null 2>&1; then
    continue
  fi
  log "building $tag (log: $LOGS/build-$name.log)"
  run_logged "$LOGS/build-$name.log" "$DOCKER" build --label dws.testbed=1 -t "$tag" "$CACHE/contexts/$name"
done

# versions inside the images (recorded once per tag)
VERSIONS=$CACHE/versions.txt
touch "$VERSIONS"
version_of() { # name tag -> one line
  case $1 in
    haproxy) "$DOCKER" run --rm "$2" sh -c 'haproxy -v | head -n1; if haproxy -vv | grep -q "Built with the Prometheus exporter"; then echo "PROMEX: yes"; else echo "PROMEX: no"; fi' ;;
    nginx) "$DOCKER" run --rm "$2" nginx -v 2>&1 ;;
    node) "$DOCKER" run --rm "$2" sh -c 'echo "node $(node --version) npm $(npm --version)"' ;;
    mysql) "$DOCKER" run --rm "$2" mysqld --version ;;
    mariadb) "$DOCKER" run --rm "$2" mariadbd --version ;;
    wrk) "$DOCKER" run --rm "$2" sh -c 'wrk --version 2>&1 | head -n1' ;;
    golang) "$DOCKER" run --rm "$2" go version ;;
    monitoring) "$DOCKER" run --rm "$2" sh -c 'for b in prometheus alertmanager mysqld_exporter nginx-prometheus-exporter blackbox_exporter node_exporter; do $b --version 2>&1 | head -n1; done' ;;
  esac 2>&1 | tr '\n' ' ' | sed 's/ *$//'
}
for name in "${IMAGES[@]}"; do
  tag=${TAG[$name]}
  if ! grep -q "^$tag " "$VERSIONS"; then
    echo "$tag $(version_of "$name" "$tag")" >>"$VERSIONS"
  fi
done

{
  printf '{'
  sep=
  for name in "${IMAGES[@]}"; do
    printf '%s"%s": "%s"' "$sep" "$name" "${TAG[$name]}"
    sep=', '
  done
  printf '}\n'
} >"$CACHE/images.json.tmp"
mv "$CACHE/images.json.tmp" "$CACHE/images.json"

# ---------------------------------------------------------------- 5. terraform
TF_VERSION=1.11.4
TERRAFORM=
if [[ ${DWS_TESTBED_BUILD_TERRAFORM:-0} != 1 ]] && command -v terraform >/dev/null; then
  TERRAFORM=$(command -v terraform)
elif [[ -x $CACHE/bin/terraform ]]; then
  TERRAFORM=$CACHE/bin/terraform
else
  command -v go >/dev/null || die "no terraform on PATH and no Go to build one"
  log "building terraform v$TF_VERSION with Go (log: $LOGS/build-terraform.log)"
  # terraform's go.mod has replace directives (so no `go install ...@v`):
  # download the module, copy the tree and build it in place
  moddir=$(go mod download -json "github.com/hashicorp/terraform@v$TF_VERSION" |
    sed -n 's/^[[:space:]]*"Dir": "\(.*\)",*$/\1/p' || true)
  [[ -d $moddir ]] || die "go mod download github.com/hashicorp/terraform@v$TF_VERSION failed"
  src=$CACHE/src/terraform-$TF_VERSION
  rm -rf "$src" && mkdir -p "$CACHE/src" "$CACHE/bin"
  cp -r "$moddir" "$src" && chmod -R u+w "$src"
  (
    cd "$src"
    # newer Go toolchains reject the obsolete `godebug tlskyber=0` line of its go.mod
    sed -i '/^godebug tlskyber=/d' go.mod
    # the module zip leaves out nested modules (the remote-state backends other than
    # http/inmem, internal/legacy): drop them; the local backend is all we use
    while read -r _ old _ new; do
      [[ -d $new ]] || go mod edit -droprequire="$old" -dropreplace="$old"
    done < <(grep -E '^replace [^ ]+ => \./' go.mod)
    sed -i -E '/backend(Azure|Consul|Cos|GCS|Kubernetes|OSS|Pg|S3)[ .]/d' internal/backend/init/init.go
    run_logged "$LOGS/build-terraform.log" go build \
      -ldflags "-X github.com/hashicorp/terraform/version.dev=no" -o "$CACHE/bin/terraform.tmp" .
  )
  mv "$CACHE/bin/terraform.tmp" "$CACHE/bin/terraform"
  TERRAFORM=$CACHE/bin/terraform
fi
log "terraform: $TERRAFORM ($(TF_CLI_CONFIG_FILE=/dev/null "$TERRAFORM" version | head -n1))"

# ---------------------------------------------------------------- 6. providers
MIRROR=$CACHE/providers
# provider_install NS TYPE VERSION MODULE MODVERSION H1SUM
# builds `go install MODULE@MODVERSION` into the mirror; H1SUM pins the module
# zip's hash (the checksum database has no entry for these pseudo-versions).
provider_install() {
  local ns=$1 type=$2 version=$3 mod=$4 modver=$5 sum=$6
  local dest=$MIRROR/registry.terraform.io/$ns/$type/$version/linux_amd64/terraform-provider-${type}_v$version
  [[ -x $dest ]] && return 0
  command -v go >/dev/null || die "Go is needed to build provider $ns/$type"
  log "building provider $ns/$type $version from $mod@$modver (log: $LOGS/build-provider-$type.log)"
  local got
  got=$(GONOSUMDB=$mod go mod download -json "$mod@$modver" 2>&1 |
    sed -n 's/^[[:space:]]*"Sum": "\(.*\)",*$/\1/p' || true)
  [[ $got == "$sum" ]] || die "$mod@$modver: module hash '$got' is not the pinned $sum"
  local gobin=$CACHE/tmp/gobin-$type
  rm -rf "$gobin" && mkdir -p "$gobin" "$(dirname "$dest")"
  GOBIN=$gobin GONOSUMDB=$mod run_logged "$LOGS/build-provider-$type.log" go install "$mod@$modver"
  mv "$gobin/terraform-provider-$type" "$dest"
  rm -rf "$gobin"
}
# The docker provider (kreuzwerker/docker 3.6.2): the Go module proxy refuses every form of its
# version here (403 "This module version is not available"), so it is built from the unmodified
# upstream source of tag v3.6.2, a tarball kept beside the project (../shared/vendor/, see its
# README), never copied into this repository. Used in order: the binary already in the mirror,
# built from the pinned tarball; a binary you supply in DWS_DOCKER_PROVIDER_BINARY; a build from
# the tarball, cached by its checksum.
DOCKER_PROVIDER_TARBALL=terraform-provider-docker-3.6.2.tar.gz
DOCKER_PROVIDER_SHA256=7f89d8314b6eb998b1afce22fb0d225bc895c0eddfab6d97b3c991f87bf34383
# the folder that holds the tarball: DWS_VENDOR_DIR, else shared/vendor beside the checkout or
# beside one of its parents
vendor_dir() {
  if [[ -n ${DWS_VENDOR_DIR:-} ]]; then echo "$DWS_VENDOR_DIR"; return; fi
  local d
  d=$(cd "$HERE/../../.." && pwd)
  while [[ $d != / ]]; do
    d=$(dirname "$d")
    [[ -f $d/shared/vendor/$DOCKER_PROVIDER_TARBALL ]] && { echo "$d/shared/vendor"; return; }
  done
  echo "$(cd "$HERE/../../.." && pwd)/../shared/vendor"
}
docker_provider_install() {
  local dest=$MIRROR/registry.terraform.io/kreuzwerker/docker/3.6.2/linux_amd64/terraform-provider-docker_v3.6.2
  local stamp=$CACHE/provider-stamps/kreuzwerker-docker-3.6.2
  mkdir -p "$(dirname "$dest")" "$(dirname "$stamp")"
  if [[ -n ${DWS_DOCKER_PROVIDER_BINARY:-} ]]; then
    [[ -x $DWS_DOCKER_PROVIDER_BINARY ]] || die "DWS_DOCKER_PROVIDER_BINARY=$DWS_DOCKER_PROVIDER_BINARY is not an executable file"
    if ! cmp -s "$DWS_DOCKER_PROVIDER_BINARY" "$dest"; then
      log "installing provider kreuzwerker/docker 3.6.2 from $DWS_DOCKER_PROVIDER_BINARY"
      cp "$DWS_DOCKER_PROVIDER_BINARY" "$dest.tmp" && mv "$dest.tmp" "$dest"
    fi
    echo "binary $DWS_DOCKER_PROVIDER_BINARY" >"$stamp"
    return 0
  fi
  [[ -x $dest && $(cat "$stamp" 2>/dev/null) == "tarball $DOCKER_PROVIDER_SHA256" ]] && return 0
  local built=$CACHE/build/terraform-provider-docker-$DOCKER_PROVIDER_SHA256/terraform-provider-docker_v3.6.2
  if [[ ! -x $built ]]; then
    local vendor tarball got
    vendor=$(vendor_dir)
    tarball=$vendor/$DOCKER_PROVIDER_TARBALL
    [[ -f $tarball ]] || die "no docker provider binary in $MIRROR and no source to build it from: supply $DOCKER_PROVIDER_TARBALL (the upstream source of kreuzwerker/terraform-provider-docker at tag v3.6.2, sha256 $DOCKER_PROVIDER_SHA256) in $vendor or in DWS_VENDOR_DIR, or a binary built from that tag in DWS_DOCKER_PROVIDER_BINARY"
    got=$(sha256sum "$tarball" | cut -d' ' -f1)
    [[ $got == "$DOCKER_PROVIDER_SHA256" ]] || die "$tarball: sha256 $got is not the pinned $DOCKER_PROVIDER_SHA256 (the v3.6.2 tag's source)"
    command -v go >/dev/null || die "Go is needed to build the docker provider from $tarball"
    log "building provider kreuzwerker/docker 3.6.2 from $tarball (about 3 min cold; log: $LOGS/build-provider-docker.log)"
    local src=$CACHE/src/docker-provider-$DOCKER_PROVIDER_SHA256
    rm -rf "$src" && mkdir -p "$src" "$(dirname "$built")"
    tar -xzf "$tarball" -C "$src"
    # -mod=readonly: the dependencies come from the module proxy and must match its go.sum
    ( cd "$src/terraform-provider-docker-3.6.2" &&
      run_logged "$LOGS/build-provider-docker.log" go build -mod=readonly -trimpath -o "$built.tmp" . )
    mv "$built.tmp" "$built"
    rm -rf "$src"
  fi
  cp "$built" "$dest.tmp" && mv "$dest.tmp" "$dest"
  echo "tarball $DOCKER_PROVIDER_SHA256" >"$stamp"
}
docker_provider_install
# hashicorp/random v3.7.2 = commit bc2ddb552b46; its go.mod says
# github.com/terraform-providers/terraform-provider-random (served under that path)
provider_install hashicorp random 3.7.2 \
  github.com/terraform-providers/terraform-provider-random v1.3.2-0.20250422105519-bc2ddb552b46 \
  'h1:xKgqtuIoGzvqpCXcHvLrftZm4h9XusvFIa2OBdAkI4g='
# hashicorp/tls v4.1.0 = commit eefba144662d
provider_install hashicorp tls 4.1.0 \
  github.com/hashicorp/terraform-provider-tls v1.2.1-0.20250423195406-eefba144662d \
  'h1:ZStCr6moU5v/sKm+RY6M/rNhnqepDLrPI3vTfL1TfwY='

cat >"$CACHE/terraformrc.tmp" <<EOF
provider_installation {
  filesystem_mirror {
    path    = "$MIRROR"
    include = ["registry.terraform.io/*/*"]
  }
}
EOF
mv "$CACHE/terraformrc.tmp" "$CACHE/terraformrc"

tf_path_dir=$(dirname "$TERRAFORM")
cat >"$CACHE/env.sh.tmp" <<EOF
# generated by test/e2e/testbed/setup.sh
export TF_CLI_CONFIG_FILE=$CACHE/terraformrc
export CHECKPOINT_DISABLE=1
export DWS_IMAGES_JSON=$CACHE/images.json
case ":\$PATH:" in *":$tf_path_dir:"*) ;; *) export PATH=$tf_path_dir:\$PATH ;; esac
EOF
mv "$CACHE/env.sh.tmp" "$CACHE/env.sh"

# ---------------------------------------------------------------- verify
if [[ ${DWS_TESTBED_SKIP_VERIFY:-0} != 1 ]]; then
  log "verifying: terraform init (offline mirror), apply, destroy"
  vdir=$(mktemp -d "$CACHE/tmp/verify.XXXXXX")
  vnet=dws-testbed-verify-$$
  cat >"$vdir/main.tf.json" <<EOF
{
  "terraform": {
    "required_providers": {
      "docker": {"source": "kreuzwerker/docker", "version": "3.6.2"},
      "random": {"source": "hashicorp/random", "version": "3.7.2"},
      "tls": {"source": "hashicorp/tls", "version": "4.1.0"}
    }
  },
  "provider": {"docker": [{}], "random": [{}], "tls": [{}]},
  "resource": {
    "random_password": {"p": {"length": 16}},
    "docker_network": {"n": {"name": "$vnet"}}
  },
  "output": {"subnet": {"value": "\${tolist(docker_network.n.ipam_config)[0].subnet}"}}
}
EOF
  (
    cd "$vdir"
    export TF_CLI_CONFIG_FILE=$CACHE/terraformrc TF_IN_AUTOMATION=1
    unset TF_PLUGIN_CACHE_DIR
    run_logged "$LOGS/verify-init.log" "$TERRAFORM" init -input=false -no-color
    run_logged "$LOGS/verify-apply.log" "$TERRAFORM" apply -auto-approve -input=false -no-color
    log "verify: network subnet $("$TERRAFORM" output -raw subnet)"
    run_logged "$LOGS/verify-destroy.log" "$TERRAFORM" destroy -auto-approve -input=false -no-color
  ) || {
    "$DOCKER" network rm "$vnet" >/dev/null 2>&1 || true
    die "verification failed (logs: $LOGS/verify-*.log)"
  }
  rm -rf "$vdir"
fi

# ---------------------------------------------------------------- summary
echo "images ($CACHE/images.json):"
for name in "${IMAGES[@]}"; do
  tag=${TAG[$name]}
  printf '  %-8s %s  # %s\n' "$name" "$tag" "$(grep "^$tag " "$VERSIONS" | cut -d' ' -f2- | tail -n1)"
done
echo "export TF_CLI_CONFIG_FILE=$CACHE/terraformrc"
echo "source $CACHE/env.sh"
echo "testbed ready in $(($(date +%s) - T0)) s"
