// The legacy RSA and EC_KEY decoders are deprecated in OpenSSL 3 but are plain ASN.1 item
// decoders, an order of magnitude faster than the provider decoders for the same bytes.
#define OPENSSL_SUPPRESS_DEPRECATED
#include "CShim.h"
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/rsa.h>
#include <openssl/crypto.h>
#include <openssl/x509v3.h>
#include <stdlib.h>
#include <string.h>
#include <stdio.h>
#include <pthread.h>
#include <malloc.h>
#include <openssl/engine.h>

const char *oa_openssl_version(void) { return OpenSSL_version(OPENSSL_VERSION); }

void oa_set_mmap_threshold(int bytes) {
#ifdef M_MMAP_THRESHOLD
    if (bytes > 0) mallopt(M_MMAP_THRESHOLD, bytes);
#else
    (void)bytes;
#endif
}

void oa_release_free_memory(void) {
#ifdef __GLIBC__
    malloc_trim(0);
#endif
}

int oa_no_password(char *buf, int size, int rwflag, void *userdata) {
    (void)buf; (void)size; (void)rwflag;
    if (userdata) *(int *)userdata = 1;
    return -1;
}

static void append(char **out, size_t *length, const char *prefix, const char *text, size_t text_length) {
    size_t need = *length + strlen(prefix) + text_length + 2;
    char *grown = realloc(*out, need);
    if (!grown) return;
    *out = grown;
    memcpy(*out + *length, prefix, strlen(prefix));
    *length += strlen(prefix);
    memcpy(*out + *length, text, text_length);
    *length += text_length;
    (*out)[(*length)++] = '\n';
    (*out)[*length] = 0;
}

char *oa_subject_alt_names(X509 *certificate) {
    GENERAL_NAMES *names = X509_get_ext_d2i(certificate, NID_subject_alt_name, NULL, NULL);
    if (!names) return NULL;
    char *out = calloc(1, 1);
    size_t length = 0;
    for (int i = 0; i < sk_GENERAL_NAME_num(names); i++) {
        const GENERAL_NAME *name = sk_GENERAL_NAME_value(names, i);
        if (name->type == GEN_DNS) {
            const unsigned char *data = ASN1_STRING_get0_data(name->d.dNSName);
            append(&out, &length, "D ", (const char *)data, (size_t)ASN1_STRING_length(name->d.dNSName));
        } else if (name->type == GEN_IPADD) {
            const unsigned char *data = ASN1_STRING_get0_data(name->d.iPAddress);
            int n = ASN1_STRING_length(name->d.iPAddress);
            char text[64] = {0};
            if (n == 4) snprintf(text, sizeof text, "%u.%u.%u.%u", data[0], data[1], data[2], data[3]);
            else if (n == 16) {
                int at = 0;
                for (int j = 0; j < 16; j += 2) at += snprintf(text + at, sizeof text - at, "%s%x", j ? ":" : "", (data[j] << 8) | data[j + 1]);
            }
            append(&out, &length, "I ", text, strlen(text));
        }
    }
    GENERAL_NAMES_free(names);
    return out;
}

/* What one verification found: every error OpenSSL met (the callback records it and lets
   verification go on, as `openssl verify` reports them), without repeats. */
struct oa_record { oa_problem *problems; int capacity; int count; };

static int oa_record_index = -1;
static pthread_once_t oa_record_once = PTHREAD_ONCE_INIT;
static void make_record_index(void) { oa_record_index = X509_STORE_CTX_get_ex_new_index(0, NULL, NULL, NULL, NULL); }

static int record_problem(int ok, X509_STORE_CTX *context) {
    if (ok) return 1;
    int error = X509_STORE_CTX_get_error(context);
    int depth = X509_STORE_CTX_get_error_depth(context);
    X509 *current = X509_STORE_CTX_get_current_cert(context);
    /* RFC 5280 4.1.2.5: a certificate is valid through its notAfter, inclusive. OpenSSL calls
       it expired at that very second; one second earlier it is still valid, so it is here. */
    if (error == X509_V_ERR_CERT_HAS_EXPIRED && current != NULL) {
        time_t before = (time_t)X509_VERIFY_PARAM_get_time(X509_STORE_CTX_get0_param(context)) - 1;
        if (X509_cmp_time(X509_get0_notAfter(current), &before) > 0) return 1;
    }
    struct oa_record *record = X509_STORE_CTX_get_ex_data(context, oa_record_index);
    if (record == NULL) return 0;
    for (int i = 0; i < record->count; i++)
        if (record->problems[i].code == error && record->problems[i].depth == depth) return 1;
    if (record->count < record->capacity) {
        record->problems[record->count].code = error;
        record->problems[record->count].depth = depth;
        record->count++;
    }
    return 1;
}

