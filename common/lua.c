#include "lua.h"

#include <openssl/sha.h>
#include <stdio.h>
#include <string.h>

void sf_lua_sha1(const char *script, char out[41]) {
    unsigned char md[SHA_DIGEST_LENGTH];
    SHA1((const unsigned char *)script, strlen(script), md);
    for (int i = 0; i < SHA_DIGEST_LENGTH; i++)
        snprintf(out + 2 * i, 3, "%02x", md[i]);
}
