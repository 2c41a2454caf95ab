/* SPDX-License-Identifier: MIT */
/* One base64 digit, for the keys of the configuration file and HTTP Basic credentials. */
#ifndef WGC_PROXY_BASE64_H
#define WGC_PROXY_BASE64_H

/* The value of one base64 character (RFC 4648 alphabet), or -1, without a branch or table index
 * on the character: both callers decode secrets (keys, passwords). */
static inline int base64_value(unsigned char c)
{
	int ch = c;
	int v = -1;

	/* (lo - 1 - ch) & (ch - hi - 1) is negative exactly when lo <= ch <= hi */
	v += (((('A' - 1) - ch) & (ch - ('Z' + 1))) >> 8) & (ch - 'A' + 1);
	v += (((('a' - 1) - ch) & (ch - ('z' + 1))) >> 8) & (ch - 'a' + 27);
	v += (((('0' - 1) - ch) & (ch - ('9' + 1))) >> 8) & (ch - '0' + 53);
	v += (((('+' - 1) - ch) & (ch - ('+' + 1))) >> 8) & 63;
	v += (((('/' - 1) - ch) & (ch - ('/' + 1))) >> 8) & 64;
	return v;
}

#endif
