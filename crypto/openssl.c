/* SPDX-License-Identifier: MIT */
/*
 * ChaCha20-Poly1305 (RFC 8439) from OpenSSL 3's libcrypto: on x86-64 with AVX-512 its ChaCha20 and
 * Poly1305 run about 2.4 times libsodium 1.0.18's speed on long messages. Two drivers of the same
 * code: EVP, and the provider's function table called directly (which skips ~0.2 us of EVP
 * checks per message). Both are stateful, so each thread keeps one context per driver, set up
 * once and then only re-keyed and re-nonced per message, never rebuilt. This file owns those
 * contexts and nothing else; the choice of backend is sodium.c's, and anything this file cannot
 * do it hands to libsodium for the call.
 *
 * It is the one file of crypto/ that includes OpenSSL and <pthread.h> (the thread-exit hook that
 * frees a thread's context): scripts/check-freestanding.sh names it as the exception, as it names
 * <sodium.h> for the libsodium backend.
 */
#include "crypto/aead_backend.h"

#include "base/bytes.h"

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <openssl/core_dispatch.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <openssl/provider.h>
#include <dlfcn.h>
#include <pthread.h>

/*
 * libcrypto is opened on first use (dlopen, under the same pthread_once as the rest of the
 * set-up), not linked: a process that never seals a full-size packet never maps it, and one that
 * cannot load it runs on libsodium. The functions used, found by name; the table is written once
 * by load_libcrypto and read-only afterwards.
 */
#define LIBCRYPTO_SONAME "libcrypto.so.3"
#define LC_FUNCS(X)                                                                               \
	X(EVP_CIPHER_CTX_ctrl)                                                                     \
	X(EVP_CIPHER_CTX_free)                                                                     \
	X(EVP_CIPHER_CTX_new)                                                                      \
	X(EVP_CIPHER_fetch)                                                                        \
	X(EVP_CIPHER_free)                                                                         \
	X(EVP_CIPHER_get0_name)                                                                    \
	X(EVP_CIPHER_get0_provider)                                                                \
	X(EVP_CipherFinal_ex)                                                                      \
	X(EVP_CipherInit_ex)                                                                       \
	X(EVP_CipherUpdate)                                                                        \
	X(OSSL_PARAM_construct_end)                                                                \
	X(OSSL_PARAM_construct_octet_string)                                                       \
	X(OSSL_PROVIDER_get0_provider_ctx)                                                         \
	X(OSSL_PROVIDER_query_operation)                                                           \
	X(OSSL_PROVIDER_unquery_operation)

static struct {
#define LC_MEMBER(name) __typeof__(&name) name;
	LC_FUNCS(LC_MEMBER)
#undef LC_MEMBER
} lc;

/* Opens libcrypto and fills lc; false (lc unusable, the handle closed) if any is missing. The
 * handle stays open for the life of the process, as a linked library would. */
