/* SPDX-License-Identifier: MIT */
/*
 * proxy/config: a full wireproxy file, a WGConfig import, constant-time key decoding against
 * libsodium's encoder, [STDIOTunnel], and a numbered table of bad files, each with the exact
 * "file:line: what" the user sees.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <sodium.h>

#include "proxy/config.h"

#define KEY_A "YAnz5TF+lXXJte14tji3zlMNq+hd2rYUIgJBgB3fBmk="
#define KEY_B "xTIBA5rboUvnH4htodjb6e697QjLERt1NAB4mZqp8Dg="

static const char full[] =
	"# a wireproxy file\n"
	"[Interface]\n"
	"PrivateKey = " KEY_A "\n"
	"Address = 10.200.0.2/32, fd00:200::2\n"
	"Address = 10.201.0.2\n"
	"DNS = 10.200.0.1 ; inline comment\n"
	"MTU = 1380\n"
	"ListenPort = 51821\n"
	"PostUp = iptables ...   # wg-quick keys are ignored\n"
	"\n"
	"[Peer]\n"
	"PublicKey = " KEY_B "\n"
	"PresharedKey = " KEY_A "\n"
	"Endpoint = vpn.example.com:51820\n"
	"AllowedIPs = 10.200.0.0/24, fd00:200::/64\n"
	"PersistentKeepalive = 25\n"
	"\r\n"
	"[peer]\n"
	"publickey = " KEY_A "\n"
	"endpoint = [fd00:250::1]:51001\n"
	"\n"
	"[Socks5]\n"
	"BindAddress = 127.0.0.1:1080\n"
	"Username = \"user # not a comment\"\n"
	"Password = p#ss\n"
	"\n"
	"[TCPClientTunnel]\n"
	"BindAddress = 127.0.0.1:2222\n"
	"Target = 10.200.0.1:22\n"
	"\n"
	"[TCPServerTunnel]\n"
	"ListenPort = 8080\n"
	"Target = localhost:80\n";

static bool parse(struct config *cfg, const char *text, char *err)
{
	memset(cfg, 0, sizeof(*cfg));
	return config_parse(cfg, "t.conf", text, strlen(text), NULL, NULL, err, CONFIG_ERROR_MAX);
}

static void test_full_file(void **state)
{
	struct config cfg;
	char err[CONFIG_ERROR_MAX];
	uint8_t key[WGC_KEY_LEN];

	(void)state;
	assert_true(parse(&cfg, full, err));
	assert_true(cfg.has_private_key);
	assert_true(config_key_from_base64(key, KEY_A));
	assert_memory_equal(cfg.private_key, key, WGC_KEY_LEN);
	assert_int_equal(cfg.address_count, 3);
	assert_int_equal(cfg.addresses[0].family, WGC_AF_INET);
	assert_int_equal(cfg.addresses[0].cidr, 32);
	assert_int_equal(cfg.addresses[1].family, WGC_AF_INET6);
	assert_int_equal(cfg.addresses[1].cidr, 128);
	assert_int_equal(cfg.addresses[1].ip[15], 2);
	assert_int_equal(cfg.dns_count, 1);
	assert_int_equal(cfg.dns[0].ip[3], 1);
	assert_int_equal(cfg.dns[0].port, 53);
	assert_int_equal(cfg.mtu, 1380);
	assert_true(cfg.has_listen_port);
	assert_int_equal(cfg.listen_port, 51821);
	assert_int_equal(cfg.peer_count, 2);
	assert_true(cfg.peers[0].has_preshared_key);
	assert_string_equal(cfg.peers[0].endpoint.host, "vpn.example.com");
	assert_int_equal(cfg.peers[0].endpoint.port, 51820);
	assert_int_equal(cfg.peers[0].allowed_ip_count, 2);
	assert_int_equal(cfg.peers[0].allowed_ips[0].cidr, 24);
	assert_int_equal(cfg.peers[0].keepalive_s, 25);
	assert_int_equal(cfg.peers[0].line, 11);
	assert_false(cfg.peers[1].has_preshared_key);
	assert_string_equal(cfg.peers[1].endpoint.host, "fd00:250::1");
	assert_int_equal(cfg.peers[1].endpoint.port, 51001);
	/* no AllowedIPs: everything, as wireproxy */
	assert_int_equal(cfg.peers[1].allowed_ip_count, 2);
	assert_int_equal(cfg.peers[1].allowed_ips[0].cidr, 0);
	assert_int_equal(cfg.peers[1].allowed_ips[1].family, WGC_AF_INET6);
	assert_int_equal(cfg.service_count, 3);
	assert_int_equal(cfg.services[0].kind, SERVICE_SOCKS5);
	assert_string_equal(cfg.services[0].bind.host, "127.0.0.1");
	assert_int_equal(cfg.services[0].bind.port, 1080);
	assert_true(cfg.services[0].has_auth);
	assert_string_equal(cfg.services[0].username, "user # not a comment");
	assert_string_equal(cfg.services[0].password, "p#ss");
	assert_int_equal(cfg.services[1].kind, SERVICE_TCP_CLIENT);
	assert_string_equal(cfg.services[1].target.host, "10.200.0.1");
	assert_int_equal(cfg.services[1].target.port, 22);
	assert_int_equal(cfg.services[2].kind, SERVICE_TCP_SERVER);
	assert_int_equal(cfg.services[2].listen_port, 8080);
	assert_int_equal(cfg.services[2].line, 31);
	config_free(&cfg);
}

