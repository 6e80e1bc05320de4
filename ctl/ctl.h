/*
 * newsmonctl's command registry. Each ctl_*.c file registers its commands
 * with NM_CTL_COMMAND, so a group of commands lives in one file and the
 * dispatcher (newsmonctl.c) needs no edit when one is added.
 *
 * A command is called with argv[0] = its own name (for multi-word commands
 * such as "rules check", argv[0] is "check" and the group is "rules") and
 * returns the process exit status: 0 success, 1 a failure the command
 * reports (bad input, errors found), 2 a usage error.
 */
#ifndef NM_CTL_H
#define NM_CTL_H

typedef int (*nm_ctl_fn)(int argc, char **argv);

struct nm_ctl_command {
    const char *group;  /* NULL for a top-level command, else e.g. "rules" */
    const char *name;
    const char *usage;  /* arguments, e.g. "FILE" */
    const char *help;   /* one line */
    nm_ctl_fn fn;
};

void nm_ctl_register(const struct nm_ctl_command *cmd);

#define NM_CTL_CONCAT2(a, b) a##b
#define NM_CTL_CONCAT(a, b) NM_CTL_CONCAT2(a, b)
/* NM_CTL_COMMAND(group-or-NULL, "name", "usage", "help", fn) */
#define NM_CTL_COMMAND(grp, nm, use, hlp, func)                                         \
    static const struct nm_ctl_command NM_CTL_CONCAT(ctl_cmd_, __LINE__) = {            \
        grp, nm, use, hlp, func };                                                      \
    __attribute__((constructor)) static void NM_CTL_CONCAT(ctl_reg_, __LINE__)(void)    \
    {                                                                                   \
        nm_ctl_register(&NM_CTL_CONCAT(ctl_cmd_, __LINE__));                            \
    }

/* Global options, set by the dispatcher before a command runs. */
struct nm_ctl_globals {
    const char *config;   /* -c FILE, default /etc/newsmon/newsmon.conf */
    const char *db;       /* --db PATH, else the configuration's [store] database, else NULL
                             (commands then use STORE_DEFAULT_PATH) */
    int verbose;
};
extern struct nm_ctl_globals nm_ctl;

/* Prints "newsmonctl: " and the message to stderr. */
void ctl_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
