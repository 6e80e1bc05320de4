/*
 * nm_log: stderr with journal priority prefixes, or syslog.
 */
#include "common/nm_log.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>

static const char *log_ident = "newsmon";
static enum nm_log_target log_target = NM_LOG_STDERR;
static int log_max = NM_LOG_INFO;

void nm_log_init(const char *ident, enum nm_log_target target, int level)
{
    log_ident = ident;
    log_target = target;
    log_max = level;
    if (target == NM_LOG_SYSLOG)
        openlog(ident, LOG_PID, LOG_DAEMON);
}

void nm_log_set_level(int level)
{
    log_max = level;
}

int nm_log_level(void)
{
    return log_max;
}

static const char *level_name(int level)
{
    switch (level) {
    case NM_LOG_ERR: return "error";
    case NM_LOG_WARN: return "warning";
    case NM_LOG_INFO: return "info";
    default: return "debug";
    }
}

static void vlog(int level, const char *fmt, va_list ap)
{
    if (level > log_max)
        return;
    if (log_target == NM_LOG_SYSLOG) {
        vsyslog(level, fmt, ap);
        return;
    }
    char line[4096];
    vsnprintf(line, sizeof line, fmt, ap);
    if (log_target == NM_LOG_JOURNAL) {
        fprintf(stderr, "<%d>%s\n", level, line);
    } else {
        struct timespec ts;
        struct tm tm;
        clock_gettime(CLOCK_REALTIME, &ts);
        localtime_r(&ts.tv_sec, &tm);
        fprintf(stderr, "%02d:%02d:%02d.%03ld %s %s: %s\n", tm.tm_hour, tm.tm_min, tm.tm_sec,
                ts.tv_nsec / 1000000, log_ident, level_name(level), line);
    }
}

void nm_log(int level, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vlog(level, fmt, ap);
    va_end(ap);
}

void fatal(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vlog(NM_LOG_ERR, fmt, ap);
    va_end(ap);
    exit(1);
}
