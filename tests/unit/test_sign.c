/* test_sign.c - Upstash-Signature JWTs against vectors computed once,
 * independently, with node's built-in crypto (createHmac/createHash and
 * JSON.stringify of the claims in the same order), plus structure checks. */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "sign.h"
#include "util.h"

static const char vec1[] =
    "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9."
    "eyJpc3MiOiJVcHN0YXNoIiwic3ViIjoiaHR0cHM6Ly9leGFtcGxlLmNvbS9hcGkvaG9vaz94"
    "PTEiLCJleHAiOjE3MDAwMDAzMDAsIm5iZiI6MTcwMDAwMDAwMCwiaWF0IjoxNzAwMDAwMDAw"
    "LCJqdGkiOiJqd3RfMDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWYiLCJib2R5Ijoi"
    "azZJNWNha1U1ZXJMOEtqU1VWVE5vd25Ed2NjdnU1a1UxSHhnODh0b0ZZZyJ9."
    "C680AWHBZXK3G9xla5vjF2NGVdQ2jUxYwF8e3-sG6hk";

static const char vec2[] =
    "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9."
    "eyJpc3MiOiJVcHN0YXNoIiwic3ViIjoiaHR0cDovLzEyNy4wLjAuMTo5L2NhZsOpIiwiZXhw"
    "IjoxMjM0NTY4MTkwLCJuYmYiOjEyMzQ1Njc4OTAsImlhdCI6MTIzNDU2Nzg5MCwianRpIjoi"
    "and0X3giLCJib2R5IjoiNDdERVFwajhIQlNhLV9USW1XLTVKQ2V1UWVSa201Tk1wSldaRzNo"
    "U3VGVSJ9."
    "2kgpHGfE657hmOMYXP7dhLfDC89G4Wtwn4V5XSANdjc";

static void known_vector(void) {
    const char *body = "{\"hello\":\"world\"}";
    char *jwt = sf_sign_jwt("sig_3mA7xQ9kLp2RzT8wVb5NcY4d",
                            "https://example.com/api/hook?x=1", body,
                            strlen(body), 1700000000,
                            "jwt_0123456789abcdef0123456789abcdef");
    CHECK_STR(jwt, vec1);
    free(jwt);
}

static void known_vector_empty_body_utf8_url(void) {
    char *jwt = sf_sign_jwt("k2", "http://127.0.0.1:9/caf\xc3\xa9", NULL, 0,
                            1234567890, "jwt_x");
    CHECK_STR(jwt, vec2);
    free(jwt);
}

/* Decodes the claims part of "jwt" into a JSON object (caller decrefs). */
static json_t *claims_of(const char *jwt, int *parts) {
    *parts = 1;
    for (const char *p = jwt; *p; p++) *parts += *p == '.';
    const char *a = strchr(jwt, '.');
    const char *b = a ? strchr(a + 1, '.') : NULL;
    if (!b) return NULL;
    size_t n;
    unsigned char *raw = sf_base64_decode(a + 1, (size_t)(b - a - 1), &n);
    if (!raw) return NULL;
    json_t *j = json_loadb((const char *)raw, n, 0, NULL);
    free(raw);
    return j;
}

static void structure_and_random_jti(void) {
    char *a = sf_sign_jwt("key", "https://x.test/", "abc", 3, 1000, NULL);
    char *b = sf_sign_jwt("key", "https://x.test/", "abc", 3, 1000, NULL);
    CHECK(a && b);
    if (!a || !b) {
        free(a);
        free(b);
        return;
    }
    CHECK(strcmp(a, b) != 0); /* different jti, different token */
    CHECK(strncmp(a, "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.", 37) == 0);
    CHECK(strchr(a, '=') == NULL && strchr(a, '+') == NULL &&
          strchr(a, '/') == NULL);
    int parts = 0;
    json_t *c = claims_of(a, &parts);
    CHECK_INT(parts, 3);
    CHECK(c != NULL);
    if (c) {
        CHECK_INT(json_object_size(c), 7);
        CHECK_STR(json_string_value(json_object_get(c, "iss")), "Upstash");
        CHECK_STR(json_string_value(json_object_get(c, "sub")),
                  "https://x.test/");
        CHECK_INT(json_integer_value(json_object_get(c, "exp")), 1300);
        CHECK_INT(json_integer_value(json_object_get(c, "nbf")), 1000);
        CHECK_INT(json_integer_value(json_object_get(c, "iat")), 1000);
        /* sha256("abc"), base64url without padding */
        CHECK_STR(json_string_value(json_object_get(c, "body")),
                  "ungWv48Bz-pBQUDeXa4iI7ADYaOWF3qctBD_YfIAFa0");
        const char *jti = json_string_value(json_object_get(c, "jti"));
        CHECK(jti && strlen(jti) == 36 && strncmp(jti, "jwt_", 4) == 0);
        for (int i = 4; jti && i < 36; i++)
            CHECK(strchr("0123456789abcdef", jti[i]) != NULL);
        json_decref(c);
    }
    free(a);
    free(b);
}

static void rejects_bad_arguments(void) {
    CHECK(sf_sign_jwt(NULL, "u", "", 0, 1, "j") == NULL);
    CHECK(sf_sign_jwt("k", NULL, "", 0, 1, "j") == NULL);
    CHECK(sf_sign_jwt("k", "u", NULL, 5, 1, "j") == NULL);
    CHECK(sf_sign_jwt("k", "http://x/\xff", "", 0, 1, "j") == NULL);
    CHECK(sf_sign_jwt("k", "u", "", 0, 1, "bad\xc3") == NULL);
    char *ok = sf_sign_jwt("", "u", "", 0, 1, "j"); /* empty key still signs */
    CHECK(ok != NULL);
    free(ok);
}

TEST_MAIN(T(known_vector), T(known_vector_empty_body_utf8_url),
          T(structure_and_random_jti), T(rejects_bad_arguments))
