/* SPDX-License-Identifier: MIT
 * router.c - see router.h. Patterns are few and short; a linear scan over
 * the table is faster than any index at this size. */
#include "http/router.h"

#include <string.h>

bool
router_match(const char *pattern, const char *path, const char **param, size_t *param_len)
{
    while (*pattern != '\0') {
        if (*pattern == '{') {
            size_t n = strcspn(path, "/");

            if (n == 0)
                return false;
            *param = path;
            *param_len = n;
            path += n;
            pattern = strchr(pattern, '}');
            if (pattern == NULL)
                return false;
            pattern++;
            continue;
        }
        if (*pattern++ != *path++)
            return false;
    }
    return *path == '\0';
}

enum usv_err
router_find(const struct route *routes, size_t n_routes, const char *method, const char *path,
            const struct route **route, const char **param, size_t *param_len,
            struct strbuf *allow)
{
    bool is_path_known = false;

    if (strcmp(method, "HEAD") == 0)
        method = "GET";
    for (size_t i = 0; i < n_routes; i++) {
        const char *p = NULL;
        size_t len = 0;

        if (!router_match(routes[i].pattern, path, &p, &len))
            continue;
        is_path_known = true;
        if (strcmp(routes[i].method, method) == 0) {
            *route = &routes[i];
            *param = p;
            *param_len = len;
            return USV_OK;
        }
        strbuf_addf(allow, "%s%s", strbuf_len(allow) > 0 ? ", " : "", routes[i].method);
        if (strcmp(routes[i].method, "GET") == 0)
            strbuf_adds(allow, ", HEAD");
    }
    return is_path_known ? USV_BAD_METHOD : USV_NOT_FOUND;
}
