# SPDX-License-Identifier: MIT
"""The ctypes declarations match wgc.h as the C compiler sees it: every structure's size and
field offsets, and every constant the package hard-codes. Compiles a small program against
the header ($WGC_INCLUDE, else the checkout's include/)."""
import ctypes
import os
import shutil
import subprocess

import pytest

from wgc import _lib

HERE = os.path.dirname(os.path.abspath(__file__))
INCLUDE = os.environ.get("WGC_INCLUDE", os.path.join(HERE, "..", "..", "..", "include"))

STRUCTS = {
    "wgc_addr": _lib.Addr, "wgc_prefix": _lib.Prefix, "wgc_action": _lib.Action,
    "wgc_actions": _lib.Actions, "wgc_limits": _lib.Limits, "wgc_config": _lib.Config,
    "wgc_peer_stats": _lib.PeerStats,
}
CONSTANTS = {
    "WGC_KEY_LEN": _lib.KEY_LEN, "WGC_DATA_HEADROOM": _lib.DATA_HEADROOM,
    "WGC_DATA_TAILROOM": _lib.DATA_TAILROOM, "WGC_ACTION_SCRATCH_MIN": _lib.ACTION_SCRATCH_MIN,
    "WGC_MAX_CONTROL_MESSAGE_LEN": _lib.MAX_CONTROL_MESSAGE_LEN,
    "WGC_DROP__COUNT": _lib.DROP_COUNT, "WGC_DROP_PEER_GONE": _lib.DROP_PEER_GONE,
    "WGC_AF_INET": _lib.AF_INET, "WGC_AF_INET6": _lib.AF_INET6,
    "WGC_ACTION_SEND": _lib.ACTION_SEND, "WGC_ACTION_DELIVER": _lib.ACTION_DELIVER,
    "WGC_ACTION_FLUSH": _lib.ACTION_FLUSH, "WGC_ACTION_PURGE": _lib.ACTION_PURGE,
    "WGC_VERDICT_STAGE": _lib.VERDICT_STAGE, "WGC_VERSION_MAJOR": _lib.SONAME_MAJOR,
}
CONSTANTS.update({name: value for value, name in _lib.STATUS_NAMES.items()})


@pytest.fixture(scope="module")
def c_layout(tmp_path_factory):
    if not shutil.which("cc"):
        pytest.fail("needs a C compiler (cc)")
    lines = ['#include <stddef.h>', '#include <stdio.h>', '#include "wgc.h"',
             "int main(void) {"]
    for cname, cls in STRUCTS.items():
        lines.append('printf("%s %%zu\\n", sizeof(struct %s));' % (cname, cname))
        for field, _ in cls._fields_:
            lines.append('printf("%s.%s %%zu\\n", offsetof(struct %s, %s));'
                         % (cname, field, cname, field))
    for name in CONSTANTS:
        lines.append('printf("%s %%lld\\n", (long long)%s);' % (name, name))
    lines.append("return 0; }")
    d = tmp_path_factory.mktemp("layout")
    (d / "layout.c").write_text("\n".join(lines))
    subprocess.run(["cc", "-std=c11", "-Wall", "-Werror", "-I", INCLUDE, "-o", str(d / "layout"),
                    str(d / "layout.c")], check=True)
    out = subprocess.run([str(d / "layout")], check=True, capture_output=True, text=True).stdout
    return dict(line.rsplit(" ", 1) for line in out.splitlines())


@pytest.mark.parametrize("cname", sorted(STRUCTS))
def test_struct_layout(c_layout, cname):
    cls = STRUCTS[cname]
    assert ctypes.sizeof(cls) == int(c_layout[cname])
    for field, _ in cls._fields_:
        assert getattr(cls, field).offset == int(c_layout["%s.%s" % (cname, field)]), field


def test_constants(c_layout):
    for name, value in CONSTANTS.items():
        assert int(c_layout[name]) == value, name
