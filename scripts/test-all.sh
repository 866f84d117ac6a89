#!/usr/bin/env bash
# test-all.sh runs the whole harness test suite on a fresh Debian machine.
#
#   sudo ./scripts/test-all.sh                  everything (the README's test command)
#   sudo FUZZTIME=5s ./scripts/test-all.sh      shorter fuzzing (default 20s per target)
#   FUZZMINIMIZETIME=10s ...                    longer minimization of each new input (default 1s)
#   ./scripts/test-all.sh --fuzz-only           only the fuzz targets; needs no root
#
# Run as root, it first provides what the integration tests need: it installs the missing
# Debian packages (docker.io, openssh-server, iproute2, iptables, wireguard-tools, git,
# ca-certificates), starts dockerd when no Docker engine answers and creates /dev/net/tun.
# Each of these is checked first, so a second run installs and starts nothing. Run as another
# user, it only reports what is missing: the integration tests then skip, or fail when CI is set.
#
# Then it runs vet, gofmt, staticcheck, the unit tests with the race detector, the integration
# tests and every fuzz target for FUZZTIME, stops at the first failing step and prints a summary
# of the steps with their durations. CI is left as the caller set it (.ci/run sets CI=1).
set -euo pipefail

usage() {
	sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed -e '$d' -e 's/^# \{0,1\}//'
}

fuzz_only=0
for arg in "$@"; do
	case $arg in
	--fuzz-only) fuzz_only=1 ;;
	-h | --help)
		usage
		exit 0
		;;
	*)
		printf 'test-all: unknown argument %q\n\n' "$arg" >&2
		usage >&2
		exit 2
		;;
	esac
done

FUZZTIME=${FUZZTIME:-20s}
# Go minimizes every new interesting input for up to -fuzzminimizetime (default 60s) and stops
# fuzzing meanwhile: with the default, a 20s run fuzzed for 2-3s and then reported 0 execs/sec.
FUZZMINIMIZETIME=${FUZZMINIMIZETIME:-1s}
DOCKERD_LOG=/var/log/dockerd-harness.log
DOCKERD_WAIT=60
export DEBIAN_FRONTEND=noninteractive

cd "$(dirname "${BASH_SOURCE[0]}")/.."
repo_root=$(pwd -P)

# sudo's secure_path usually lacks the Go toolchain and the sbin directories.
[[ -x /usr/local/go/bin/go ]] && ! command -v go >/dev/null 2>&1 && PATH=$PATH:/usr/local/go/bin
PATH=$PATH:/usr/local/sbin:/usr/sbin:/sbin
if ! command -v go >/dev/null 2>&1; then
	echo "test-all: go not found: install the Go toolchain named in go.mod (https://go.dev/dl) first" >&2
	exit 1
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

is_root() { [[ $(id -u) -eq 0 ]]; }
have() { command -v "$1" >/dev/null 2>&1; }
note() { printf 'test-all: %s\n' "$*"; }
warn() { printf 'test-all: warning: %s\n' "$*" >&2; }

# --- steps and summary ----------------------------------------------------------------------

summary_lines=()

print_summary() {
	printf '\n==> summary (%s)\n' "$repo_root"
	local line
	for line in "${summary_lines[@]}"; do
		printf '  %s\n' "$line"
	done
}

# step NAME CMD... runs CMD under a header, records PASS/FAIL with the duration and stops the
# script at the first failure. CMD runs in a subshell with errexit in force, so shell functions
# used as steps stop at their first failing command too (errexit is ignored in `if`/`||`).
step() {
	local name=$1 rc start end ms
	shift
	printf '\n==> %s\n' "$name"
	start=${EPOCHREALTIME/./}
	set +e
	(
		set -e
		"$@"
	)
	rc=$?
	set -e
	end=${EPOCHREALTIME/./}
	ms=$(((end - start) / 1000))
	local took
	took=$(printf '%4d.%01ds' $((ms / 1000)) $((ms % 1000 / 100)))
	if ((rc == 0)); then
		summary_lines+=("PASS  $took  $name")
		return 0
	fi
	summary_lines+=("FAIL  $took  $name")
	print_summary
	printf '\ntest-all: FAIL: %s (exit status %d)\n' "$name" "$rc" >&2
	exit "$rc"
}