static bool fake_read(void *ctx, const char *path, char **text, size_t *len, char *err,
		      size_t err_size)
{
	const char *body = ctx;

	if (strcmp(path, "wg0.conf") != 0) {
		snprintf(err, err_size, "%s: No such file or directory", path);
		return false;
	}
	*text = strdup(body);
	*len = strlen(body);
	return *text != NULL;
}

static void test_wgconfig_import(void **state)
{
	static const char wg[] = "[Interface]\nPrivateKey = " KEY_A "\nAddress = 10.0.0.2/32\n"
				 "[Peer]\nPublicKey = " KEY_B "\nEndpoint = 192.0.2.1:51820\n";
	static const char bad_wg[] = "[Interface]\nPrivateKey = " KEY_A "\n\n[Peer]\n"
				     "PublicKey = nope\n";
	static const char main_text[] = "WGConfig = wg0.conf\n\n[Socks5]\nBindAddress = "
					"127.0.0.1:1080\n";
	struct config cfg = { 0 };
	char err[CONFIG_ERROR_MAX];

	(void)state;
	assert_true(config_parse(&cfg, "main.conf", main_text, strlen(main_text), fake_read,
				 (void *)wg, err, sizeof(err)));
	assert_int_equal(cfg.peer_count, 1);
	assert_int_equal(cfg.address_count, 1);
	assert_int_equal(cfg.service_count, 1);
	assert_string_equal(cfg.peers[0].file, "wg0.conf");
	config_free(&cfg);

	assert_false(config_parse(&cfg, "main.conf", main_text, strlen(main_text), fake_read,
				  (void *)bad_wg, err, sizeof(err)));
	assert_string_equal(err, "wg0.conf:5: PublicKey is not a base64 key of 32 bytes");
	config_free(&cfg);

	static const char missing[] = "WGConfig = other.conf\n";
	assert_false(config_parse(&cfg, "main.conf", missing, strlen(missing), fake_read,
				  (void *)wg, err, sizeof(err)));
	assert_string_equal(err, "main.conf:1: WGConfig: other.conf: No such file or directory");
	config_free(&cfg);
}

