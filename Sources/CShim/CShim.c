#include "CShim.h"
#include <openssl/crypto.h>

const char *oa_openssl_version(void) { return OpenSSL_version(OPENSSL_VERSION); }
