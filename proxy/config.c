/* SPDX-License-Identifier: MIT */
/*
 * The configuration parser: one pass over lines, a section state, one handler per key. Every
 * value is validated where it is read, every section's required keys when the section ends, so
 * the first problem in file order is the one reported. Keys and passwords are wiped when the
 * config is freed.
 */
#include "proxy/config.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include <sodium.h>

#include "proxy/base64.h"

enum {
	LINE_MAX_LEN = 4096, /* longer lines are an error, not truncated */
	CONFIG_FILE_MAX = 1 << 20,
};

enum section {
	SECTION_NONE,
	SECTION_INTERFACE,
	SECTION_PEER,
	SECTION_SERVICE,
};

struct parser {
	struct config *cfg;
	const char *name;
	int line;
	enum section section;
	int section_line;
	int interface_count;
	int depth; /* 1 inside a WGConfig import */
	config_read_fn read;
	void *read_ctx;
	char *err;
	size_t err_size;
};

static bool fail(struct parser *ps, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static bool fail(struct parser *ps, const char *fmt, ...)
{
	va_list ap;
	int n;

	n = snprintf(ps->err, ps->err_size, "%s:%d: ", ps->name, ps->line);
	if (n < 0 || (size_t)n >= ps->err_size)
		return false;
	va_start(ap, fmt);
	vsnprintf(ps->err + n, ps->err_size - (size_t)n, fmt, ap);
	va_end(ap);
	return false;
}

/* ---- values ---- */

bool config_key_from_base64(uint8_t key[WGC_KEY_LEN], const char *text)
{
	/* 32 bytes = 10 groups of 3 bytes, then 2 bytes in "XXX=" */
	unsigned bad = 0;
	size_t i;

	if (strlen(text) != 44 || text[43] != '=')
		return false;
	for (i = 0; i < 11; i++) {
		int v0 = base64_value((unsigned char)text[i * 4]);
		int v1 = base64_value((unsigned char)text[i * 4 + 1]);
		int v2 = base64_value((unsigned char)text[i * 4 + 2]);
		int v3 = i == 10 ? 0 : base64_value((unsigned char)text[i * 4 + 3]);
		uint32_t bits = (uint32_t)(v0 & 63) << 18 | (uint32_t)(v1 & 63) << 12 |
				(uint32_t)(v2 & 63) << 6 | (uint32_t)(v3 & 63);

		bad |= (unsigned)(v0 | v1 | v2 | v3) >> 31;
		key[i * 3] = (uint8_t)(bits >> 16);
		key[i * 3 + 1] = (uint8_t)(bits >> 8);
		if (i < 10)
			key[i * 3 + 2] = (uint8_t)bits;
		else
			bad |= bits & 0xff; /* the unused low bits of the last group must be zero */
	}
	if (bad) {
		sodium_memzero(key, WGC_KEY_LEN);
		return false;
	}
	return true;
}

static bool parse_u16(const char *text, unsigned long max, uint16_t *out)
{
	char *end;
	unsigned long v;

	if (!isdigit((unsigned char)text[0]))
		return false;
	errno = 0;
	v = strtoul(text, &end, 10);
	if (errno != 0 || *end != '\0' || v > max)
		return false;
	*out = (uint16_t)v;
	return true;
}

/* An IPv4 or IPv6 literal into family/ip (no brackets, no zone). */
static bool parse_ip(const char *text, uint8_t *family, uint8_t ip[16])
{
	memset(ip, 0, 16);
	if (inet_pton(AF_INET, text, ip) == 1) {
		*family = WGC_AF_INET;
		return true;
	}
	if (inet_pton(AF_INET6, text, ip) == 1) {
		*family = WGC_AF_INET6;
		return true;
	}
	return false;
}

/* "ip" or "ip/cidr"; a missing prefix means the host's full length. */
static bool parse_prefix(const char *text, struct wgc_prefix *out)
{
	char buf[64];
	char *slash;
	uint16_t cidr;

	if (strlen(text) >= sizeof(buf))
		return false;
	strcpy(buf, text);
	slash = strchr(buf, '/');
	if (slash)
		*slash = '\0';
	memset(out, 0, sizeof(*out));
	if (!parse_ip(buf, &out->family, out->ip))
		return false;
	if (!slash) {
		out->cidr = out->family == WGC_AF_INET ? 32 : 128;
		return true;
	}
	if (!parse_u16(slash + 1, out->family == WGC_AF_INET ? 32 : 128, &cidr))
		return false;
	out->cidr = (uint8_t)cidr;
	return true;
}

/* "host:port", "[v6]:port", "v4:port"; host names are checked for shape only. */
static bool parse_hostport(const char *text, struct config_hostport *out, const char **why)
{
	const char *colon;
	size_t host_len;
	const char *host = text;

	*why = "expected host:port";
	if (text[0] == '[') {
		const char *close = strchr(text, ']');

		if (!close || close[1] != ':')
			return false;
		host = text + 1;
		host_len = (size_t)(close - host);
		colon = close + 1;
	} else {
		colon = strrchr(text, ':');
		if (!colon)
			return false;
		host_len = (size_t)(colon - text);
		if (memchr(text, ':', host_len)) {
			*why = "an IPv6 address needs brackets: [addr]:port";
			return false;
		}
	}
	if (host_len == 0 || host_len > CONFIG_HOST_MAX) {
		*why = "bad host length";
		return false;
	}
	memcpy(out->host, host, host_len);
	out->host[host_len] = '\0';
	if (text[0] == '[') {
		uint8_t family;
		uint8_t ip[16];

		if (!parse_ip(out->host, &family, ip) || family != WGC_AF_INET6) {
			*why = "bad IPv6 address in brackets";
			return false;
		}
	}
	for (size_t i = 0; i < host_len; i++) {
		unsigned char c = (unsigned char)out->host[i];

		if (!isalnum(c) && c != '.' && c != '-' && c != '_' && c != ':') {
			*why = "bad character in host";
			return false;
		}
	}
	if (!parse_u16(colon + 1, 65535, &out->port)) {
		*why = "bad port";
		return false;
	}
	return true;
}

/* Splits a comma list in place; calls fn on each trimmed, non-empty item. */
static bool for_each_item(struct parser *ps, char *value, bool (*fn)(struct parser *, char *))
{
	char *save = NULL;
	bool any = false;

	for (char *item = strtok_r(value, ",", &save); item; item = strtok_r(NULL, ",", &save)) {
		char *end;

		while (isspace((unsigned char)*item))
			item++;
		end = item + strlen(item);
		while (end > item && isspace((unsigned char)end[-1]))
			*--end = '\0';
		if (*item == '\0')
			continue;
		if (!fn(ps, item))
			return false;
		any = true;
	}
	if (!any)
		return fail(ps, "empty list");
	return true;
}

/* ---- [Interface] ---- */

static bool add_address(struct parser *ps, char *item)
{
	struct config *cfg = ps->cfg;

	if (cfg->address_count == CONFIG_ADDRESSES_MAX)
		return fail(ps, "more than %d addresses", CONFIG_ADDRESSES_MAX);
	if (!parse_prefix(item, &cfg->addresses[cfg->address_count]))
		return fail(ps, "bad address \"%s\"", item);
	cfg->address_count++;
	return true;
}

static bool add_dns(struct parser *ps, char *item)
{
	struct config *cfg = ps->cfg;
	struct wgc_addr *a;

	if (cfg->dns_count == CONFIG_DNS_MAX)
		return fail(ps, "more than %d DNS servers", CONFIG_DNS_MAX);
	a = &cfg->dns[cfg->dns_count];
	memset(a, 0, sizeof(*a));
	if (!parse_ip(item, &a->family, a->ip))
		return fail(ps, "bad DNS server \"%s\" (an IP address)", item);
	a->port = 53;
	cfg->dns_count++;
	return true;
}

static bool interface_key(struct parser *ps, const char *key, char *value)
{
	struct config *cfg = ps->cfg;
	static const char *const ignored[] = { "Table", "PreUp", "PostUp", "PreDown", "PostDown",
					       "SaveConfig", "FwMark", "CheckAlive",
					       "CheckAliveInterval" };

	if (strcasecmp(key, "PrivateKey") == 0) {
		if (cfg->has_private_key)
			return fail(ps, "duplicate PrivateKey");
		if (!config_key_from_base64(cfg->private_key, value))
			return fail(ps, "PrivateKey is not a base64 key of 32 bytes");
		cfg->has_private_key = true;
		return true;
	}
	if (strcasecmp(key, "Address") == 0)
		return for_each_item(ps, value, add_address);
	if (strcasecmp(key, "DNS") == 0)
		return for_each_item(ps, value, add_dns);
	if (strcasecmp(key, "MTU") == 0) {
		if (!parse_u16(value, CONFIG_MTU_MAX, &cfg->mtu) || cfg->mtu < CONFIG_MTU_MIN)
			return fail(ps, "MTU \"%s\" is not in %d..%d", value, CONFIG_MTU_MIN,
				    CONFIG_MTU_MAX);
		return true;
	}
	if (strcasecmp(key, "ListenPort") == 0) {
		if (!parse_u16(value, 65535, &cfg->listen_port))
			return fail(ps, "bad ListenPort \"%s\"", value);
		cfg->has_listen_port = true;
		return true;
	}
	for (size_t i = 0; i < sizeof(ignored) / sizeof(ignored[0]); i++)
		if (strcasecmp(key, ignored[i]) == 0)
			return true;
	return fail(ps, "unknown key \"%s\" in [Interface]", key);
}

/* ---- [Peer] ---- */

static struct config_peer *current_peer(struct parser *ps)
{
	return &ps->cfg->peers[ps->cfg->peer_count - 1];
}

static bool add_allowed_ip(struct parser *ps, char *item)
{
	struct config_peer *peer = current_peer(ps);

	if (peer->allowed_ip_count == CONFIG_ALLOWED_IPS_MAX)
		return fail(ps, "more than %d AllowedIPs", CONFIG_ALLOWED_IPS_MAX);
	if (!parse_prefix(item, &peer->allowed_ips[peer->allowed_ip_count]))
		return fail(ps, "bad AllowedIPs entry \"%s\"", item);
	peer->allowed_ip_count++;
	return true;
}

static bool peer_key(struct parser *ps, const char *key, char *value)
{
	struct config_peer *peer = current_peer(ps);
	const char *why;

	if (strcasecmp(key, "PublicKey") == 0) {
		static const uint8_t zero[WGC_KEY_LEN];

		if (!config_key_from_base64(peer->public_key, value))
			return fail(ps, "PublicKey is not a base64 key of 32 bytes");
		if (sodium_memcmp(peer->public_key, zero, WGC_KEY_LEN) == 0)
			return fail(ps, "PublicKey is all zeros");
		return true;
	}
	if (strcasecmp(key, "PresharedKey") == 0) {
		if (!config_key_from_base64(peer->preshared_key, value))
			return fail(ps, "PresharedKey is not a base64 key of 32 bytes");
		peer->has_preshared_key = true;
		return true;
	}
	if (strcasecmp(key, "Endpoint") == 0) {
		if (!parse_hostport(value, &peer->endpoint, &why))
			return fail(ps, "bad Endpoint \"%s\": %s", value, why);
		peer->has_endpoint = true;
		return true;
	}
	if (strcasecmp(key, "AllowedIPs") == 0)
		return for_each_item(ps, value, add_allowed_ip);
	if (strcasecmp(key, "PersistentKeepalive") == 0) {
		if (strcasecmp(value, "off") == 0) {
			peer->keepalive_s = 0;
			return true;
		}
		if (!parse_u16(value, 65535, &peer->keepalive_s))
			return fail(ps, "bad PersistentKeepalive \"%s\"", value);
		return true;
	}
	return fail(ps, "unknown key \"%s\" in [Peer]", key);
}

/* ---- services ---- */

static const struct {
	const char *name;
	enum config_service_kind kind;
} service_names[] = {
	{ "Socks5", SERVICE_SOCKS5 },
	{ "http", SERVICE_HTTP },
	{ "TCPClientTunnel", SERVICE_TCP_CLIENT },
	{ "TCPServerTunnel", SERVICE_TCP_SERVER },
	{ "STDIOTunnel", SERVICE_STDIO },
	{ "UDPClientTunnel", SERVICE_UDP_CLIENT },
	{ "UDPServerTunnel", SERVICE_UDP_SERVER },
};

const char *config_service_name(enum config_service_kind kind)
{
	for (size_t i = 0; i < sizeof(service_names) / sizeof(service_names[0]); i++)
		if (service_names[i].kind == kind)
			return service_names[i].name;
	return "?";
}

static struct config_service *current_service(struct parser *ps)
{
	return &ps->cfg->services[ps->cfg->service_count - 1];
}

static bool copy_cred(struct parser *ps, const char *key, const char *value, char *out)
{
	size_t n = strlen(value);

	if (n == 0 || n > CONFIG_CRED_MAX)
		return fail(ps, "%s must be 1 to %d bytes", key, CONFIG_CRED_MAX);
	memcpy(out, value, n + 1);
	return true;
}

static bool service_key(struct parser *ps, const char *key, char *value)
{
	struct config_service *svc = current_service(ps);
	bool is_proxy = svc->kind == SERVICE_SOCKS5 || svc->kind == SERVICE_HTTP;
	bool is_server = svc->kind == SERVICE_TCP_SERVER || svc->kind == SERVICE_UDP_SERVER;
	const char *why;

	if (strcasecmp(key, "BindAddress") == 0 && svc->kind != SERVICE_STDIO && !is_server) {
		if (!parse_hostport(value, &svc->bind, &why))
			return fail(ps, "bad BindAddress \"%s\": %s", value, why);
		svc->has_bind = true;
		return true;
	}
	if (strcasecmp(key, "Target") == 0 && !is_proxy) {
		if (!parse_hostport(value, &svc->target, &why))
			return fail(ps, "bad Target \"%s\": %s", value, why);
		svc->has_target = true;
		return true;
	}
	if (strcasecmp(key, "ListenPort") == 0 && is_server) {
		if (!parse_u16(value, 65535, &svc->listen_port) || svc->listen_port == 0)
			return fail(ps, "bad ListenPort \"%s\"", value);
		svc->has_listen_port = true;
		return true;
	}
	if (strcasecmp(key, "Username") == 0 && is_proxy) {
		svc->has_auth = true;
		return copy_cred(ps, "Username", value, svc->username);
	}
	if (strcasecmp(key, "Password") == 0 && is_proxy) {
		svc->has_auth = true;
		return copy_cred(ps, "Password", value, svc->password);
	}
	return fail(ps, "unknown key \"%s\" in [%s]", key, config_service_name(svc->kind));
}

/* ---- sections ---- */

/* Checks the section that ends here (at the next header or the end of the file). */
static bool end_section(struct parser *ps)
{
	int line = ps->line;
	bool ok = true;

	ps->line = ps->section_line;
	if (ps->section == SECTION_INTERFACE && !ps->cfg->has_private_key) {
		ok = fail(ps, "[Interface] has no PrivateKey");
	} else if (ps->section == SECTION_PEER) {
		struct config_peer *peer = current_peer(ps);
		static const uint8_t zero[WGC_KEY_LEN];

		if (sodium_memcmp(peer->public_key, zero, WGC_KEY_LEN) == 0)
			ok = fail(ps, "[Peer] has no PublicKey");
		if (ok && peer->allowed_ip_count == 0) {
			parse_prefix("0.0.0.0/0", &peer->allowed_ips[0]);
			parse_prefix("::/0", &peer->allowed_ips[1]);
			peer->allowed_ip_count = 2;
		}
	} else if (ps->section == SECTION_SERVICE) {
		struct config_service *svc = current_service(ps);
		const char *name = config_service_name(svc->kind);
		bool is_proxy = svc->kind == SERVICE_SOCKS5 || svc->kind == SERVICE_HTTP;
		bool is_server = svc->kind == SERVICE_TCP_SERVER || svc->kind == SERVICE_UDP_SERVER;

		if (!svc->has_bind && !is_server && svc->kind != SERVICE_STDIO)
			ok = fail(ps, "[%s] has no BindAddress", name);
		else if (!svc->has_target && !is_proxy)
			ok = fail(ps, "[%s] has no Target", name);
		else if (!svc->has_listen_port && is_server)
			ok = fail(ps, "[%s] has no ListenPort", name);
		else if (svc->has_auth && (svc->username[0] == '\0' || svc->password[0] == '\0'))
			ok = fail(ps, "[%s] needs both Username and Password", name);
	}
	ps->line = line;
	ps->section = SECTION_NONE;
	return ok;
}

static bool begin_section(struct parser *ps, const char *name)
{
	struct config *cfg = ps->cfg;

	if (!end_section(ps))
		return false;
	ps->section_line = ps->line;
	if (strcasecmp(name, "Interface") == 0) {
		if (++ps->interface_count > 1)
			return fail(ps, "more than one [Interface]");
		ps->section = SECTION_INTERFACE;
		return true;
	}
	if (strcasecmp(name, "Peer") == 0) {
		struct config_peer *peers;

		if (cfg->peer_count == CONFIG_PEERS_MAX)
			return fail(ps, "more than %d peers", CONFIG_PEERS_MAX);
		peers = realloc(cfg->peers, (cfg->peer_count + 1) * sizeof(*peers));
		if (!peers)
			return fail(ps, "out of memory");
		cfg->peers = peers;
		memset(&peers[cfg->peer_count], 0, sizeof(*peers));
		peers[cfg->peer_count].file = ps->name;
		peers[cfg->peer_count].line = ps->line;
		cfg->peer_count++;
		ps->section = SECTION_PEER;
		return true;
	}
	for (size_t i = 0; i < sizeof(service_names) / sizeof(service_names[0]); i++) {
		struct config_service *svcs;

		if (strcasecmp(name, service_names[i].name) != 0)
			continue;
		if (ps->depth > 0)
			return fail(ps, "[%s] in a WGConfig file", service_names[i].name);
		if (cfg->service_count == CONFIG_SERVICES_MAX)
			return fail(ps, "more than %d services", CONFIG_SERVICES_MAX);
		if (service_names[i].kind == SERVICE_STDIO && cfg->has_stdio)
			return fail(ps, "a second [STDIOTunnel] (there is one standard input)");
		if (service_names[i].kind == SERVICE_STDIO)
			cfg->has_stdio = true;
		svcs = realloc(cfg->services, (cfg->service_count + 1) * sizeof(*svcs));
		if (!svcs)
			return fail(ps, "out of memory");
		cfg->services = svcs;
		memset(&svcs[cfg->service_count], 0, sizeof(*svcs));
		svcs[cfg->service_count].kind = service_names[i].kind;
		svcs[cfg->service_count].file = ps->name;
		svcs[cfg->service_count].line = ps->line;
		cfg->service_count++;
		ps->section = SECTION_SERVICE;
		return true;
	}
	return fail(ps, "unknown section [%s]", name);
}

static bool parse_text(struct parser *ps, const char *text, size_t len);

static bool import_wgconfig(struct parser *ps, const char *path)
{
	struct parser sub = *ps;
	char *text = NULL;
	size_t len = 0;
	bool ok;
	char *name;

	if (ps->depth > 0)
		return fail(ps, "WGConfig inside a WGConfig file");
	if (ps->cfg->files[1] != NULL)
		return fail(ps, "duplicate WGConfig");
	if (ps->read == NULL)
		return fail(ps, "WGConfig is not available here");
	if (!ps->read(ps->read_ctx, path, &text, &len, ps->err, ps->err_size)) {
		char why[CONFIG_ERROR_MAX / 2];

		snprintf(why, sizeof(why), "%s", ps->err);
		return fail(ps, "WGConfig: %s", why);
	}
	name = strdup(path);
	if (!name) {
		sodium_memzero(text, len);
		free(text);
		return fail(ps, "out of memory");
	}
	ps->cfg->files[1] = name;
	sub.name = name;
	sub.line = 0;
	sub.section = SECTION_NONE;
	sub.depth = 1;
	ok = parse_text(&sub, text, len);
	ps->interface_count = sub.interface_count;
	sodium_memzero(text, len);
	free(text);
	return ok;
}

/* Strips a comment and surrounding white space; unquotes "...". */
static bool clean_value(struct parser *ps, char *value)
{
	char *end;

	while (isspace((unsigned char)*value))
		memmove(value, value + 1, strlen(value));
	if (value[0] == '"') {
		char *close = strchr(value + 1, '"');

		if (!close)
			return fail(ps, "unterminated quote");
		end = close + 1;
		while (isspace((unsigned char)*end))
			end++;
		if (*end != '\0' && *end != '#' && *end != ';')
			return fail(ps, "text after a quoted value");
		*close = '\0';
		memmove(value, value + 1, strlen(value + 1) + 1);
		return true;
	}
	for (char *p = value; *p; p++) {
		if ((*p == '#' || *p == ';') && (p == value || isspace((unsigned char)p[-1]))) {
			*p = '\0';
			break;
		}
	}
	end = value + strlen(value);
	while (end > value && isspace((unsigned char)end[-1]))
		*--end = '\0';
	return true;
}

static bool parse_line(struct parser *ps, char *line)
{
	char *eq;
	char *key;
	char *end;

	while (isspace((unsigned char)*line))
		line++;
	if (*line == '\0' || *line == '#' || *line == ';')
		return true;
	if (*line == '[') {
		char *close = strchr(line, ']');

		if (!close)
			return fail(ps, "section header without ']'");
		for (char *p = close + 1; *p; p++) {
			if (*p == '#' || *p == ';')
				break;
			if (!isspace((unsigned char)*p))
				return fail(ps, "text after a section header");
		}
		*close = '\0';
		return begin_section(ps, line + 1);
	}
	eq = strchr(line, '=');
	if (!eq)
		return fail(ps, "expected \"Key = value\" or a [Section]");
	*eq = '\0';
	key = line;
	end = eq;
	while (end > key && isspace((unsigned char)end[-1]))
		*--end = '\0';
	if (*key == '\0')
		return fail(ps, "empty key");
	if (!clean_value(ps, eq + 1))
		return false;
	if (eq[1] == '\0')
		return fail(ps, "empty value for %s", key);
	switch (ps->section) {
	case SECTION_NONE:
		if (strcasecmp(key, "WGConfig") == 0)
			return import_wgconfig(ps, eq + 1);
		return fail(ps, "\"%s\" outside a section", key);
	case SECTION_INTERFACE:
		return interface_key(ps, key, eq + 1);
	case SECTION_PEER:
		return peer_key(ps, key, eq + 1);
	case SECTION_SERVICE:
		return service_key(ps, key, eq + 1);
	}
	return false;
}

static bool parse_text(struct parser *ps, const char *text, size_t len)
{
	char line[LINE_MAX_LEN + 1];
	size_t pos = 0;
	bool ok = true;

	while (ok && pos < len) {
		const char *nl = memchr(text + pos, '\n', len - pos);
		size_t n = nl ? (size_t)(nl - (text + pos)) : len - pos;

		ps->line++;
		if (n > LINE_MAX_LEN) {
			ok = fail(ps, "line longer than %d bytes", LINE_MAX_LEN);
			break;
		}
		if (memchr(text + pos, '\0', n)) {
			ok = fail(ps, "NUL byte in line");
			break;
		}
		memcpy(line, text + pos, n);
		line[n] = '\0';
		if (n > 0 && line[n - 1] == '\r')
			line[n - 1] = '\0';
		ok = parse_line(ps, line);
		pos += n + 1;
	}
	sodium_memzero(line, sizeof(line));
	if (ok)
		ok = end_section(ps);
	return ok;
}

bool config_parse(struct config *cfg, const char *name, const char *text, size_t len,
		  config_read_fn read, void *read_ctx, char *err, size_t err_size)
{
	struct parser ps = { .cfg = cfg, .read = read, .read_ctx = read_ctx, .err = err,
			     .err_size = err_size };

	err[0] = '\0';
	cfg->files[0] = strdup(name);
	if (!cfg->files[0]) {
		snprintf(err, err_size, "%s: out of memory", name);
		return false;
	}
	ps.name = cfg->files[0];
	if (!parse_text(&ps, text, len))
		return false;
	ps.line = 0;
	if (ps.interface_count == 0)
		return fail(&ps, "no [Interface] section");
	if (cfg->peer_count == 0)
		return fail(&ps, "no [Peer] section");
	return true;
}

static bool read_file(void *ctx, const char *path, char **text, size_t *len, char *err,
		      size_t err_size)
{
	FILE *f = fopen(path, "re");
	struct stat st;
	size_t n;

	(void)ctx;
	if (!f) {
		snprintf(err, err_size, "%s: %s", path, strerror(errno));
		return false;
	}
	if (fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode) || st.st_size > CONFIG_FILE_MAX) {
		snprintf(err, err_size, "%s: not a regular file of at most %d bytes", path,
			 CONFIG_FILE_MAX);
		fclose(f);
		return false;
	}
	*text = malloc((size_t)st.st_size + 1);
	if (!*text) {
		snprintf(err, err_size, "%s: out of memory", path);
		fclose(f);
		return false;
	}
	n = fread(*text, 1, (size_t)st.st_size, f);
	fclose(f);
	(*text)[n] = '\0';
	*len = n;
	return true;
}

bool config_load(struct config *cfg, const char *path, char *err, size_t err_size)
{
	char *text;
	size_t len;
	bool ok;

	if (!read_file(NULL, path, &text, &len, err, err_size))
		return false;
	ok = config_parse(cfg, path, text, len, read_file, NULL, err, err_size);
	sodium_memzero(text, len);
	free(text);
	return ok;
}

void config_free(struct config *cfg)
{
	if (cfg->peers) {
		sodium_memzero(cfg->peers, cfg->peer_count * sizeof(*cfg->peers));
		free(cfg->peers);
	}
	if (cfg->services) {
		sodium_memzero(cfg->services, cfg->service_count * sizeof(*cfg->services));
		free(cfg->services);
	}
	free(cfg->files[0]);
	free(cfg->files[1]);
	sodium_memzero(cfg, sizeof(*cfg));
}