static void test_base64_keys(void **state)
{
	uint8_t key[WGC_KEY_LEN];
	uint8_t back[WGC_KEY_LEN];
	char text[64];

	(void)state;
	for (int i = 0; i < 200; i++) {
		for (int j = 0; j < WGC_KEY_LEN; j++)
			key[j] = (uint8_t)(i * 131 + j * 7 + (i >> 2));
		sodium_bin2base64(text, sizeof(text), key, sizeof(key),
				  sodium_base64_VARIANT_ORIGINAL);
		assert_true(config_key_from_base64(back, text));
		assert_memory_equal(key, back, WGC_KEY_LEN);
	}
	assert_false(config_key_from_base64(back, "YAnz5TF+lXXJte14tji3zlMNq+hd2rYUIgJBgB3fBmk"));
	assert_false(config_key_from_base64(back, "YAnz5TF+lXXJte14tji3zlMNq+hd2rYUIgJBgB3fBm=="));
	assert_false(config_key_from_base64(back, "YAnz5TF+lXXJte14tji3zlMNq+hd2rYUIgJBgB3fBml="));
	assert_false(config_key_from_base64(back, "YAnz5TF+lXXJte14tji3zlMN!+hd2rYUIgJBgB3fBmk="));
	assert_false(config_key_from_base64(back, "YAnz5TF-lXXJte14tji3zlMNq+hd2rYUIgJBgB3fBmk="));
}

#define IFACE "[Interface]\nPrivateKey = " KEY_A "\n"
#define PEER "[Peer]\nPublicKey = " KEY_B "\n"