static bool load_libcrypto(void)
{
	void *handle = dlopen(LIBCRYPTO_SONAME, RTLD_NOW | RTLD_LOCAL);

	if (!handle)
		return false;
#define LC_FIND(name)                                                                             \
	if (!(lc.name = (__typeof__(&name))dlsym(handle, #name))) {                               \
		dlclose(handle);                                                                  \
		return false;                                                                     \
	}
	LC_FUNCS(LC_FIND)
#undef LC_FIND
	return true;
}

enum {
	AEAD_NONCE_LEN = 12,
	ENCRYPT = 1,
	DECRYPT = 0,
	KEEP_DIRECTION = -1, /* EVP_CipherInit_ex's "leave enc as it is" */
};

/*
 * Written once by load_cipher (under pthread_once), read-only afterwards. cipher holds a
 * reference to libcrypto's default provider for the life of the process.
 */
static EVP_CIPHER *cipher;
static bool is_ready;
static pthread_key_t ctx_key; /* its destructor frees a thread's context at thread exit */
static pthread_once_t init_once = PTHREAD_ONCE_INIT;

/* This thread's context (NULL until its first call) and whether making it failed for good. */
static _Thread_local EVP_CIPHER_CTX *thread_ctx;
static _Thread_local bool thread_ctx_failed;

/* Whether this CPU has AVX (and so VZEROUPPER). Written once by load_cipher. */
static bool has_avx;

/*
 * libcrypto 3.0's AVX-512 ChaCha20 and Poly1305 code returns with the upper halves of the vector
 * registers still in use (no VZEROUPPER on that path), and every legacy-SSE instruction after it,
 * such as the compiler's 16-byte moves in our code and in libc, then carries a false dependency
 * on them. On this machine's Xeon (make bench, in isolation) a 1420-byte seal took 1.6-1.9 us
 * that way and 1.06-1.09 us with one VZEROUPPER after the cipher's final call, so every path
 * here ends its cipher calls with one (it costs a cycle or so otherwise). Our own code uses no
 * upper halves (it is built without AVX), so there is nothing to lose in them.
 */
static inline void clean_upper(void)
{
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
	if (has_avx)
		__asm__ volatile("vzeroupper" ::: "memory");
#endif
}

static void make_nonce(uint8_t nonce[AEAD_NONCE_LEN], uint64_t counter)
{
	memset(nonce, 0, 4);
	wgc_store_le64(nonce + 4, counter);
}

/*
 * Thread exit: EVP_CIPHER_CTX_free cleanses the provider context (key, keystream) and frees it.
 * It runs on the exiting thread, whose _Thread_local variables are still there: a seal or open
 * from a later destructor of the same thread then takes libsodium instead of a freed context
 * (and does not allocate a new one that nothing would free).
 */
static void free_thread_ctx(void *ctx)
{
	lc.EVP_CIPHER_CTX_free(ctx);
	thread_ctx = NULL;
	thread_ctx_failed = true;
}

/*
 * This thread's context, made on first use: allocated and bound to the cipher once, so a message
 * costs only a re-key. NULL when it cannot be had; a thread that failed once does not retry (no
 * allocation attempt per packet under memory pressure), it uses libsodium from then on.
 */
static EVP_CIPHER_CTX *get_thread_ctx(void)
{
	EVP_CIPHER_CTX *ctx = thread_ctx;

	if (ctx || thread_ctx_failed)
		return ctx;
	thread_ctx_failed = true;
	if (!wgc_openssl_aead_init())
		return NULL;
	ctx = lc.EVP_CIPHER_CTX_new();
	if (!ctx)
		return NULL;
	if (lc.EVP_CipherInit_ex(ctx, cipher, NULL, NULL, NULL, ENCRYPT) != 1 ||
	    pthread_setspecific(ctx_key, ctx) != 0) {
		lc.EVP_CIPHER_CTX_free(ctx);
		return NULL;
	}
	thread_ctx = ctx;
	thread_ctx_failed = false;
	return ctx;
}

/*
 * Overwrites the key in the context with zeros (the nonce and direction stay), so a thread that
 * goes idle does not keep the last session key it used past that key's wipe in the core
 * (3 x REJECT_AFTER_TIME). The Poly1305 state is already cleansed by the final call. What stays
 * is the keystream of the message's last partial block, which unlocks nothing but that block.
 */
static void forget_key(EVP_CIPHER_CTX *ctx)
{
	static const uint8_t zero_key[WGC_KEY_LEN];

	/* Cannot fail for a context that was keyed a moment ago; nothing to do if it did. */
	(void)lc.EVP_CipherInit_ex(ctx, NULL, NULL, zero_key, NULL, KEEP_DIRECTION);
}

/* Seals with ctx; false if an EVP call failed (the output is then unspecified). */
static bool evp_seal(EVP_CIPHER_CTX *ctx, uint8_t *dst, const uint8_t *src, int len,
		     const uint8_t *ad, int ad_len, const uint8_t nonce[AEAD_NONCE_LEN],
		     const uint8_t key[WGC_KEY_LEN])
{
	int out_len = 0;
	int final_len = 0;

	if (lc.EVP_CipherInit_ex(ctx, NULL, NULL, key, nonce, ENCRYPT) != 1)
		return false;
	if (ad_len > 0 && lc.EVP_CipherUpdate(ctx, NULL, &out_len, ad, ad_len) != 1)
		return false;
	if (len > 0 && lc.EVP_CipherUpdate(ctx, dst, &out_len, src, len) != 1)
		return false;
	/* A stream cipher: the final call writes nothing (final_len 0), it computes the tag. */
	if (lc.EVP_CipherFinal_ex(ctx, dst + len, &final_len) != 1)
		return false;
	clean_upper();
	return lc.EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_GET_TAG, WGC_AEAD_TAG_LEN, dst + len) == 1;
}

void wgc_openssl_aead_seal(uint8_t *dst, const uint8_t *src, size_t len, const uint8_t *ad,
			   size_t ad_len, uint64_t counter, const uint8_t key[WGC_KEY_LEN])
{
	EVP_CIPHER_CTX *ctx = get_thread_ctx();
	uint8_t nonce[AEAD_NONCE_LEN];
	bool ok;

	/* EVP counts in int; messages that long (never on the data path) go to libsodium. */
	if (!ctx || len > INT_MAX - WGC_AEAD_TAG_LEN || ad_len > INT_MAX) {
		wgc_sodium_aead_seal(dst, src, len, ad, ad_len, counter, key);
		return;
	}
	make_nonce(nonce, counter);
	ok = evp_seal(ctx, dst, src, (int)len, ad, (int)ad_len, nonce, key);
	forget_key(ctx);
	/*
	 * An EVP failure after a successful re-key does not happen for valid arguments. If it did,
	 * dst may hold part of a sealing (and in place, src is gone), so there is no plaintext left
	 * to hand to libsodium: fail closed instead. A zeroed message and tag never verify, so the
	 * peer drops it as a forgery, and nothing of the plaintext leaves.
	 */
	if (!ok)
		wgc_memzero(dst, len + WGC_AEAD_TAG_LEN);
}

/* Opens text_len bytes of src, followed by their tag, into dst with ctx; false for a forgery or
 * an EVP failure. dst may hold unauthenticated output on false. */
static bool evp_open(EVP_CIPHER_CTX *ctx, uint8_t *dst, const uint8_t *src, int text_len,
		     const uint8_t *ad, int ad_len, const uint8_t nonce[AEAD_NONCE_LEN],
		     const uint8_t key[WGC_KEY_LEN])
{
	uint8_t tag[WGC_AEAD_TAG_LEN];
	bool ok;
	int out_len = 0;
	int final_len = 0;

	/* The tag is copied out first: in place, it sits right after the bytes being decrypted. */
	memcpy(tag, src + text_len, WGC_AEAD_TAG_LEN);
	if (lc.EVP_CipherInit_ex(ctx, NULL, NULL, key, nonce, DECRYPT) != 1 ||
	    lc.EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_SET_TAG, WGC_AEAD_TAG_LEN, tag) != 1)
		return false;
	if (ad_len > 0 && lc.EVP_CipherUpdate(ctx, NULL, &out_len, ad, ad_len) != 1)
		return false;
	if (text_len > 0 && lc.EVP_CipherUpdate(ctx, dst, &out_len, src, text_len) != 1)
		return false;
	/* The tag comparison (constant time, CRYPTO_memcmp) happens here. */
	ok = lc.EVP_CipherFinal_ex(ctx, dst + text_len, &final_len) == 1;
	clean_upper();
	return ok;
}