char *oa_dns_name_constraints(X509 *certificate) {
    NAME_CONSTRAINTS *constraints = X509_get_ext_d2i(certificate, NID_name_constraints, NULL, NULL);
    if (!constraints) return NULL;
    char *out = calloc(1, 1);
    size_t length = 0;
    STACK_OF(GENERAL_SUBTREE) *lists[2] = { constraints->permittedSubtrees, constraints->excludedSubtrees };
    const char *prefixes[2] = { "P ", "E " };
    for (int list = 0; list < 2; list++) {
        for (int i = 0; lists[list] != NULL && i < sk_GENERAL_SUBTREE_num(lists[list]); i++) {
            GENERAL_SUBTREE *subtree = sk_GENERAL_SUBTREE_value(lists[list], i);
            if (subtree->base == NULL || subtree->base->type != GEN_DNS) continue;
            const unsigned char *data = ASN1_STRING_get0_data(subtree->base->d.dNSName);
            append(&out, &length, prefixes[list], (const char *)data, (size_t)ASN1_STRING_length(subtree->base->d.dNSName));
        }
    }
    NAME_CONSTRAINTS_free(constraints);
    return out;
}

int oa_verify(X509_STORE *store, X509 *leaf, X509 **chain, int n, time_t at, int strict,
              oa_problem *problems, int capacity, int *problem_count, X509 **built, int built_capacity, int *built_count) {
    pthread_once(&oa_record_once, make_record_index);
    struct oa_record record = { problems, capacity, 0 };
    *problem_count = 0;
    *built_count = 0;
    STACK_OF(X509) *untrusted = sk_X509_new_null();
    for (int i = 0; i < n; i++) sk_X509_push(untrusted, chain[i]);
    X509_STORE_CTX *context = X509_STORE_CTX_new();
    int result = X509_V_ERR_UNSPECIFIED;
    if (context && X509_STORE_CTX_init(context, store, leaf, untrusted) == 1) {
        X509_VERIFY_PARAM *param = X509_STORE_CTX_get0_param(context);
        /* What a TLS client asks (libssl sets the SSL-server purpose on every client handshake):
           the leaf's extended key usage must allow serverAuth. */
        X509_STORE_CTX_set_purpose(context, X509_PURPOSE_SSL_SERVER);
        X509_VERIFY_PARAM_set_time(param, at);
        if (strict) X509_VERIFY_PARAM_set_flags(param, X509_V_FLAG_X509_STRICT);
        X509_STORE_CTX_set_ex_data(context, oa_record_index, &record);
        X509_STORE_CTX_set_verify_cb(context, record_problem);
        int ok = X509_verify_cert(context);
        *problem_count = record.count;
        result = record.count > 0 ? problems[0].code : ok == 1 ? X509_V_OK : X509_STORE_CTX_get_error(context);
        if (ok != 1 && record.count == 0 && capacity > 0) {
            problems[0].code = result;
            problems[0].depth = X509_STORE_CTX_get_error_depth(context);
            *problem_count = 1;
        }
        STACK_OF(X509) *path = X509_STORE_CTX_get0_chain(context);
        for (int i = 0; path != NULL && i < sk_X509_num(path) && i < built_capacity; i++) {
            X509 *certificate = sk_X509_value(path, i);
            X509_up_ref(certificate);
            built[i] = certificate;
            *built_count = i + 1;
        }
    }
    X509_STORE_CTX_free(context);
    sk_X509_free(untrusted);
    return result;
}

long long oa_asn1_time_epoch(const ASN1_TIME *time, int *ok) {
    struct tm value;
    memset(&value, 0, sizeof value);
    if (!time || ASN1_TIME_to_tm(time, &value) != 1) { if (ok) *ok = 0; return 0; }
    if (ok) *ok = 1;
    return (long long)timegm(&value);
}