# --- infrastructure -------------------------------------------------------------------------

# missing_packages prints the Debian packages whose programs or files are absent.
missing_packages() {
	# The docker client may come from elsewhere (/usr/local/bin/docker); the engine is what counts.
	have dockerd && have docker || echo docker.io
	have sshd || echo openssh-server
	have ip || echo iproute2
	have iptables || echo iptables
	have wg || echo wireguard-tools
	have git || echo git
	dpkg -s ca-certificates >/dev/null 2>&1 || echo ca-certificates
	# go test -race needs cgo, hence a C compiler and the libc headers.
	have cc && [[ -e /usr/include/stdio.h ]] || printf '%s\n' gcc libc6-dev
}

install_packages() {
	local -a pkgs
	mapfile -t pkgs < <(missing_packages)
	if ((${#pkgs[@]} == 0)); then
		note "all packages present"
		return 0
	fi
	if ! is_root || ! have apt-get; then
		warn "missing ${pkgs[*]}; run as root on Debian to install them (integration tests will skip, or fail under CI)"
		return 0
	fi
	note "installing ${pkgs[*]}"
	apt-get update -q
	apt-get install -y -q --no-install-recommends "${pkgs[@]}"
}

docker_answers() { timeout 20 docker version >/dev/null 2>&1; }

# use_legacy_iptables switches iptables and ip6tables to the legacy (xtables) backend.
use_legacy_iptables() {
	local t
	for t in iptables ip6tables; do
		if [[ -x /usr/sbin/$t-legacy ]]; then
			update-alternatives --set "$t" "/usr/sbin/$t-legacy"
		fi
	done
}

# start_dockerd starts dockerd in the background and waits until the engine answers. It returns
# 1 when dockerd exits early and 2 when it does not answer in time.
start_dockerd() {
	note "starting dockerd (log: $DOCKERD_LOG)"
	printf '\n--- %s test-all.sh starts dockerd\n' "$(date -Is)" >>"$DOCKERD_LOG"
	setsid dockerd >>"$DOCKERD_LOG" 2>&1 </dev/null &
	local pid=$! i
	for ((i = 0; i < DOCKERD_WAIT; i++)); do
		if docker_answers; then
			note "dockerd (pid $pid) answers after ${i}s"
			return 0
		fi
		kill -0 "$pid" 2>/dev/null || return 1
		sleep 1
	done
	return 2
}

dockerd_failed() {
	printf 'test-all: %s; last lines of %s:\n' "$1" "$DOCKERD_LOG" >&2
	tail -n 30 "$DOCKERD_LOG" >&2
	return 1
}

ensure_docker() {
	if docker_answers; then
		note "docker engine answers: $(docker version --format '{{.Server.Version}} (API {{.Server.APIVersion}})')"
		return 0
	fi
	if ! is_root; then
		warn "no docker engine answers and only root can start dockerd"
		return 0
	fi
	if [[ -n ${DOCKER_HOST:-} && $DOCKER_HOST != unix:///var/run/docker.sock ]]; then
		echo "test-all: DOCKER_HOST=$DOCKER_HOST does not answer; unset it to let this script start a local dockerd" >&2
		return 1
	fi
	if ! have dockerd; then
		echo "test-all: no docker engine answers and dockerd is not installed (apt-get install docker.io)" >&2
		return 1
	fi
	if pidof dockerd >/dev/null; then
		echo "test-all: dockerd is running (pid $(pidof dockerd)) but the engine does not answer; see $DOCKERD_LOG or stop it" >&2
		return 1
	fi
	# dockerd programs its NAT and isolation rules with iptables; when the default (nft)
	# backend does not work on this kernel, the legacy one usually does.
	if ! iptables -t nat -S >/dev/null 2>&1 && iptables-legacy -t nat -S >/dev/null 2>&1; then
		note "iptables (nft backend) does not work here; switching to iptables-legacy"
		use_legacy_iptables
	fi
	local rc=0
	start_dockerd || rc=$?
	if ((rc == 1)) && tail -n 30 "$DOCKERD_LOG" | grep -qi iptables &&
		[[ $(readlink -f "$(command -v iptables)") != *legacy* ]]; then
		note "dockerd stopped on an iptables error; retrying with iptables-legacy"
		use_legacy_iptables
		rc=0
		start_dockerd || rc=$?
	fi
	case $rc in
	0) docker version --format 'docker engine {{.Server.Version}} (API {{.Server.APIVersion}})' ;;
	1) dockerd_failed "dockerd exited during startup" ;;
	*) dockerd_failed "the docker engine did not answer within ${DOCKERD_WAIT}s" ;;
	esac
}

ensure_devices() {
	if [[ ! -c /dev/net/tun ]]; then
		if is_root; then
			note "creating /dev/net/tun"
			mkdir -p /dev/net
			mknod -m 0666 /dev/net/tun c 10 200
		else
			warn "/dev/net/tun is missing and only root can create it"
		fi
	fi
	local tool
	for tool in sshd ip wg; do
		if have "$tool"; then
			note "$tool: $(command -v "$tool")"
		else
			warn "$tool is missing"
		fi
	done
}

# --- checks --------------------------------------------------------------------------------

check_gofmt() {
	local unformatted
	unformatted=$(gofmt -l .)
	if [[ -n $unformatted ]]; then
		printf 'not gofmt-ed (run gofmt -w):\n%s\n' "$unformatted"
		return 1
	fi
}

# --- fuzzing ---------------------------------------------------------------------------------

# list_fuzz_targets writes "PKG NAME" lines for every fuzz target of the module to $1.
list_fuzz_targets() {
	local out=$1 pkgs pkg dir listed name
	: >"$out"
	# Assignments, unlike for-lists, stop the step when the command fails (a build error).
	pkgs=$(go list -f '{{if or .TestGoFiles .XTestGoFiles}}{{.ImportPath}} {{.Dir}}{{end}}' ./...)
	while read -r pkg dir; do
		[[ -n $pkg ]] || continue
		# go test -list links the test binary, seconds per package: ask only the packages
		# whose tests mention *testing.F at all.
		grep -qs '\*testing\.F\b' "$dir"/*_test.go || continue
		listed=$(go test -list '^Fuzz' "$pkg")
		for name in $(grep '^Fuzz' <<<"$listed" || true); do
			echo "$pkg $name" >>"$out"
		done
	done <<<"$pkgs"
	note "$(wc -l <"$out") fuzz target(s)"
	sed 's/^/  /' "$out"
}

run_fuzz() {
	step "list fuzz targets" list_fuzz_targets "$work/fuzz-targets"
	local pkg name
	while read -r pkg name; do
		step "fuzz $pkg $name ($FUZZTIME)" go test -run '^$' -fuzz "^$name\$" -fuzztime "$FUZZTIME" -fuzzminimizetime "$FUZZMINIMIZETIME" "$pkg"
	done <"$work/fuzz-targets"
}

# --- main ------------------------------------------------------------------------------------

note "repo $repo_root, $(go version), CI=${CI:-}, FUZZTIME=$FUZZTIME, FUZZMINIMIZETIME=$FUZZMINIMIZETIME"

if ((fuzz_only)); then
	run_fuzz
	print_summary
	exit 0
fi

step "install missing packages" install_packages
step "docker engine" ensure_docker
step "/dev/net/tun and tools" ensure_devices
step "go vet ./..." go vet ./...
step "go vet -tags integration ./..." go vet -tags integration ./...
step "gofmt -l ." check_gofmt
step "staticcheck ./..." go tool staticcheck ./...
step "staticcheck -tags integration ./..." go tool staticcheck -tags integration ./...
step "go test -race ./..." go test -race ./...
# -count=1: the end-to-end tests run a harness binary they build themselves, which the test
# cache cannot see, so a cached result could hide a change.
step "go test -tags integration ./..." go test -count=1 -tags integration ./...
run_fuzz
print_summary
printf '\ntest-all: PASS\n'