bool wgc_openssl_aead_open(uint8_t *dst, const uint8_t *src, size_t len, const uint8_t *ad,
			   size_t ad_len, uint64_t counter, const uint8_t key[WGC_KEY_LEN])
{
	EVP_CIPHER_CTX *ctx = get_thread_ctx();
	uint8_t nonce[AEAD_NONCE_LEN];
	size_t text_len;
	bool ok;

	if (len < WGC_AEAD_TAG_LEN)
		return false;
	if (!ctx || len > INT_MAX || ad_len > INT_MAX)
		return wgc_sodium_aead_open(dst, src, len, ad, ad_len, counter, key);
	text_len = len - WGC_AEAD_TAG_LEN;
	make_nonce(nonce, counter);
	ok = evp_open(ctx, dst, src, (int)text_len, ad, (int)ad_len, nonce, key);
	forget_key(ctx);
	/*
	 * Unlike libsodium, EVP decrypts as it goes, before the tag is known to be good. Whatever
	 * it wrote for a forgery is wiped, so unauthenticated plaintext never outlives the call.
	 */
	if (!ok)
		wgc_memzero(dst, text_len);
	return ok;
}

bool wgc_openssl_aead_thread_has_ctx(void)
{
	return thread_ctx != NULL;
}

/* ---- one-time setup ---- */

/* One way of driving libcrypto's AEAD over an explicit context, for the start-up check. */
struct driver {
	bool (*seal)(void *ctx, uint8_t *dst, const uint8_t *src, int len, const uint8_t *ad,
		     int ad_len, const uint8_t nonce[AEAD_NONCE_LEN],
		     const uint8_t key[WGC_KEY_LEN]);
	bool (*open)(void *ctx, uint8_t *dst, const uint8_t *src, int text_len, const uint8_t *ad,
		     int ad_len, const uint8_t nonce[AEAD_NONCE_LEN],
		     const uint8_t key[WGC_KEY_LEN]);
};

