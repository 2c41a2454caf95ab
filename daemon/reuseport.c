/* SPDX-License-Identifier: MIT */
/*
 * Lane steering for a reuseport group (reuseport.h): the classic BPF program and its twin in C.
 * The two must pick the same lane for every datagram; tests/unit/test_reuseport.c holds them
 * against each other through real sockets.
 *
 * What the program sees: for UDP the kernel runs a reuseport group's program with the skb's data
 * advanced past the UDP header (reuseport_select_sock is called with hdr_len = sizeof(struct
 * udphdr), and run_bpf pulls that much first), so absolute loads start at the first payload
 * byte and "len" is the payload length. A load past the end ends the program with 0 (lane 0),
 * but the lengths are checked first anyway so the program reads the same as the C below. A return
 * value at or above the group's size makes the kernel fall back to its hash; "mod n" keeps every
 * return below n.
 */
#include "daemon/reuseport.h"

#include <errno.h>
#include <linux/filter.h>
#include <string.h>
#include <sys/socket.h>

#include "daemon/log.h"

/* Message types (the first byte of the type word) and where our receiver index's most
 * significant byte is (whitepaper 5.4.3 - 5.4.6: the index is the 4 bytes after the type word
 * in a cookie reply and a data message, after the sender index in a response). */
enum {
	TYPE_RESPONSE = 2,
	TYPE_COOKIE_REPLY = 3,
	TYPE_DATA = 4,
	RESPONSE_INDEX_TOP = 8 + 3,
	COOKIE_DATA_INDEX_TOP = 4 + 3,
};

/* The program's instructions by position, so that the jumps below are written as "to label". */
enum {
	AT_TYPE,          /* A = payload[0] (a load past the end of an empty datagram: lane 0) */
	AT_IS_DATA,       /* data: to AT_LEN_7 */
	AT_IS_COOKIE,     /* cookie reply: to AT_LEN_7 */
	AT_IS_RESPONSE,   /* response: to AT_LEN_11; anything else: lane 0 */
	AT_LEN_7,         /* A = len */
	AT_HAS_7,         /* len > 7, else lane 0 */
	AT_LOAD_7,        /* A = payload[7] */
	AT_JUMP_MOD,      /* to AT_MOD */
	AT_LEN_11,        /* A = len */
	AT_HAS_11,        /* len > 11, else lane 0 */
	AT_LOAD_11,       /* A = payload[11] */
	AT_MOD,           /* A = A mod n */
	AT_RET_LANE,      /* return A */
	AT_RET_ZERO,      /* return 0 */
	PROGRAM_LEN,
};

/* A jump's offset: how many instructions after the next one its target is. */
#define TO(from, to) ((to) - (from) - 1)

int reuseport_attach_steering(int fd, unsigned n)
{
	struct sock_filter program[PROGRAM_LEN] = {
		[AT_TYPE] = BPF_STMT(BPF_LD | BPF_B | BPF_ABS, 0),
		[AT_IS_DATA] = BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, TYPE_DATA,
					TO(AT_IS_DATA, AT_LEN_7), 0),
		[AT_IS_COOKIE] = BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, TYPE_COOKIE_REPLY,
					  TO(AT_IS_COOKIE, AT_LEN_7), 0),
		[AT_IS_RESPONSE] = BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, TYPE_RESPONSE,
					    TO(AT_IS_RESPONSE, AT_LEN_11),
					    TO(AT_IS_RESPONSE, AT_RET_ZERO)),
		[AT_LEN_7] = BPF_STMT(BPF_LD | BPF_W | BPF_LEN, 0),
		[AT_HAS_7] = BPF_JUMP(BPF_JMP | BPF_JGT | BPF_K, COOKIE_DATA_INDEX_TOP, 0,
				      TO(AT_HAS_7, AT_RET_ZERO)),
		[AT_LOAD_7] = BPF_STMT(BPF_LD | BPF_B | BPF_ABS, COOKIE_DATA_INDEX_TOP),
		[AT_JUMP_MOD] = BPF_JUMP(BPF_JMP | BPF_JA, TO(AT_JUMP_MOD, AT_MOD), 0, 0),
		[AT_LEN_11] = BPF_STMT(BPF_LD | BPF_W | BPF_LEN, 0),
		[AT_HAS_11] = BPF_JUMP(BPF_JMP | BPF_JGT | BPF_K, RESPONSE_INDEX_TOP, 0,
				       TO(AT_HAS_11, AT_RET_ZERO)),
		[AT_LOAD_11] = BPF_STMT(BPF_LD | BPF_B | BPF_ABS, RESPONSE_INDEX_TOP),
		[AT_MOD] = BPF_STMT(BPF_ALU | BPF_MOD | BPF_K, n),
		[AT_RET_LANE] = BPF_STMT(BPF_RET | BPF_A, 0),
		[AT_RET_ZERO] = BPF_STMT(BPF_RET | BPF_K, 0),
	};
	struct sock_fprog prog = { .len = PROGRAM_LEN, .filter = program };
	int err;

	if (n < 1 || n > REUSEPORT_LANES_MAX)
		return -EINVAL;
	if (n == 1)
		return 0;
	if (setsockopt(fd, SOL_SOCKET, SO_ATTACH_REUSEPORT_CBPF, &prog, sizeof(prog)) < 0) {
		err = errno;
		log_error("attaching the reuseport steering program for %u lanes to socket %d: %s", n,
			  fd, strerror(err));
		return -err;
	}
	return 0;
}

unsigned reuseport_lane_of(const uint8_t *payload, size_t len, unsigned n)
{
	size_t top;

	if (n <= 1 || len < 1)
		return 0;
	switch (payload[0]) {
	case TYPE_RESPONSE:
		top = RESPONSE_INDEX_TOP;
		break;
	case TYPE_COOKIE_REPLY:
	case TYPE_DATA:
		top = COOKIE_DATA_INDEX_TOP;
		break;
	default:
		return 0; /* an initiation names its sender only inside the encrypted static */
	}
	if (len <= top)
		return 0;
	return payload[top] % n;
}
