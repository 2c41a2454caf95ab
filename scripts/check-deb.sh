#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# make check-deb: build the Debian packages from a copy of the tree (dpkg-buildpackage -us -uc
# -b; the copy keeps the build's `make clean` away from build/), lint them (lintian, no error),
# check their contents and Depends, install them into this machine with
# `apt-get install ./*.deb`, use them as a user would (the installed wgc, man pages, units,
# pkg-config and the shared library), run the `make demo` scenario against /usr/sbin/wgc, and
# purge them again, whatever happened. Needs root. Records "PASSED FAILED" in
# build/results/deb.txt.
set -u
cd "$(dirname "$0")/.."
ROOT=$PWD
. scripts/checks.sh
run() { echo "+ $*" >&2; "$@"; }
PKGS=(wgc libwgc0 libwgc-dev python3-wgc)
T=$(mktemp -d /tmp/wgc-deb.XXXXXX)
installed=false
cleanup() {
	if $installed; then
		echo "+ apt-get purge ${PKGS[*]}" >&2
		DEBIAN_FRONTEND=noninteractive apt-get purge -y -qq "${PKGS[@]}" >/dev/null 2>&1
	fi
	rm -rf "$T"
}
trap cleanup EXIT
record() {
	mkdir -p "$ROOT/build/results"
	echo "$PASSED $FAILED" >"$ROOT/build/results/deb.txt"
	echo "deb: $PASSED passed, $FAILED failed"
	[ "$FAILED" -eq 0 ]
}

if [ "$(id -u)" -ne 0 ]; then
	echo "SKIP: deb: needs root (apt-get install)"
	[ "${CI:-}" = true ] && FAILED=1
	record
	exit
fi
for p in "${PKGS[@]}"; do
	if dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
		echo "FAIL: $p is installed already; not touching it (apt-get purge ${PKGS[*]} first)"
		FAILED=1
		record
		exit
	fi
done
version=$(make -s --no-print-directory version)
check "debian/changelog is at version $version" \
	test "$(dpkg-parsechangelog -S Version)" = "$version"

# ---- build ----
src=$T/wgc-$version
mkdir "$src"
git ls-files -co --exclude-standard | grep -v '__pycache__/' | tar -cf - -T - | tar -xf - -C "$src"
start=$(date +%s)
echo "+ dpkg-buildpackage -us -uc -b (in $src, log in build/deb-build.log)" >&2
(cd "$src" && DEB_BUILD_OPTIONS=parallel=2 dpkg-buildpackage -us -uc -b) >"$ROOT/build/deb-build.log" 2>&1
rc=$?
check "dpkg-buildpackage -us -uc -b ($(($(date +%s) - start)) s)" test $rc -eq 0
[ $rc -eq 0 ] || { tail -30 "$ROOT/build/deb-build.log"; record; exit; }
debs=()
for p in "${PKGS[@]}"; do
	arch=$(dpkg --print-architecture)
	[ "$p" = python3-wgc ] && arch=all
	debs+=("$T/${p}_${version}_$arch.deb")
done
for d in "${debs[@]}"; do check "built $(basename "$d")" test -f "$d"; done
check "lintian: no error" run lintian --fail-on error --tag-display-limit 0 "$T"/wgc_*.changes

# ---- contents and dependencies ----
multiarch=$(dpkg-architecture -q DEB_HOST_MULTIARCH)
has() { dpkg-deb -c "$1" | awk '{ print $6 }' | grep -qx "\./$2"; }
check "wgc ships /usr/sbin/wgc" has "${debs[0]}" usr/sbin/wgc
check "wgc ships /usr/bin/wgc-proxy" has "${debs[0]}" usr/bin/wgc-proxy
check "wgc ships wgc(8)" has "${debs[0]}" usr/share/man/man8/wgc.8.gz
check "wgc ships wgc@.service" has "${debs[0]}" lib/systemd/system/wgc@.service
check "wgc ships the wg-quick drop-in" has "${debs[0]}" \
	lib/systemd/system/wg-quick@.service.d/wgc.conf
check "libwgc0 ships libwgc.so.$version" has "${debs[1]}" "usr/lib/$multiarch/libwgc.so.$version"
check "libwgc0 ships the libwgc.so.0 link" has "${debs[1]}" "usr/lib/$multiarch/libwgc.so.0"
for f in usr/include/wgc.h "usr/lib/$multiarch/libwgc.a" "usr/lib/$multiarch/libwgc.so" \
	"usr/lib/$multiarch/pkgconfig/wgc.pc" usr/share/man/man3/libwgc.3.gz; do
	check "libwgc-dev ships /$f" has "${debs[2]}" "$f"