static const struct {
	const char *text;
	const char *err;
} bad[] = {
	/* 0 */ { "", "t.conf:0: no [Interface] section" },
	/* 1 */ { IFACE, "t.conf:0: no [Peer] section" },
	/* 2 */ { PEER, "t.conf:0: no [Interface] section" },
	/* 3 */ { "[Interface]\n" PEER, "t.conf:1: [Interface] has no PrivateKey" },
	/* 4 */ { IFACE "[Peer]\nEndpoint = 1.2.3.4:5\n", "t.conf:3: [Peer] has no PublicKey" },
	/* 5 */ { IFACE "PrivateKey = " KEY_B "\n" PEER, "t.conf:3: duplicate PrivateKey" },
	/* 6 */ { "[Interface]\nPrivateKey = abc\n" PEER,
		  "t.conf:2: PrivateKey is not a base64 key of 32 bytes" },
	/* 7 */ { IFACE "Address = 10.0.0.300/32\n" PEER, "t.conf:3: bad address \"10.0.0.300/32\"" },
	/* 8 */ { IFACE "Address = 10.0.0.1/33\n" PEER, "t.conf:3: bad address \"10.0.0.1/33\"" },
	/* 9 */ { IFACE "Address = ,\n" PEER, "t.conf:3: empty list" },
	/* 10 */ { IFACE "MTU = 100\n" PEER, "t.conf:3: MTU \"100\" is not in 576..1500" },
	/* 11 */ { IFACE "MTU = 1420x\n" PEER, "t.conf:3: MTU \"1420x\" is not in 576..1500" },
	/* 12 */ { IFACE "ListenPort = 65536\n" PEER, "t.conf:3: bad ListenPort \"65536\"" },
	/* 13 */ { IFACE "ListenPort = -1\n" PEER, "t.conf:3: bad ListenPort \"-1\"" },
	/* 14 */ { IFACE "DNS = example.com\n" PEER,
		   "t.conf:3: bad DNS server \"example.com\" (an IP address)" },
	/* 15 */ { IFACE "Colour = blue\n" PEER, "t.conf:3: unknown key \"Colour\" in [Interface]" },
	/* 16 */ { IFACE PEER "Endpoint = 1.2.3.4\n",
		   "t.conf:5: bad Endpoint \"1.2.3.4\": expected host:port" },
	/* 17 */ { IFACE PEER "Endpoint = fd00::1:51820\n",
		   "t.conf:5: bad Endpoint \"fd00::1:51820\": an IPv6 address needs brackets: "
		   "[addr]:port" },
	/* 18 */ { IFACE PEER "Endpoint = host:99999\n",
		   "t.conf:5: bad Endpoint \"host:99999\": bad port" },
	/* 19 */ { IFACE PEER "Endpoint = ho$t:1\n",
		   "t.conf:5: bad Endpoint \"ho$t:1\": bad character in host" },
	/* 20 */ { IFACE PEER "Endpoint = [10.0.0.1]:1\n",
		   "t.conf:5: bad Endpoint \"[10.0.0.1]:1\": bad IPv6 address in brackets" },
	/* 21 */ { IFACE PEER "AllowedIPs = 10.0.0.0/8, nope\n",
		   "t.conf:5: bad AllowedIPs entry \"nope\"" },
	/* 22 */ { IFACE PEER "PersistentKeepalive = often\n",
		   "t.conf:5: bad PersistentKeepalive \"often\"" },
	/* 23 */ { IFACE PEER "PublicKey = AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n",
		   "t.conf:5: PublicKey is all zeros" },
	/* 24 */ { IFACE PEER "[Socks5]\n", "t.conf:5: [Socks5] has no BindAddress" },
	/* 25 */ { IFACE PEER "[Socks5]\nBindAddress = 127.0.0.1:1080\nUsername = u\n",
		   "t.conf:5: [Socks5] needs both Username and Password" },
	/* 26 */ { IFACE PEER "[Socks5]\nBindAddress = 127.0.0.1:1080\nTarget = a:1\n",
		   "t.conf:7: unknown key \"Target\" in [Socks5]" },
	/* 27 */ { IFACE PEER "[TCPClientTunnel]\nBindAddress = 127.0.0.1:1\n",
		   "t.conf:5: [TCPClientTunnel] has no Target" },
	/* 28 */ { IFACE PEER "[TCPServerTunnel]\nTarget = a:1\n",
		   "t.conf:5: [TCPServerTunnel] has no ListenPort" },
	/* 29 */ { IFACE PEER "[Sock5]\n", "t.conf:5: unknown section [Sock5]" },
	/* 30 */ { IFACE PEER "[Socks5\n", "t.conf:5: section header without ']'" },
	/* 31 */ { IFACE PEER "[Peer] x\n", "t.conf:5: text after a section header" },
	/* 32 */ { IFACE "PrivateKey\n" PEER,
		   "t.conf:3: expected \"Key = value\" or a [Section]" },
	/* 33 */ { IFACE "Address =\n" PEER, "t.conf:3: empty value for Address" },
	/* 34 */ { IFACE " = 1\n" PEER, "t.conf:3: empty key" },
	/* 35 */ { "Address = 10.0.0.1\n" IFACE PEER, "t.conf:1: \"Address\" outside a section" },
	/* 36 */ { IFACE IFACE PEER, "t.conf:3: more than one [Interface]" },
	/* 37 */ { IFACE PEER "[Socks5]\nBindAddress = 127.0.0.1:1080\nUsername = \"u\n",
		   "t.conf:7: unterminated quote" },
	/* 38 */ { IFACE "WGConfig = x.conf\n" PEER, "t.conf:3: unknown key \"WGConfig\" in [Interface]" },
	/* 39 */ { "WGConfig = x.conf\n", "t.conf:1: WGConfig is not available here" },
	/* 40 */ { IFACE PEER "[http]\nBindAddress = 127.0.0.1:8080\nPassword = \n",
		   "t.conf:7: empty value for Password" },
	/* 41 */ { IFACE PEER "[STDIOTunnel]\n", "t.conf:5: [STDIOTunnel] has no Target" },
	/* 42 */ { IFACE PEER "[STDIOTunnel]\nBindAddress = 127.0.0.1:1\nTarget = a:1\n",
		   "t.conf:6: unknown key \"BindAddress\" in [STDIOTunnel]" },
	/* 43 */ { IFACE PEER "[STDIOTunnel]\nListenPort = 22\n",
		   "t.conf:6: unknown key \"ListenPort\" in [STDIOTunnel]" },
	/* 44 */ { IFACE PEER "[STDIOTunnel]\nTarget = a:1\n[stdiotunnel]\nTarget = b:2\n",
		   "t.conf:7: a second [STDIOTunnel] (there is one standard input)" },
	/* 45 */ { IFACE PEER "[STDIOTunnel]\nTarget = host\n",
		   "t.conf:6: bad Target \"host\": expected host:port" },
	/* 46 */ { IFACE PEER "[STDIOTunnel]\nTarget = a:1\nUsername = u\n",
		   "t.conf:7: unknown key \"Username\" in [STDIOTunnel]" },
};