/*
 * A start-up check against libsodium, the reference: one short and one multi-block message (past
 * the length where OpenSSL switches to its wide vector code), with AD, must seal to the same bytes
 * and open again, and a flipped tag bit must fail. A driver that disagrees is never used.
 */
static bool agrees_with_libsodium(const struct driver *d, void *ctx)
{
	enum { LONG_LEN = 1100, AD_LEN = 12 };
	static uint8_t plain[LONG_LEN];
	static uint8_t ours[LONG_LEN + WGC_AEAD_TAG_LEN];
	static uint8_t reference[LONG_LEN + WGC_AEAD_TAG_LEN];
	static const size_t lens[] = {37, LONG_LEN};
	uint8_t key[WGC_KEY_LEN];
	uint8_t ad[AD_LEN];
	bool ok = true;

	for (size_t i = 0; i < sizeof(key); i++)
		key[i] = (uint8_t)(0x80 + i);
	for (size_t i = 0; i < sizeof(ad); i++)
		ad[i] = (uint8_t)(0x50 + i);
	for (size_t i = 0; i < sizeof(plain); i++)
		plain[i] = (uint8_t)(i * 7 + 3);
	for (size_t n = 0; ok && n < sizeof(lens) / sizeof(lens[0]); n++) {
		size_t len = lens[n];
		uint64_t counter = UINT64_C(0x0102030405060708) + len;
		uint8_t nonce[AEAD_NONCE_LEN];

		make_nonce(nonce, counter);
		wgc_sodium_aead_seal(reference, plain, len, ad, sizeof(ad), counter, key);
		ok = d->seal(ctx, ours, plain, (int)len, ad, AD_LEN, nonce, key) &&
		     memcmp(ours, reference, len + WGC_AEAD_TAG_LEN) == 0 &&
		     d->open(ctx, ours, ours, (int)len, ad, AD_LEN, nonce, key) &&
		     memcmp(ours, plain, len) == 0;
		reference[len] ^= 1;
		ok = ok && !d->open(ctx, ours, reference, (int)len, ad, AD_LEN, nonce, key);
	}
	return ok;
}

static bool evp_seal_any(void *ctx, uint8_t *dst, const uint8_t *src, int len, const uint8_t *ad,
			 int ad_len, const uint8_t nonce[AEAD_NONCE_LEN],
			 const uint8_t key[WGC_KEY_LEN])
{
	return evp_seal(ctx, dst, src, len, ad, ad_len, nonce, key);
}

static bool evp_open_any(void *ctx, uint8_t *dst, const uint8_t *src, int text_len,
			 const uint8_t *ad, int ad_len, const uint8_t nonce[AEAD_NONCE_LEN],
			 const uint8_t key[WGC_KEY_LEN])
{
	return evp_open(ctx, dst, src, text_len, ad, ad_len, nonce, key);
}

static bool evp_agrees_with_libsodium(void)
{
	static const struct driver evp = {evp_seal_any, evp_open_any};
	EVP_CIPHER_CTX *ctx = lc.EVP_CIPHER_CTX_new();
	bool ok;

	if (!ctx)
		return false;
	ok = lc.EVP_CipherInit_ex(ctx, cipher, NULL, NULL, NULL, ENCRYPT) == 1 &&
	     agrees_with_libsodium(&evp, ctx);
	lc.EVP_CIPHER_CTX_free(ctx);
	return ok;
}

/* ---- the same cipher through its provider's functions, called directly ---- */

/*
 * EVP_CipherInit_ex, the tag ctrl and the EVP update/final wrappers cost ~0.2 us per message in
 * argument checks and parameter queries (the IV and key lengths are asked of the provider on every
 * re-key) before the provider's code runs. The provider interface (provider-cipher(7)) is public
 * and stable: OSSL_PROVIDER_query_operation hands out the same function table libcrypto calls.
 * This driver calls it directly on a provider context of its own per thread, with everything EVP
 * would check (lengths, direction, tag size) fixed by construction here. Written once by
 * load_direct (under init_once), read-only afterwards.
 */
