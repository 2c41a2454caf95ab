#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# make check-install: `make install` into a temporary DESTDIR, then use the installed files the
# way a developer would: build examples/two_endpoints.c with nothing but
# `pkg-config --cflags --libs wgc` (shared) and `pkg-config --static ...` with -static, run both,
# compare the installed library's exported symbols with abi/libwgc.sym, check that the installed
# wgc, wgc.pc and wgc.h agree on the version, then `make uninstall` and check nothing is left.
# Records "PASSED FAILED" in build/results/install.txt.
set -u
cd "$(dirname "$0")/.."
ROOT=$PWD
DEST=$(mktemp -d /tmp/wgc-install.XXXXXX)
WORK=$(mktemp -d /tmp/wgc-install-work.XXXXXX)
trap 'rm -rf "$DEST" "$WORK"' EXIT
PREFIX=/usr/local
. scripts/checks.sh
run() { echo "+ $*" >&2; "$@"; }

version=$(make -s --no-print-directory version)
lib=libwgc.so.$version
run make -s --no-print-directory install DESTDIR="$DEST" PREFIX=$PREFIX >"$WORK/install.log" 2>&1 ||
	{ cat "$WORK/install.log"; fail "make install DESTDIR=$DEST"; }
for f in sbin/wgc bin/wgc-proxy "lib/$lib" lib/libwgc.a include/wgc.h lib/pkgconfig/wgc.pc \
	$(make -s --no-print-directory install-list-extra); do
	check "installed $PREFIX/$f" test -f "$DEST$PREFIX/$f"
done
check "libwgc.so.0 -> $lib" test "$(readlink "$DEST$PREFIX/lib/libwgc.so.0")" = "$lib"
check "libwgc.so -> $lib" test "$(readlink "$DEST$PREFIX/lib/libwgc.so")" = "$lib"

# pkg-config sees only the installed tree (and the system's libsodium.pc, which wgc.pc requires).
export PKG_CONFIG_SYSROOT_DIR=$DEST
export PKG_CONFIG_LIBDIR=$DEST$PREFIX/lib/pkgconfig:$(pkg-config --variable pc_path pkg-config)
check "pkg-config --modversion wgc is $version" test "$(pkg-config --modversion wgc)" = "$version"
cflags=$(pkg-config --cflags wgc)
libs=$(pkg-config --libs wgc)
static_libs=$(pkg-config --static --libs wgc)
echo "pkg-config: cflags '$cflags', libs '$libs', static libs '$static_libs'"
cd "$WORK" || exit 1
cp "$ROOT/examples/two_endpoints.c" .
CFLAGS="-std=gnu11 -Wall -Wextra -Werror -O2"
# shellcheck disable=SC2086 # the flags are word lists
check "example builds against the shared library" \
	run cc $CFLAGS $cflags -o ex-shared two_endpoints.c $libs
check "shared example needs libwgc.so.0" \
	sh -c "readelf -d ex-shared | grep -q 'NEEDED.*\\[libwgc.so.0\\]'"
check "shared example loads the installed library" \
	sh -c "LD_LIBRARY_PATH=$DEST$PREFIX/lib ldd ex-shared | grep -q '$DEST$PREFIX/lib/libwgc.so.0'"
check "shared example runs (handshake, data both ways)" \
	sh -c "LD_LIBRARY_PATH=$DEST$PREFIX/lib ./ex-shared >shared.out &&
		grep -q 'bob: delivered .*hello bob' shared.out &&
		grep -q 'alice: delivered .*hello alice' shared.out"
# shellcheck disable=SC2086
check "example builds fully static" \
	run cc $CFLAGS -static $cflags -o ex-static two_endpoints.c $static_libs
check "static example has no dynamic section" sh -c "! readelf -d ex-static | grep -q NEEDED"
check "static example runs (handshake, data both ways)" \
	sh -c "./ex-static >static.out && grep -q 'bob: delivered .*hello bob' static.out &&
		grep -q 'alice: delivered .*hello alice' static.out"
cd "$ROOT" || exit 1
check "installed library exports exactly abi/libwgc.sym" \
	scripts/check-abi.sh "$DEST$PREFIX/lib/$lib" install-abi
check "installed wgc --version says v$version" \
	sh -c "'$DEST$PREFIX/sbin/wgc' --version | head -1 | grep -qx 'wgc v$version'"
check "the installed wgc-proxy runs (--version)" "$DEST$PREFIX/bin/wgc-proxy" --version
# The header's macros and the library's wgc_version() agree with the Makefile's version.
cat >"$WORK/version.c" <<'C'
#include <stdio.h>
#include <wgc.h>
int main(void)
{
	printf("%s %s %d.%d.%d %x\n", WGC_VERSION_STRING, wgc_version(), WGC_VERSION_MAJOR,
	       WGC_VERSION_MINOR, WGC_VERSION_PATCH, WGC_VERSION_NUMBER);
	return 0;
}
C
# shellcheck disable=SC2086
cc $CFLAGS $cflags -o "$WORK/version" "$WORK/version.c" $libs
IFS=. read -r ma mi pa <<<"$version"
want=$(printf '%s %s %s %x' "$version" "$version" "$version" $(((ma << 16) | (mi << 8) | pa)))
got=$(LD_LIBRARY_PATH=$DEST$PREFIX/lib "$WORK/version")
check "installed wgc.h and wgc_version() say $version ($got)" test "$got" = "$want"
run make -s --no-print-directory uninstall DESTDIR="$DEST" PREFIX=$PREFIX >/dev/null
left=$(find "$DEST" \( -type f -o -type l \) | sed "s|^$DEST||")
check "make uninstall leaves no file" test -z "$left"
[ -z "$left" ] || echo "left behind: $left"
rm -f build/results/install-abi.txt
mkdir -p build/results
echo "$PASSED $FAILED" >build/results/install.txt
echo "install: $PASSED passed, $FAILED failed"
[ "$FAILED" -eq 0 ]
