#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Ordering under parallel crypto (issue 4): with WGC_WORKERS=3 forced (more threads than this
# machine may have cores), a 1 GiB TCP stream wgc -> wgc must arrive whole with a matching SHA-256,
# and the daemons' workers must really have taken part in batches (wgc_crypto_worker_joins).
# TCP would repair reordering silently, so a UDP check follows: numbered datagrams sent in one burst
# through the tunnel must arrive in order (a reordered pair is counted; loss is allowed). Then the
# same with WGC_WORKERS=0 (everything inline) for the UDP check, to show the fallback works.
# wgc only: the property belongs to wgc's pipeline (wgc<->wireguard-go runs in tunnel.sh).
#
#   ┌──────────── ns A ────────────┐          ┌──────────── ns B ────────────┐
#   │ IF_A  10.200.0.1/24          │          │ IF_B  10.200.0.2/24          │
#   │       (wgc, 3 workers)       │◀════════▶│       (wgc, 3 workers)       │
#   │ veth0 10.250.0.1/24   :51001 ├──────────┤ :51002  10.250.0.2/24 veth0  │
#   └──────────────────────────────┘   veth   └──────────────────────────────┘
. "$(dirname "$0")/lib.sh"
require_env

MB=${WORKERS_TEST_MB:-1024}

parallel_batches() { counter "$1" "$2" wgc_crypto_parallel_batches; }
worker_joins() { counter "$1" "$2" wgc_crypto_worker_joins; }

# Test: 1 GiB over TCP with three workers per daemon, hash checked
export WGC_WORKERS=3
setup_pair wgc wgc || { fail "setup wgc wgc"; finish; exit; }
LABEL="wgc->wgc (WGC_WORKERS=3)"
say "$LABEL: $MB MiB over TCP"
check "$LABEL: workers started" grep -q "3 crypto worker thread(s)" "$TMP/$IF_A.log"
check "$LABEL: first ping (handshake)" ping_ok A 10.200.0.2 5
check "$LABEL: $MB MiB A->B, SHA-256 matches" transfer_ok A B 10.200.0.2 "$MB"
echo "parallel batches: A $(parallel_batches A "$IF_A"), B $(parallel_batches B "$IF_B")"
echo "worker joins: A $(worker_joins A "$IF_A"), B $(worker_joins B "$IF_B")"
check "$LABEL: A sealed batches in parallel" [ "$(worker_joins A "$IF_A")" -gt 0 ]
check "$LABEL: B opened batches in parallel" [ "$(worker_joins B "$IF_B")" -gt 0 ]

# Test: UDP datagrams keep their order through parallel seal and open
say "$LABEL: UDP order"
check "$LABEL: 20000 datagrams arrive in order" udp_order_ok A B 10.200.0.2
teardown_pair

# Test: WGC_WORKERS=0 runs everything inline
export WGC_WORKERS=0
setup_pair wgc wgc || { fail "setup wgc wgc"; finish; exit; }
LABEL="wgc->wgc (WGC_WORKERS=0)"
say "$LABEL: inline crypto"
check "$LABEL: no worker threads" grep -q "0 crypto worker thread(s)" "$TMP/$IF_A.log"
check "$LABEL: first ping (handshake)" ping_ok A 10.200.0.2 5
check "$LABEL: 20000 datagrams arrive in order" udp_order_ok A B 10.200.0.2
check "$LABEL: nothing ran in parallel" [ "$(parallel_batches A "$IF_A")" -eq 0 ]
teardown_pair
finish