static struct {
	OSSL_FUNC_cipher_newctx_fn *newctx;
	OSSL_FUNC_cipher_freectx_fn *freectx;
	OSSL_FUNC_cipher_encrypt_init_fn *encrypt_init;
	OSSL_FUNC_cipher_decrypt_init_fn *decrypt_init;
	OSSL_FUNC_cipher_update_fn *update;
	OSSL_FUNC_cipher_final_fn *final;
	OSSL_FUNC_cipher_get_ctx_params_fn *get_ctx_params;
	OSSL_FUNC_cipher_set_ctx_params_fn *set_ctx_params;
	void *provctx;
} direct;
static bool is_direct_ready;
static pthread_key_t direct_key;

static _Thread_local void *thread_direct;
static _Thread_local bool thread_direct_failed;

/* Thread exit, as free_thread_ctx; the provider cleanses its context as it frees it. */
static void free_thread_direct(void *pctx)
{
	direct.freectx(pctx);
	thread_direct = NULL;
	thread_direct_failed = true;
}

static void *get_thread_direct(void)
{
	void *pctx = thread_direct;

	if (pctx || thread_direct_failed)
		return pctx;
	thread_direct_failed = true;
	if (!wgc_openssl_aead_init() || !is_direct_ready)
		return NULL;
	pctx = direct.newctx(direct.provctx);
	if (!pctx)
		return NULL;
	if (pthread_setspecific(direct_key, pctx) != 0) {
		direct.freectx(pctx);
		return NULL;
	}
	thread_direct = pctx;
	thread_direct_failed = false;
	return pctx;
}

static bool direct_seal(void *pctx, uint8_t *dst, const uint8_t *src, int len, const uint8_t *ad,
			int ad_len, const uint8_t nonce[AEAD_NONCE_LEN],
			const uint8_t key[WGC_KEY_LEN])
{
	OSSL_PARAM params[2];
	size_t out_len = 0;

	if (direct.encrypt_init(pctx, key, WGC_KEY_LEN, nonce, AEAD_NONCE_LEN, NULL) != 1)
		return false;
	if (ad_len > 0 &&
	    direct.update(pctx, NULL, &out_len, (size_t)ad_len, ad, (size_t)ad_len) != 1)
		return false;
	if (len > 0 && direct.update(pctx, dst, &out_len, (size_t)len, src, (size_t)len) != 1)
		return false;
	if (direct.final(pctx, dst + len, &out_len, 0) != 1)
		return false;
	clean_upper();
	params[0] = lc.OSSL_PARAM_construct_octet_string(OSSL_CIPHER_PARAM_AEAD_TAG, dst + len,
						      WGC_AEAD_TAG_LEN);
	params[1] = lc.OSSL_PARAM_construct_end();
	return direct.get_ctx_params(pctx, params) == 1;
}

static bool direct_open(void *pctx, uint8_t *dst, const uint8_t *src, int text_len,
			const uint8_t *ad, int ad_len, const uint8_t nonce[AEAD_NONCE_LEN],
			const uint8_t key[WGC_KEY_LEN])
{
	uint8_t tag[WGC_AEAD_TAG_LEN];
	bool ok;
	OSSL_PARAM params[2];
	size_t out_len = 0;

	memcpy(tag, src + text_len, WGC_AEAD_TAG_LEN);
	params[0] = lc.OSSL_PARAM_construct_octet_string(OSSL_CIPHER_PARAM_AEAD_TAG, tag,
						      WGC_AEAD_TAG_LEN);
	params[1] = lc.OSSL_PARAM_construct_end();
	if (direct.decrypt_init(pctx, key, WGC_KEY_LEN, nonce, AEAD_NONCE_LEN, NULL) != 1 ||
	    direct.set_ctx_params(pctx, params) != 1)
		return false;
	if (ad_len > 0 &&
	    direct.update(pctx, NULL, &out_len, (size_t)ad_len, ad, (size_t)ad_len) != 1)
		return false;
	if (text_len > 0 && direct.update(pctx, dst, &out_len, (size_t)text_len, src,
					  (size_t)text_len) != 1)
		return false;
	/* The tag comparison (constant time, CRYPTO_memcmp) happens here. */
	ok = direct.final(pctx, dst + text_len, &out_len, 0) == 1;
	clean_upper();
	return ok;
}

