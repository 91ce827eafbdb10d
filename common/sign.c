/* sign.c - Upstash-Signature JWTs (HS256).
 *
 * The token is base64url(header) "." base64url(claims) "." base64url(mac),
 * all without padding, where mac = HMAC-SHA256(key, the first two parts
 * joined by "."). The claims are compact JSON built with jansson, in the
 * order iss, sub, exp, nbf, iat, jti, body; the @upstash/qstash Receiver
 * checks iss, exp/nbf (with its clock tolerance), sub against the URL and
 * body against base64url(sha256(body)). */
#include "sign.h"

#include <jansson.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

#define SF_JWT_TTL_S 300

/* base64url of {"alg":"HS256","typ":"JWT"}, exactly these bytes. */
static const char jwt_header_b64[] = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9";

/* Builds the claims JSON; malloc'd (free with free()), NULL on failure,
 * e.g. when "url" or "jti" is not valid UTF-8. */
static char *claims_json(const char *url, const char *body_hash,
                         int64_t now_s, const char *jti) {
    json_t *o = json_object();
    if (!o) return NULL;
    int bad = json_object_set_new(o, "iss", json_string("Upstash")) ||
              json_object_set_new(o, "sub", json_string(url)) ||
              json_object_set_new(o, "exp",
                                  json_integer(now_s + SF_JWT_TTL_S)) ||
              json_object_set_new(o, "nbf", json_integer(now_s)) ||
              json_object_set_new(o, "iat", json_integer(now_s)) ||
              json_object_set_new(o, "jti", json_string(jti)) ||
              json_object_set_new(o, "body", json_string(body_hash));
    char *out = bad ? NULL : json_dumps(o, JSON_COMPACT);
    json_decref(o);
    return out;
}

/* Returns a malloc'd JWT signing "body" ("body_len" bytes; NULL allowed
 * when 0) for "url" with "key", issued at "now_s" (exp = now_s + 300) with
 * id "jti" (NULL = "jwt_" + 32 random hex chars).  The caller frees it.
 * NULL when an argument is missing or not valid UTF-8, or on OpenSSL or
 * allocation failure. */
char *sf_sign_jwt(const char *key, const char *url, const void *body,
                  size_t body_len, int64_t now_s, const char *jti) {
    if (!key || !url || (!body && body_len > 0)) return NULL;
    if (now_s < 0 || now_s > INT64_MAX - SF_JWT_TTL_S) return NULL;
    char jti_buf[40];
    if (!jti) jti = sf_random_id("jwt_", jti_buf, sizeof(jti_buf));
    if (!jti) return NULL;

    unsigned char digest[SHA256_DIGEST_LENGTH];
    if (!EVP_Digest(body_len ? body : "", body_len, digest, NULL,
                    EVP_sha256(), NULL))
        return NULL;
    char *body_hash = sf_base64url_encode(digest, sizeof(digest));
    if (!body_hash) return NULL;
    char *claims = claims_json(url, body_hash, now_s, jti);
    free(body_hash);
    if (!claims) return NULL;
    char *claims_b64 = sf_base64url_encode(claims, strlen(claims));
    free(claims);
    if (!claims_b64) return NULL;

    /* signing input: header "." claims; then "." mac is appended */
    size_t hlen = sizeof(jwt_header_b64) - 1, clen = strlen(claims_b64);
    size_t in_len = hlen + 1 + clen;
    char *signing_input = malloc(in_len + 1);
    if (!signing_input) {
        free(claims_b64);
        return NULL;
    }
    memcpy(signing_input, jwt_header_b64, hlen);
    signing_input[hlen] = '.';
    memcpy(signing_input + hlen + 1, claims_b64, clen + 1);
    free(claims_b64);

    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int mac_len = 0;
    char *mac_b64 = NULL;
    if (strlen(key) <= INT32_MAX &&
        HMAC(EVP_sha256(), key, (int)strlen(key),
             (const unsigned char *)signing_input, in_len, mac, &mac_len))
        mac_b64 = sf_base64url_encode(mac, mac_len);
    char *jwt = NULL;
    if (mac_b64) {
        size_t mlen = strlen(mac_b64);
        jwt = malloc(in_len + 1 + mlen + 1);
        if (jwt) {
            memcpy(jwt, signing_input, in_len);
            jwt[in_len] = '.';
            memcpy(jwt + in_len + 1, mac_b64, mlen + 1);
        }
    }
    free(mac_b64);
    free(signing_input);
    return jwt;
}
