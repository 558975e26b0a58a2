#ifndef ORIGINAUDIT_CSHIM_H
#define ORIGINAUDIT_CSHIM_H
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>
#include <time.h>

/// One-line forwarders and small helpers for OpenSSL macros and stacks Swift cannot use directly.
const char *oa_openssl_version(void);

/// glibc's mallopt(M_MMAP_THRESHOLD, bytes): blocks of this size or more get their own mapping,
/// returned when freed (nothing elsewhere). Call before threads start.
void oa_set_mmap_threshold(int bytes);

/// glibc's malloc_trim(0): the free memory of every malloc arena, wherever it lies in the
/// arena (not only at its end), is given back to the system; what is in use is not touched.
void oa_release_free_memory(void);

/// A PEM password callback that never asks: it records that a passphrase was needed
/// (`*(int *)userdata = 1`) and fails, so an encrypted key is detected, never prompted for.
int oa_no_password(char *buf, int size, int rwflag, void *userdata);

/// The DNS names (type 0) and IP addresses (type 1) of the subjectAltName extension, as one
/// malloc'd string: one entry per line, "D name" or "I address". NULL when there is no SAN.
char *oa_subject_alt_names(X509 *certificate);

/// The DNS subtrees of the nameConstraints extension, as one malloc'd string: one per line,
/// "P name" (permitted) or "E name" (excluded). NULL when there is no such extension.
char *oa_dns_name_constraints(X509 *certificate);

/// One error met while verifying: an X509_V_ERR_* code and the chain depth it concerns.
typedef struct { int code; int depth; } oa_problem;

/// Verifies `leaf` with `chain` (n untrusted certificates) against `store` at time `at`, as a TLS
/// client does (SSL-server purpose), with X509_V_FLAG_X509_STRICT when `strict`. Every error is
/// recorded (up to `capacity`, in `problems`) and verification goes on past it; a certificate is
/// valid through its notAfter inclusive (RFC 5280). The chain OpenSSL built is returned in `built`
/// (leaf first, each with a reference the caller frees). Returns the first error, or X509_V_OK.
int oa_verify(X509_STORE *store, X509 *leaf, X509 **chain, int n, time_t at, int strict,
              oa_problem *problems, int capacity, int *problem_count, X509 **built, int built_capacity, int *built_count);

/// Seconds since the epoch of an ASN1_TIME (UTC); 0 with *ok = 0 when it cannot be read.
long long oa_asn1_time_epoch(const ASN1_TIME *time, int *ok);

/// A private key's public half without OpenSSL 3's decoder framework (which costs about
/// 0.4 ms a key): RSA (PKCS#1 or PKCS#8) and named-curve EC (SEC1 or PKCS#8). `der` is the
/// body of a PEM block labelled "PRIVATE KEY" (label 0), "RSA PRIVATE KEY" (1) or
/// "EC PRIVATE KEY" (2). Returns 1 with *type (1 RSA, 2 EC), *bits, *curve_nid (EC) and
/// *spki (the SubjectPublicKeyInfo DER, free with OPENSSL_free) of *spki_length bytes; 0 when
/// the key is of another kind or does not decode here, and the full decoder must decide.
int oa_fast_private_key(const unsigned char *der, long length, int label, int *type, int *bits, int *curve_nid,
                        unsigned char **spki, int *spki_length);

/// Makes libcrypto decode the RSA and EC public keys of certificates with its built-in ASN.1
/// methods instead of building an OpenSSL 3 decoder context for each (`d2i_X509` of the bench's
/// P-256 certificates: 0.12 ms each that way, 0.03 ms this way). OpenSSL 3.0 tries those methods
/// first only when an ENGINE offers the key type, so an ENGINE that offers libcrypto's own
/// built-in RSA and EC methods (nothing of its own) is registered for the two types. The
/// provider decoders run the same methods for these types, so the same keys are accepted
/// and refused; signatures are then verified by the same built-in methods. Once per process,
/// from any thread; the ENGINE lives as long as the process.
void oa_decode_certificate_keys_directly(void);

#endif