/* As forget_key: a key-only re-init with zeros, keeping the direction. */
static void direct_forget_key(void *pctx, bool is_encrypt)
{
	static const uint8_t zero_key[WGC_KEY_LEN];

	if (is_encrypt)
		(void)direct.encrypt_init(pctx, zero_key, WGC_KEY_LEN, NULL, 0, NULL);
	else
		(void)direct.decrypt_init(pctx, zero_key, WGC_KEY_LEN, NULL, 0, NULL);
}

void wgc_openssl_direct_aead_seal(uint8_t *dst, const uint8_t *src, size_t len, const uint8_t *ad,
				  size_t ad_len, uint64_t counter, const uint8_t key[WGC_KEY_LEN])
{
	void *pctx = get_thread_direct();
	uint8_t nonce[AEAD_NONCE_LEN];
	bool ok;

	if (!pctx || len > INT_MAX - WGC_AEAD_TAG_LEN || ad_len > INT_MAX) {
		wgc_sodium_aead_seal(dst, src, len, ad, ad_len, counter, key);
		return;
	}
	make_nonce(nonce, counter);
	ok = direct_seal(pctx, dst, src, (int)len, ad, (int)ad_len, nonce, key);
	direct_forget_key(pctx, true);
	if (!ok) /* fail closed, as wgc_openssl_aead_seal */
		wgc_memzero(dst, len + WGC_AEAD_TAG_LEN);
}

bool wgc_openssl_direct_aead_open(uint8_t *dst, const uint8_t *src, size_t len, const uint8_t *ad,
				  size_t ad_len, uint64_t counter, const uint8_t key[WGC_KEY_LEN])
{
	void *pctx = get_thread_direct();
	uint8_t nonce[AEAD_NONCE_LEN];
	size_t text_len;
	bool ok;

	if (len < WGC_AEAD_TAG_LEN)
		return false;
	if (!pctx || len > INT_MAX || ad_len > INT_MAX)
		return wgc_sodium_aead_open(dst, src, len, ad, ad_len, counter, key);
	text_len = len - WGC_AEAD_TAG_LEN;
	make_nonce(nonce, counter);
	ok = direct_open(pctx, dst, src, (int)text_len, ad, (int)ad_len, nonce, key);
	direct_forget_key(pctx, false);
	if (!ok) /* no unauthenticated plaintext outlives the call, as wgc_openssl_aead_open */
		wgc_memzero(dst, text_len);
	return ok;
}

/* ---- three-part seals (wgc_aead_seal_parts), on either driver ---- */

/* A driver as a stream of calls: key and nonce, any number of updates, the tag, the key wiped. */
struct stream_ops {
	bool (*start)(void *ctx, const uint8_t key[WGC_KEY_LEN], const uint8_t nonce[AEAD_NONCE_LEN]);
	bool (*update)(void *ctx, uint8_t *out, const uint8_t *in, size_t len);
	bool (*finish)(void *ctx, uint8_t tag[WGC_AEAD_TAG_LEN]);
	void (*forget)(void *ctx);
};

static bool evp_start(void *ctx, const uint8_t key[WGC_KEY_LEN],
		      const uint8_t nonce[AEAD_NONCE_LEN])
{
	return lc.EVP_CipherInit_ex(ctx, NULL, NULL, key, nonce, ENCRYPT) == 1;
}

static bool evp_update(void *ctx, uint8_t *out, const uint8_t *in, size_t len)
{
	int out_len = 0;

	return lc.EVP_CipherUpdate(ctx, out, &out_len, in, (int)len) == 1;
}

static bool evp_finish(void *ctx, uint8_t tag[WGC_AEAD_TAG_LEN])
{
	int final_len = 0;
	bool ok = lc.EVP_CipherFinal_ex(ctx, tag, &final_len) == 1;

	clean_upper();
	return ok && lc.EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_GET_TAG, WGC_AEAD_TAG_LEN, tag) == 1;
}

static void evp_forget(void *ctx)
{
	forget_key(ctx);
}

static bool direct_start(void *pctx, const uint8_t key[WGC_KEY_LEN],
			 const uint8_t nonce[AEAD_NONCE_LEN])
{
	return direct.encrypt_init(pctx, key, WGC_KEY_LEN, nonce, AEAD_NONCE_LEN, NULL) == 1;
}

static bool direct_update(void *pctx, uint8_t *out, const uint8_t *in, size_t len)
{
	size_t out_len = 0;

	return direct.update(pctx, out, &out_len, len, in, len) == 1;
}