done
check "wgc depends on libsodium and libseccomp (shlibs)" \
	sh -c "dpkg-deb -f '${debs[0]}' Depends | grep -q 'libsodium23.*libseccomp2\|libseccomp2.*libsodium23'"
check "libwgc0 depends on libsodium (shlibs)" \
	sh -c "dpkg-deb -f '${debs[1]}' Depends | grep -q libsodium23"
check "libwgc-dev depends on libwgc0 (= $version)" \
	sh -c "dpkg-deb -f '${debs[2]}' Depends | grep -qF 'libwgc0 (= $version)'"
check "python3-wgc ships the module wgc" has "${debs[3]}" \
	usr/lib/python3/dist-packages/wgc/__init__.py
check "python3-wgc depends on libwgc0 and python3" \
	sh -c "dpkg-deb -f '${debs[3]}' Depends | grep -q 'libwgc0 (>= $version).*python3'"
check "libwgc0 has a symbols file" sh -c "dpkg-deb -I '${debs[1]}' symbols | grep -q '^ wgc_send@WGC_0'"

# ---- install and use ----
installed=true
check "apt-get install ./*.deb" run env DEBIAN_FRONTEND=noninteractive \
	apt-get install -y -qq --no-install-recommends "${debs[@]}" >"$T/apt.log" 2>&1 ||
	cat "$T/apt.log"
check "/usr/sbin/wgc --version says v$version" \
	sh -c "/usr/sbin/wgc --version | head -1 | grep -qx 'wgc v$version'"
check "man finds wgc(8) and libwgc(3)" sh -c "man -w 8 wgc && man -w 3 libwgc"
check "systemd-analyze verify wgc@wg0.service (installed)" \
	systemd-analyze verify /lib/systemd/system/wgc@wg0.service
check "the installed library exports exactly abi/libwgc.sym" \
	scripts/check-abi.sh "/usr/lib/$multiarch/libwgc.so.$version" deb-abi
rm -f build/results/deb-abi.txt
# shellcheck disable=SC2046 # pkg-config's output is a word list
check "the example builds with pkg-config against the packages" \
	run cc -std=gnu11 -Wall -Wextra -Werror -o "$T/example" examples/two_endpoints.c \
	$(pkg-config --cflags --libs wgc)
# (ldconfig may name it by /lib, the same directory on a merged /usr)
check "the example runs on the packaged libwgc.so.0" \
	sh -c "ldd '$T/example' | grep -q 'libwgc.so.0 => .*/lib/$multiarch/libwgc.so.0' &&
		'$T/example' | grep -q 'bob: delivered .*hello bob'"
# python3-wgc, imported from outside the tree, finds the packaged libwgc.so.0.
mkdir "$T/py"
cp bindings/python/examples/loopback.py "$T/py/"
check "python3-wgc imports and loads the packaged libwgc.so.0" \
	sh -c "cd '$T/py' && env -u WGC_LIBRARY -u PYTHONPATH PYTHONDONTWRITEBYTECODE=1 \
		/usr/bin/python3 -c 'import wgc, wgc._lib as l; print(wgc.__file__, wgc.version(),
		l._find())' | tee py.out &&
		grep -qx '/usr/lib/python3/dist-packages/wgc/__init__.py $version libwgc.so.0' py.out &&
		env -u PYTHONPATH PYTHONDONTWRITEBYTECODE=1 /usr/bin/python3 loopback.py |
		grep -q 'hello bob'"
echo "+ WGC=/usr/sbin/wgc scripts/demo.sh (log in build/deb-demo.log)" >&2
WGC=/usr/sbin/wgc scripts/demo.sh >"$ROOT/build/deb-demo.log" 2>&1
rc=$?
check "make demo's scenario with the installed /usr/sbin/wgc" test $rc -eq 0
check "the demo ran /usr/sbin/wgc v$version" \
	grep -qF "daemon in each (/usr/sbin/wgc, wgc v$version)" build/deb-demo.log
check "the demo's ping went through the tunnel" grep -q ' 0% packet loss' build/deb-demo.log
check "the demo's iperf3 ran" grep -q 'receiver' build/deb-demo.log
[ $rc -eq 0 ] || tail -30 build/deb-demo.log

# ---- remove ----
installed=false
check "apt-get purge ${PKGS[*]}" run env DEBIAN_FRONTEND=noninteractive \
	apt-get purge -y -qq "${PKGS[@]}" >"$T/apt.log" 2>&1 || cat "$T/apt.log"
check "/usr/sbin/wgc is gone" test ! -e /usr/sbin/wgc
check "libwgc is gone" test ! -e "/usr/lib/$multiarch/libwgc.so.0"
record
