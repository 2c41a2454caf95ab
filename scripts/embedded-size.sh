#!/usr/bin/env bash
# Prints the size of libwgc for the embedded target: text, data and bss of crypto/ and core/
# objects (every function compiled, before --gc-sections) and of the parts of them the firmware
# keeps (from its link map). Usage: embedded-size.sh SIZE-TOOL EMBEDDED-BUILD-DIR
set -euo pipefail
size_tool=$1; dir=$2
sum() { # prints "text data bss" summed over the objects given
	"$size_tool" "$@" | awk 'NR > 1 { t += $1; d += $2; b += $3 } END { printf "%d %d %d", t, d, b }'
}
read -r ct cd cb <<< "$(sum "$dir"/crypto/*.o "$dir"/crypto/portable/*.o)"
read -r ot od ob <<< "$(sum "$dir"/core/*.o)"
# Bytes of .text* and .rodata* input sections the linker kept from libwgc.a, split by crypto/ and core/
# (archive members are named by file name only: crypto's are listed here).
kept() {
	python3 - "$dir/firmware.map" "$1" <<'PY'
import re, sys
CRYPTO = {'blake2s.o', 'common.o', 'aead.o', 'chacha20.o', 'poly1305.o', 'x25519.o', 'portable.o'}
text = open(sys.argv[1]).read().split('Linker script and memory map', 1)[1]
total, section = 0, None
for line in text.split('\n'):
    m = re.match(r'^ (\.(?:text|rodata)\S*)\s*(.*)$', line)
    if m:
        section, rest = m.group(1), m.group(2)
        if not rest:
            continue
        line = ' ' + rest
    elif section is None:
        continue
    m = re.match(r'^\s+0x[0-9a-f]+\s+0x([0-9a-f]+)\s+\S*libwgc\.a\((\S+)\)', line)
    if m and section:
        is_crypto = m.group(2) in CRYPTO
        if (sys.argv[2] == 'crypto') == is_crypto:
            total += int(m.group(1), 16)
    section = None
print(total)
PY
}
kc=$(kept crypto); ko=$(kept core)
printf 'embedded: libwgc for Cortex-M4 (-mcpu=cortex-m4 -mthumb -Os, CRYPTO=portable):\n'
printf '  %-28s %7s %6s %6s   %s\n' "" text data bss "text+rodata kept by the firmware"
printf '  %-28s %7d %6d %6d   %d\n' "crypto/ (portable backend)" "$ct" "$cd" "$cb" "$kc"
printf '  %-28s %7d %6d %6d   %d\n' "core/" "$ot" "$od" "$ob" "$ko"
printf '  %-28s %7d %6d %6d   %d  (target: text <= 32768)\n' "libwgc" $((ct + ot)) $((cd + od)) \
	$((cb + ob)) $((kc + ko))
[ $((ct + ot)) -le 32768 ] || { echo "embedded: libwgc text over 32 KiB"; exit 1; }