static bool direct_finish(void *pctx, uint8_t tag[WGC_AEAD_TAG_LEN])
{
	OSSL_PARAM params[2];
	size_t out_len = 0;
	bool ok = direct.final(pctx, tag, &out_len, 0) == 1;

	clean_upper();
	params[0] = lc.OSSL_PARAM_construct_octet_string(OSSL_CIPHER_PARAM_AEAD_TAG, tag,
						      WGC_AEAD_TAG_LEN);
	params[1] = lc.OSSL_PARAM_construct_end();
	return ok && direct.get_ctx_params(pctx, params) == 1;
}

static void direct_forget(void *pctx)
{
	direct_forget_key(pctx, true);
}

static const struct stream_ops evp_ops = {evp_start, evp_update, evp_finish, evp_forget};
static const struct stream_ops direct_ops = {direct_start, direct_update, direct_finish,
					     direct_forget};

/* Head (in place at dst), tail (into dst + head_len) and pad zeros (in place), fed to the cipher
 * in that order: a stream cipher, so the parts need not be whole blocks. */
static bool stream_seal_parts(const struct stream_ops *ops, void *ctx, uint8_t *dst,
			      size_t head_len, const uint8_t *tail, size_t tail_len,
			      size_t pad_len, const uint8_t nonce[AEAD_NONCE_LEN],
			      const uint8_t key[WGC_KEY_LEN])
{
	uint8_t *pad = dst + head_len + tail_len;

	if (!ops->start(ctx, key, nonce))
		return false;
	if (head_len > 0 && !ops->update(ctx, dst, dst, head_len))
		return false;
	if (tail_len > 0 && !ops->update(ctx, dst + head_len, tail, tail_len))
		return false;
	if (pad_len > 0) {
		memset(pad, 0, pad_len);
		if (!ops->update(ctx, pad, pad, pad_len))
			return false;
	}
	return ops->finish(ctx, pad + pad_len);
}

/* The public three-part seal on a driver: its thread context, or the copying fallback where
 * there is none or a length does not fit the drivers' int (never on the data path); the key
 * wiped after, and fail closed as wgc_openssl_aead_seal. */
static void seal_parts_on(const struct stream_ops *ops, void *ctx, uint8_t *dst,
			  size_t head_len, const uint8_t *tail, size_t tail_len, size_t pad_len,
			  uint64_t counter, const uint8_t key[WGC_KEY_LEN])
{
	const size_t max = INT_MAX - WGC_AEAD_TAG_LEN;
	uint8_t nonce[AEAD_NONCE_LEN];
	bool ok;

	if (!ctx || head_len > max || tail_len > max - head_len ||
	    pad_len > max - head_len - tail_len) {
		wgc_aead_seal_parts_by_copy(dst, head_len, tail, tail_len, pad_len, counter, key);
		return;
	}
	make_nonce(nonce, counter);
	ok = stream_seal_parts(ops, ctx, dst, head_len, tail, tail_len, pad_len, nonce, key);
	ops->forget(ctx);
	if (!ok)
		wgc_memzero(dst, head_len + tail_len + pad_len + WGC_AEAD_TAG_LEN);
}

void wgc_openssl_aead_seal_parts(uint8_t *dst, size_t head_len, const uint8_t *tail,
				 size_t tail_len, size_t pad_len, uint64_t counter,
				 const uint8_t key[WGC_KEY_LEN])
{
	seal_parts_on(&evp_ops, get_thread_ctx(), dst, head_len, tail, tail_len, pad_len, counter,
		      key);
}

void wgc_openssl_direct_aead_seal_parts(uint8_t *dst, size_t head_len, const uint8_t *tail,
					size_t tail_len, size_t pad_len, uint64_t counter,
					const uint8_t key[WGC_KEY_LEN])
{
	seal_parts_on(&direct_ops, get_thread_direct(), dst, head_len, tail, tail_len, pad_len,
		      counter, key);
}

bool wgc_openssl_direct_thread_has_ctx(void)
{
	return thread_direct != NULL;
}

bool wgc_openssl_direct_ready(void)
{
	return wgc_openssl_aead_init() && is_direct_ready;
}

/* True when names, OpenSSL's colon-separated list of an algorithm's names, holds name (ASCII,
 * any case: OpenSSL's own matching rule). */
