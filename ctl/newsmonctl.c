/*
 * newsmonctl: the operator's tool. Parses the global options (-c CONFIG,
 * --db PATH, -v), then dispatches to a registered command: "newsmonctl
 * parse-feed FILE", "newsmonctl rules check DIR", ...
 */
#include "common/nm_conf.h"
#include "ctl/ctl.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAX_COMMANDS 128

static const struct nm_ctl_command *commands[MAX_COMMANDS];
static size_t n_commands;

struct nm_ctl_globals nm_ctl = { "/etc/newsmon/newsmon.conf", NULL, 0 };

void nm_ctl_register(const struct nm_ctl_command *cmd)
{
    if (n_commands < MAX_COMMANDS)
        commands[n_commands++] = cmd;
}

void ctl_error(const char *fmt, ...)
{
    va_list ap;
    fputs("newsmonctl: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

static int by_name(const void *a, const void *b)
{
    const struct nm_ctl_command *x = *(const struct nm_ctl_command *const *)a;
    const struct nm_ctl_command *y = *(const struct nm_ctl_command *const *)b;
    int c = strcmp(x->group ? x->group : x->name, y->group ? y->group : y->name);
    return c ? c : strcmp(x->name, y->name);
}

static void usage(FILE *f)
{
    fprintf(f, "usage: newsmonctl [-c CONFIG] [--db PATH] [-v] COMMAND [ARGS...]\n\ncommands:\n");
    qsort(commands, n_commands, sizeof commands[0], by_name);
    for (size_t i = 0; i < n_commands; i++) {
        const struct nm_ctl_command *c = commands[i];
        char head[128];
        snprintf(head, sizeof head, "%s%s%s %s", c->group ? c->group : "", c->group ? " " : "",
                 c->name, c->usage ? c->usage : "");
        fprintf(f, "  %-44s %s\n", head, c->help);
    }
}

static const struct nm_ctl_command *find(const char *group, const char *name)
{
    for (size_t i = 0; i < n_commands; i++) {
        const struct nm_ctl_command *c = commands[i];
        if (strcmp(c->name, name) == 0 &&
            ((group == NULL && c->group == NULL) || (group && c->group && strcmp(group, c->group) == 0)))
            return c;
    }
    return NULL;
}

static int is_group(const char *name)
{
    for (size_t i = 0; i < n_commands; i++)
        if (commands[i]->group && strcmp(commands[i]->group, name) == 0)
            return 1;
    return 0;
}

/* Without --db, the database is the configuration's [store] database when
   the configuration can be read. Only that key is looked at: the store's
   other keys are its own business (newsmon-store -n checks them). */
static void db_from_config(void)
{
    static char *db;
    struct { char *database; } c = { NULL };
    static const nm_conf_key key[] = { { "store", "database", NM_CONF_STRING, 0, "", 1, 0, "" } };
    struct nm_conf_load_args a = { nm_ctl.config, key, 1, &c, NULL, 0, NULL, NULL, NULL };
    nm_conf_errors errs = { 0 };
    if (access(nm_ctl.config, R_OK) == 0) {
        nm_conf_load(&a, &errs);
        nm_conf_errors_clear(&errs);
    }
    if (c.database && *c.database)
        nm_ctl.db = db = c.database;
    else
        free(c.database);
}

int main(int argc, char **argv)
{
    int i = 1;
    for (; i < argc && argv[i][0] == '-'; i++) {
        if (strcmp(argv[i], "-c") == 0 && i + 1 < argc) {
            nm_ctl.config = argv[++i];
        } else if (strcmp(argv[i], "--db") == 0 && i + 1 < argc) {
            nm_ctl.db = argv[++i];
        } else if (strncmp(argv[i], "--db=", 5) == 0) {
            nm_ctl.db = argv[i] + 5;
        } else if (strcmp(argv[i], "-v") == 0) {
            nm_ctl.verbose++;
        } else if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
            usage(stdout);
            return 0;
        } else if (strcmp(argv[i], "--version") == 0) {
            printf("newsmonctl %s\n", NEWSMON_VERSION);
            return 0;
        } else {
            ctl_error("unknown option '%s'", argv[i]);
            usage(stderr);
            return 2;
        }
    }
    if (i >= argc) {
        usage(stderr);
        return 2;
    }
    if (!nm_ctl.db)
        db_from_config();
    const struct nm_ctl_command *cmd = NULL;
    if (is_group(argv[i])) {
        if (i + 1 >= argc || !(cmd = find(argv[i], argv[i + 1]))) {
            ctl_error("'%s' needs a subcommand", argv[i]);
            usage(stderr);
            return 2;
        }
        i++;
    } else if (!(cmd = find(NULL, argv[i]))) {
        ctl_error("unknown command '%s'", argv[i]);
        usage(stderr);
        return 2;
    }
    return cmd->fn(argc - i, argv + i);
}
