/* sign.h - Upstash-Signature: a JWT, HS256 over the signing key.
 *
 * Header {"alg":"HS256","typ":"JWT"}; claims iss="Upstash", sub=<url>,
 * exp=now+300, nbf=now, iat=now, jti=<random>, body=base64url(sha256(body)).
 * The official @upstash/qstash Receiver verifies it.  Pure except for the
 * random jti (OpenSSL RAND_bytes). */
#ifndef SF_SIGN_H
#define SF_SIGN_H

#include <stddef.h>
#include <stdint.h>

/* Returns a malloc'd JWT for "url" and the body bytes, signed with "key",
 * issued at "now_s" with id "jti" (NULL = random).  NULL on failure. */
char *sf_sign_jwt(const char *key, const char *url, const void *body,
                  size_t body_len, int64_t now_s, const char *jti);

#endif