static bool names_hold(const char *names, const char *name)
{
	size_t name_len = strlen(name);

	while (*names) {
		size_t i = 0;

		while (i < name_len && names[i] && names[i] != ':' &&
		       (names[i] | 0x20) == (name[i] | 0x20))
			i++;
		if (i == name_len && (names[i] == ':' || names[i] == '\0'))
			return true;
		while (*names && *names != ':')
			names++;
		if (*names == ':')
			names++;
	}
	return false;
}

/* Takes the function table of the provider implementation `cipher` was fetched from. */
static bool find_direct_functions(const OSSL_PROVIDER *provider)
{
	const OSSL_ALGORITHM *algs;
	const OSSL_ALGORITHM *a;
	const char *ours = lc.EVP_CIPHER_get0_name(cipher);
	int no_store = 0;

	algs = lc.OSSL_PROVIDER_query_operation(provider, OSSL_OP_CIPHER, &no_store);
	if (!algs || !ours)
		return false;
	for (a = algs; a->algorithm_names && !names_hold(a->algorithm_names, ours); a++)
		;
	for (const OSSL_DISPATCH *f = a->algorithm_names ? a->implementation : NULL;
	     f && f->function_id != 0; f++) {
		switch (f->function_id) {
		case OSSL_FUNC_CIPHER_NEWCTX: direct.newctx = OSSL_FUNC_cipher_newctx(f); break;
		case OSSL_FUNC_CIPHER_FREECTX: direct.freectx = OSSL_FUNC_cipher_freectx(f); break;
		case OSSL_FUNC_CIPHER_ENCRYPT_INIT:
			direct.encrypt_init = OSSL_FUNC_cipher_encrypt_init(f);
			break;
		case OSSL_FUNC_CIPHER_DECRYPT_INIT:
			direct.decrypt_init = OSSL_FUNC_cipher_decrypt_init(f);
			break;
		case OSSL_FUNC_CIPHER_UPDATE: direct.update = OSSL_FUNC_cipher_update(f); break;
		case OSSL_FUNC_CIPHER_FINAL: direct.final = OSSL_FUNC_cipher_final(f); break;
		case OSSL_FUNC_CIPHER_GET_CTX_PARAMS:
			direct.get_ctx_params = OSSL_FUNC_cipher_get_ctx_params(f);
			break;
		case OSSL_FUNC_CIPHER_SET_CTX_PARAMS:
			direct.set_ctx_params = OSSL_FUNC_cipher_set_ctx_params(f);
			break;
		default: break;
		}
	}
	lc.OSSL_PROVIDER_unquery_operation(provider, OSSL_OP_CIPHER, algs);
	return direct.newctx && direct.freectx && direct.encrypt_init && direct.decrypt_init &&
	       direct.update && direct.final && direct.get_ctx_params && direct.set_ctx_params;
}

/* Called under init_once once `cipher` is loaded and checked; leaves is_direct_ready false on
 * any failure (the EVP driver is unaffected). */
static void load_direct(void)
{
	static const struct driver driver = {direct_seal, direct_open};
	const OSSL_PROVIDER *provider = lc.EVP_CIPHER_get0_provider(cipher);
	void *pctx;

	if (!provider || !find_direct_functions(provider))
		return;
	direct.provctx = lc.OSSL_PROVIDER_get0_provider_ctx(provider);
	pctx = direct.newctx(direct.provctx);
	if (!pctx)
		return;
	if (agrees_with_libsodium(&driver, pctx) &&
	    pthread_key_create(&direct_key, free_thread_direct) == 0)
		is_direct_ready = true;
	direct.freectx(pctx);
}

static void load_cipher(void)
{
	if (!load_libcrypto())
		return;
	/* An explicit fetch, once: a cipher from EVP_chacha20_poly1305() would be re-fetched. */
	cipher = lc.EVP_CIPHER_fetch(NULL, "ChaCha20-Poly1305", NULL);
	if (!cipher)
		return;
	if (pthread_key_create(&ctx_key, free_thread_ctx) != 0 || !evp_agrees_with_libsodium()) {
		lc.EVP_CIPHER_free(cipher);
		cipher = NULL;
		return;
	}
	is_ready = true;
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
	has_avx = __builtin_cpu_supports("avx");
#endif
	load_direct();
}

bool wgc_openssl_aead_init(void)
{
	/* pthread_once also publishes cipher and is_ready to every thread that calls this. */
	if (pthread_once(&init_once, load_cipher) != 0)
		return false;
	return is_ready;
}

bool wgc_openssl_aead_preferred(void)
{
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
	return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vl");
#else
	return false;
#endif
}
