/* SPDX-License-Identifier: MIT */
/*
 * proxy/config: wireproxy's configuration format, parsed into one struct config. The parser is a
 * pure function over bytes with line numbers in every error ("file:line: what"); only
 * config_load touches the file system (the file itself and a WGConfig import). Names are not
 * resolved here: endpoints and targets keep their host text, and the proxy resolves them.
 *
 * Accepted: [Interface] PrivateKey, Address (v4/v6, with or without a prefix, repeatable, comma
 * lists), DNS, MTU, ListenPort (wg-quick's Table/PreUp/PostUp/PreDown/PostDown/SaveConfig/FwMark
 * and wireproxy's CheckAlive/CheckAliveInterval are accepted and ignored); [Peer] PublicKey,
 * PresharedKey, Endpoint (host:port, [v6]:port), AllowedIPs (default 0.0.0.0/0, ::/0),
 * PersistentKeepalive; WGConfig = path before any section; the service sections [Socks5], [http],
 * [TCPClientTunnel], [TCPServerTunnel], [STDIOTunnel], [UDPClientTunnel], [UDPServerTunnel].
 * Section and key names are case-insensitive; '#' and ';' start a comment at the start of a line
 * or after white space; a value may be double-quoted.
 */
#ifndef WGC_PROXY_CONFIG_H
#define WGC_PROXY_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "wgc.h"

enum {
	CONFIG_ADDRESSES_MAX = 8,
	CONFIG_DNS_MAX = 4,
	CONFIG_ALLOWED_IPS_MAX = 256, /* per peer */
	CONFIG_PEERS_MAX = 1024,
	CONFIG_SERVICES_MAX = 256,
	CONFIG_HOST_MAX = 255, /* a DNS name's longest text */
	CONFIG_CRED_MAX = 255, /* SOCKS5 user name and password: one length byte each */
	CONFIG_ERROR_MAX = 512,
	CONFIG_MTU_MIN = 576,
	CONFIG_MTU_MAX = 1500,
};

/* host:port as written: host is an IPv4/IPv6 literal or a name (resolved by the proxy). */
struct config_hostport {
	char host[CONFIG_HOST_MAX + 1];
	uint16_t port;
};

struct config_peer {
	uint8_t public_key[WGC_KEY_LEN];
	uint8_t preshared_key[WGC_KEY_LEN];
	bool has_preshared_key;
	bool has_endpoint;
	struct config_hostport endpoint;
	struct wgc_prefix allowed_ips[CONFIG_ALLOWED_IPS_MAX];
	size_t allowed_ip_count;
	uint16_t keepalive_s; /* 0 = off */
	const char *file;     /* where the section starts (for run-time errors) */
	int line;
};

enum config_service_kind {
	SERVICE_SOCKS5,
	SERVICE_HTTP,
	SERVICE_TCP_CLIENT,
	SERVICE_TCP_SERVER,
	SERVICE_STDIO,
	SERVICE_UDP_CLIENT,
	SERVICE_UDP_SERVER,
};

struct config_service {
	enum config_service_kind kind;
	bool has_bind;
	struct config_hostport bind; /* Socks5, http, *ClientTunnel */
	bool has_target;
	struct config_hostport target; /* tunnels */
	uint16_t listen_port;          /* *ServerTunnel: port on the tunnel address */
	bool has_listen_port;
	bool has_auth;
	char username[CONFIG_CRED_MAX + 1];
	char password[CONFIG_CRED_MAX + 1];
	const char *file;
	int line;
};

struct config {
	uint8_t private_key[WGC_KEY_LEN];
	bool has_private_key;
	struct wgc_prefix addresses[CONFIG_ADDRESSES_MAX]; /* our tunnel addresses, with prefix */
	size_t address_count;
	struct wgc_addr dns[CONFIG_DNS_MAX]; /* port 53 */
	size_t dns_count;
	uint16_t mtu; /* 0 = default */
	bool has_listen_port;
	uint16_t listen_port;
	struct config_peer *peers; /* peer_count entries, heap */
	size_t peer_count;
	struct config_service *services;
	size_t service_count;
	bool has_stdio; /* one [STDIOTunnel]: the program's standard input and output are its */
	/* file names of the sections (the main file and a WGConfig import), heap */
	char *files[2];
};

/*
 * Reads a file's whole text into *text (heap, NUL-terminated, *len bytes without the NUL).
 * Returns false with a message in err on failure. The parser uses it for WGConfig.
 */
typedef bool (*config_read_fn)(void *ctx, const char *path, char **text, size_t *len, char *err,
			       size_t err_size);

/*
 * Parses text[0..len) (named name in messages) into cfg, which must be zeroed (or freshly
 * config_free'd). read (NULL: WGConfig is refused) loads a WGConfig import. Returns true, or
 * false with one line "name:line: what" in err (err_size >= CONFIG_ERROR_MAX is enough); cfg
 * then still needs config_free. Checks the whole file: keys required per section, at least one
 * [Interface] with a PrivateKey and one [Peer].
 */
bool config_parse(struct config *cfg, const char *name, const char *text, size_t len,
		  config_read_fn read, void *read_ctx, char *err, size_t err_size);
/* config_parse on the file at path, read with the standard reader. */
bool config_load(struct config *cfg, const char *path, char *err, size_t err_size);
/* Wipes the keys and passwords and frees what cfg holds; cfg is zeroed. */
void config_free(struct config *cfg);

/* Section name of a service kind as written in files ("Socks5", "TCPClientTunnel", ...). */
const char *config_service_name(enum config_service_kind kind);

/* Decodes a 44-character base64 WireGuard key in constant time. */
bool config_key_from_base64(uint8_t key[WGC_KEY_LEN], const char *text);

#endif