/* The SubjectPublicKeyInfo DER for an algorithm, its parameter and the public key bits (owned
   by the result on success, freed here on failure). */
static int encode_spki(int algorithm, int parameter_type, void *parameter, unsigned char *bits, int bits_length,
                       unsigned char **out) {
    X509_PUBKEY *key = X509_PUBKEY_new();
    if (key == NULL) { OPENSSL_free(bits); return -1; }
    if (!X509_PUBKEY_set0_param(key, OBJ_nid2obj(algorithm), parameter_type, parameter, bits, bits_length)) {
        X509_PUBKEY_free(key);
        OPENSSL_free(bits);
        return -1;
    }
    int length = i2d_X509_PUBKEY(key, out);
    X509_PUBKEY_free(key);
    return length;
}

/* A new EC_KEY on a named curve. The groups of the usual curves are built once and copied:
   building one (EC_KEY_new_by_curve_name) costs most of decoding a key. */
static pthread_mutex_t oa_groups_lock = PTHREAD_MUTEX_INITIALIZER;
static struct { int nid; EC_GROUP *group; } oa_groups[8];

static EC_KEY *new_key_on_curve(int nid) {
    EC_GROUP *group = NULL;
    pthread_mutex_lock(&oa_groups_lock);
    int slot = 0;
    for (; slot < 8 && oa_groups[slot].group != NULL; slot++) {
        if (oa_groups[slot].nid == nid) { group = oa_groups[slot].group; break; }
    }
    if (group == NULL && slot < 8) {
        group = EC_GROUP_new_by_curve_name(nid);
        if (group != NULL) { oa_groups[slot].nid = nid; oa_groups[slot].group = group; }
    }
    EC_KEY *key = NULL;
    if (group != NULL) {
        key = EC_KEY_new();
        /* EC_KEY_set_group copies the group (under the lock: it is shared). */
        if (key != NULL && EC_KEY_set_group(key, group) != 1) { EC_KEY_free(key); key = NULL; }
    }
    pthread_mutex_unlock(&oa_groups_lock);
    return key != NULL || slot < 8 ? key : EC_KEY_new_by_curve_name(nid);
}

static int fast_rsa(const unsigned char *der, long length, int *type, int *bits, unsigned char **spki, int *spki_length) {
    const unsigned char *cursor = der;
    RSA *rsa = d2i_RSAPrivateKey(NULL, &cursor, length);
    if (rsa == NULL || cursor != der + length) { RSA_free(rsa); return 0; }
    unsigned char *public_key = NULL;
    int public_length = i2d_RSAPublicKey(rsa, &public_key);
    *bits = RSA_bits(rsa);
    RSA_free(rsa);
    if (public_length <= 0) return 0;
    *spki_length = encode_spki(NID_rsaEncryption, V_ASN1_NULL, NULL, public_key, public_length, spki);
    *type = 1;
    return *spki_length > 0;
}

/* `key` may carry the group already (PKCS#8 names it outside the ECPrivateKey). */
static int fast_ec(const unsigned char *der, long length, EC_KEY *key, int *type, int *bits, int *curve_nid,
                   unsigned char **spki, int *spki_length) {
    const unsigned char *cursor = der;
    EC_KEY *decoded = d2i_ECPrivateKey(key == NULL ? NULL : &key, &cursor, length);
    if (decoded == NULL || cursor != der + length) { EC_KEY_free(decoded == NULL ? key : decoded); return 0; }
    const EC_GROUP *group = EC_KEY_get0_group(decoded);
    int nid = group == NULL ? NID_undef : EC_GROUP_get_curve_name(group);
    /* Explicit curve parameters (even of a known curve) are left to the full decoder, which
       keeps them in the public key's encoding. */
    if (nid == NID_undef || (EC_GROUP_get_asn1_flag(group) & OPENSSL_EC_NAMED_CURVE) == 0
        || EC_KEY_get0_public_key(decoded) == NULL) { EC_KEY_free(decoded); return 0; }
    unsigned char *point = NULL;
    size_t point_length = EC_KEY_key2buf(decoded, EC_KEY_get_conv_form(decoded), &point, NULL);
    *bits = EC_GROUP_order_bits(group);
    EC_KEY_free(decoded);
    if (point_length == 0 || point_length > INT32_MAX) { OPENSSL_free(point); return 0; }
    *spki_length = encode_spki(NID_X9_62_id_ecPublicKey, V_ASN1_OBJECT, OBJ_nid2obj(nid), point, (int)point_length, spki);
    *curve_nid = nid;
    *type = 2;
    return *spki_length > 0;
}

