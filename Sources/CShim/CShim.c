#include "CShim.h"
#include <openssl/crypto.h>
#include <openssl/x509v3.h>
#include <stdlib.h>
#include <string.h>
#include <stdio.h>

const char *oa_openssl_version(void) { return OpenSSL_version(OPENSSL_VERSION); }

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

int oa_verify(X509_STORE *store, X509 *leaf, X509 **chain, int n, time_t at, int *depth, int *chain_length) {
    STACK_OF(X509) *untrusted = sk_X509_new_null();
    for (int i = 0; i < n; i++) sk_X509_push(untrusted, chain[i]);
    X509_STORE_CTX *context = X509_STORE_CTX_new();
    int result = X509_V_ERR_UNSPECIFIED;
    if (context && X509_STORE_CTX_init(context, store, leaf, untrusted) == 1) {
        X509_VERIFY_PARAM_set_time(X509_STORE_CTX_get0_param(context), at);
        int ok = X509_verify_cert(context);
        result = ok == 1 ? X509_V_OK : X509_STORE_CTX_get_error(context);
        if (depth) *depth = X509_STORE_CTX_get_error_depth(context);
        STACK_OF(X509) *built = X509_STORE_CTX_get0_chain(context);
        if (chain_length) *chain_length = built ? sk_X509_num(built) : 0;
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
