/*
 * newsmonctl counts: the store's totals and the state of its alert queue,
 * read straight from the database. The demo runner uses it to tell when
 * the pipeline has drained (nothing pending, nothing awaiting an
 * acknowledgement); operators use it as a quick look.
 */
#include "ctl/ctl.h"
#include "store/store_db.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int cmd_counts(int argc, char **argv)
{
    int as_json = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--json")) {
            as_json = 1;
        } else {
            ctl_error("counts: unknown argument '%s' (usage: newsmonctl [--db PATH] counts [--json])", argv[i]);
            return 2;
        }
    }
    struct store_options opt;
    store_options_default(&opt);
    opt.read_only = 1;
    opt.skip_check = 1;
    nm_err err;
    const char *path = nm_ctl.db ? nm_ctl.db : STORE_DEFAULT_PATH;
    store_db *db = store_db_open(path, &opt, &err);
    if (!db) {
        ctl_error("%s", err.msg);
        return 1;
    }
    struct store_counts c;
    int r = store_counts(db, &c, &err);
    store_db_close(&db);
    if (r < 0) {
        ctl_error("%s", err.msg);
        return 1;
    }
    if (as_json) {
        json_t *j = json_pack("{sI sI sI sI sI sI sI sI}", "articles", (json_int_t)c.articles,
                              "versions", (json_int_t)c.versions, "stories", (json_int_t)c.stories,
                              "feeds", (json_int_t)c.feeds, "alerts_pending", (json_int_t)c.alerts_pending,
                              "alerts_sent", (json_int_t)c.alerts_sent,
                              "alerts_delivered", (json_int_t)c.alerts_delivered,
                              "alerts_failed", (json_int_t)c.alerts_failed);
        char *s = json_dumps(j, JSON_COMPACT);
        puts(s);
        free(s);
        json_decref(j);
        return 0;
    }
    printf("articles   %lld (%lld versions, %lld stories, %lld feeds)\n", (long long)c.articles,
           (long long)c.versions, (long long)c.stories, (long long)c.feeds);
    printf("alerts     %lld pending, %lld awaiting acknowledgement, %lld delivered, %lld failed\n",
           (long long)c.alerts_pending, (long long)c.alerts_sent, (long long)c.alerts_delivered,
           (long long)c.alerts_failed);
    return 0;
}

NM_CTL_COMMAND(NULL, "counts", "[--json]", "totals of the store and the state of its alert queue", cmd_counts)
