#ifndef ORIGINAUDIT_CSHIM_H
#define ORIGINAUDIT_CSHIM_H
#include <openssl/ssl.h>
#include <openssl/x509.h>

/// One-line forwarders for OpenSSL macros Swift cannot import.
const char *oa_openssl_version(void);

#endif
