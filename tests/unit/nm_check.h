/*
 * Shared scaffolding for the check unit tests: a main that runs one suite,
 * and paths to the source tree's fixtures.
 */
#ifndef NM_CHECK_H
#define NM_CHECK_H

#include <check.h>
#include <stdio.h>
#include <stdlib.h>

/* Returns the path of a file under the source tree (static buffer, tests only). */
static inline const char *nm_test_path(const char *rel)
{
    static char buf[4096];
    const char *root = getenv("NM_SOURCE_DIR");
    snprintf(buf, sizeof buf, "%s/%s", root ? root : ".", rel);
    return buf;
}

#define NM_CHECK_MAIN(suite_fn)                                   \
    int main(void)                                                \
    {                                                             \
        SRunner *sr = srunner_create(suite_fn());                 \
        srunner_run_all(sr, CK_NORMAL);                           \
        int failed = srunner_ntests_failed(sr);                   \
        srunner_free(sr);                                         \
        return failed ? EXIT_FAILURE : EXIT_SUCCESS;              \
    }

#endif
