#!/usr/bin/env bash
# Installs the Debian packages the build, tests and demo need, only those that are missing.
# Needs root (apt-get) when something is missing; prints what it does.
set -euo pipefail
pkgs=(build-essential clang libclang-rt-14-dev libsodium-dev libssl-dev libcmocka-dev libseccomp-dev
	pkg-config python3 python3-cryptography iproute2 wireguard-tools wireguard-go iperf3 ethtool
	iputils-ping procps gdb valgrind
	liblwip-dev curl socat util-linux
	gcc-arm-none-eabi picolibc-arm-none-eabi qemu-system-arm)
# Shipping (issue 13): man page lint, Debian package build and lint, the Python bindings' tests,
# the benchmark chart.
pkgs+=(mandoc man-db systemd dpkg-dev debhelper lintian dh-python python3-pytest gnuplot-nox)
missing=()
for p in "${pkgs[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
echo "install-deps: installing ${missing[*]}"
if [ "$(id -u)" -ne 0 ]; then
	echo "install-deps: need root to install: ${missing[*]}" >&2
	exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}"
