/*
 * nm_log: the daemons' logging. In the foreground (or under systemd, whose
 * journal reads stderr) lines go to stderr with a level prefix the journal
 * understands (<3> ...); otherwise to syslog. common/ itself never logs:
 * this module is what the daemons call once they have an error to report.
 */
#ifndef NM_LOG_H
#define NM_LOG_H

enum nm_log_level { NM_LOG_ERR = 3, NM_LOG_WARN = 4, NM_LOG_INFO = 6, NM_LOG_DEBUG = 7 };

enum nm_log_target { NM_LOG_STDERR, NM_LOG_JOURNAL, NM_LOG_SYSLOG };

/* ident names the daemon; level is the most verbose level printed. */
void nm_log_init(const char *ident, enum nm_log_target target, int level);
void nm_log_set_level(int level);
int nm_log_level(void);

void nm_log(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
#define log_err(...)   nm_log(NM_LOG_ERR, __VA_ARGS__)
#define log_warn(...)  nm_log(NM_LOG_WARN, __VA_ARGS__)
#define log_info(...)  nm_log(NM_LOG_INFO, __VA_ARGS__)
#define log_debug(...) nm_log(NM_LOG_DEBUG, __VA_ARGS__)

/* Logs at error level and exits 1: for start-up failures and broken invariants only. */
void fatal(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

#endif
