/* SPDX-License-Identifier: MIT
 * jsonw_oracle.h - the one comparison of base/jsonw.h with jansson that
 * tests/unit/test_jsonw.c and tests/fuzz/fuzz_jsonw.c share (header-only:
 * the fuzz build compiles harnesses without tests/lib).
 *
 * jsonw_oracle_string(s, len): NULL when json_stringn() + json_dumps(
 * JSON_COMPACT | JSON_ENCODE_ANY) and jsonw_string() agree on @s (both
 * refuse it, jsonw leaving its buffer as it was, or both write the same
 * bytes); otherwise what differs. *@refused tells which case it was. */
#ifndef USERSVC_TESTS_JSONW_ORACLE_H
#define USERSVC_TESTS_JSONW_ORACLE_H

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "base/jsonw.h"

static inline const char *
jsonw_oracle_string(const char *s, size_t len, bool *refused)
{
    json_t *v = json_stringn(s, len);
    const char *why = NULL;
    struct strbuf b;
    bool is_ok;

    strbuf_init(&b);
    strbuf_add(&b, "x", 1);   /* a refusal must leave what was there */
    is_ok = jsonw_string(&b, s, len);
    *refused = v == NULL;
    if (v == NULL) {
        if (is_ok)
            why = "jansson refuses a string that jsonw accepts";
        else if (strbuf_len(&b) != 1)
            why = "jsonw refused a string but changed its buffer";
    } else {
        char *want = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);

        if (want == NULL)
            why = "json_dumps failed";
        else if (!is_ok)
            why = "jsonw refuses a string that jansson renders";
        else if (strbuf_len(&b) != strlen(want) + 1 ||
                 memcmp(strbuf_str(&b) + 1, want, strlen(want)) != 0)
            why = "jsonw and jansson render a string differently";
        free(want);
        json_decref(v);
    }
    strbuf_finish(&b);
    return why;
}

#endif