int oa_fast_private_key(const unsigned char *der, long length, int label, int *type, int *bits, int *curve_nid,
                        unsigned char **spki, int *spki_length) {
    int ok = 0;
    *spki = NULL;
    *spki_length = 0;
    *curve_nid = NID_undef;
    if (label == 1) {
        ok = fast_rsa(der, length, type, bits, spki, spki_length);
    } else if (label == 2) {
        ok = fast_ec(der, length, NULL, type, bits, curve_nid, spki, spki_length);
    } else if (label == 0) {
        const unsigned char *cursor = der;
        PKCS8_PRIV_KEY_INFO *info = d2i_PKCS8_PRIV_KEY_INFO(NULL, &cursor, length);
        const ASN1_OBJECT *algorithm = NULL;
        const unsigned char *inner = NULL;
        int inner_length = 0;
        const X509_ALGOR *identifier = NULL;
        if (info != NULL && cursor == der + length && PKCS8_pkey_get0(&algorithm, &inner, &inner_length, &identifier, info)) {
            int nid = OBJ_obj2nid(algorithm);
            if (nid == NID_rsaEncryption) {
                ok = fast_rsa(inner, inner_length, type, bits, spki, spki_length);
            } else if (nid == NID_X9_62_id_ecPublicKey) {
                const ASN1_OBJECT *parameter_object = NULL;
                int parameter_type = 0;
                const void *parameter = NULL;
                X509_ALGOR_get0(&parameter_object, &parameter_type, &parameter, identifier);
                int curve = parameter_type == V_ASN1_OBJECT ? OBJ_obj2nid((const ASN1_OBJECT *)parameter) : NID_undef;
                EC_KEY *key = curve == NID_undef ? NULL : new_key_on_curve(curve);
                if (key != NULL) ok = fast_ec(inner, inner_length, key, type, bits, curve_nid, spki, spki_length);
            }
        }
        PKCS8_PRIV_KEY_INFO_free(info);
    }
    if (!ok) {
        OPENSSL_free(*spki);
        *spki = NULL;
        *spki_length = 0;
    }
    ERR_clear_error();
    return ok;
}

/* The key types whose certificate keys are decoded by libcrypto's built-in methods (see the header). */
static int oa_direct_nids[] = { NID_rsaEncryption, NID_X9_62_id_ecPublicKey };

static int oa_direct_pkey_methods(ENGINE *engine, EVP_PKEY_METHOD **method, const int **nids, int nid) {
    (void)engine;
    if (method == NULL) {
        *nids = oa_direct_nids;
        return (int)(sizeof oa_direct_nids / sizeof oa_direct_nids[0]);
    }
    /* libcrypto's built-in method for the type (static: nothing to free). */
    *method = (EVP_PKEY_METHOD *)EVP_PKEY_meth_find(nid);
    return *method != NULL;
}

static pthread_once_t oa_direct_once = PTHREAD_ONCE_INIT;

static void register_direct_decoding(void) {
    ENGINE *engine = ENGINE_new();
    if (engine == NULL) return;
    if (ENGINE_set_id(engine, "originaudit-builtin-keys") && ENGINE_set_name(engine, "libcrypto's built-in RSA and EC key methods")
        && ENGINE_set_pkey_meths(engine, oa_direct_pkey_methods)) {
        ENGINE_register_pkey_meths(engine);
    }
    /* Not freed: the method table does not hold a reference of its own, and the ENGINE must
       outlive every lookup (freeing it here makes later lookups use freed memory). */
    ERR_clear_error();
}

void oa_decode_certificate_keys_directly(void) { pthread_once(&oa_direct_once, register_direct_decoding); }