static void test_bad_files(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct config cfg;
		char err[CONFIG_ERROR_MAX];
		bool ok = parse(&cfg, bad[i].text, err);

		if (ok || strcmp(err, bad[i].err) != 0)
			fail_msg("case %zu: got %s \"%s\", want \"%s\"", i, ok ? "success" : "error",
				 err, bad[i].err);
		config_free(&cfg);
	}
}

/* [STDIOTunnel] as ssh's ProxyCommand uses it: a Target, a name or a literal, nothing else. */
static void test_stdio_tunnel(void **state)
{
	static const char text[] = IFACE PEER
		"[Socks5]\nBindAddress = 127.0.0.1:1080\n"
		"[STDIOTunnel]\nTarget = git.internal:22\n";
	static const char v6[] = IFACE PEER "[stdiotunnel]\ntarget = [fd00::1]:2222\n";
	struct config cfg;
	char err[CONFIG_ERROR_MAX];

	(void)state;
	assert_true(parse(&cfg, text, err));
	assert_true(cfg.has_stdio);
	assert_int_equal(cfg.service_count, 2);
	assert_int_equal(cfg.services[1].kind, SERVICE_STDIO);
	assert_false(cfg.services[1].has_bind);
	assert_string_equal(cfg.services[1].target.host, "git.internal");
	assert_int_equal(cfg.services[1].target.port, 22);
	assert_int_equal(cfg.services[1].line, 7);
	config_free(&cfg);
	assert_true(parse(&cfg, v6, err));
	assert_true(cfg.has_stdio);
	assert_string_equal(cfg.services[0].target.host, "fd00::1");
	assert_int_equal(cfg.services[0].target.port, 2222);
	config_free(&cfg);
	assert_true(parse(&cfg, full, err));
	assert_false(cfg.has_stdio);
	config_free(&cfg);
}

static void test_long_line_and_nul(void **state)
{
	struct config cfg;
	char err[CONFIG_ERROR_MAX];
	char *text = malloc(8000);
	static const char with_nul[] = IFACE "MTU = 1400\0junk\n" PEER;

	(void)state;
	assert_non_null(text);
	strcpy(text, IFACE "DNS = ");
	memset(text + strlen(text), '1', 5000);
	strcpy(text + strlen(IFACE "DNS = ") + 5000, "\n" PEER);
	assert_false(parse(&cfg, text, err));
	assert_string_equal(err, "t.conf:3: line longer than 4096 bytes");
	config_free(&cfg);
	free(text);
	memset(&cfg, 0, sizeof(cfg));
	assert_false(config_parse(&cfg, "t.conf", with_nul, sizeof(with_nul) - 1, NULL, NULL, err,
				  sizeof(err)));
	assert_string_equal(err, "t.conf:3: NUL byte in line");
	config_free(&cfg);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_full_file),
		cmocka_unit_test(test_wgconfig_import),
		cmocka_unit_test(test_base64_keys),
		cmocka_unit_test(test_bad_files),
		cmocka_unit_test(test_stdio_tunnel),
		cmocka_unit_test(test_long_line_and_nul),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
