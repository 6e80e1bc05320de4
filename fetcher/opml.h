/*
 * opml: the feed lists. The fetcher reads every *.opml file of its feeds
 * folder (at start and on SIGHUP); newsmonctl imports and exports them.
 *
 * Each <outline> with an xmlUrl is a feed; an outline without one is a
 * folder whose text becomes the category of the feeds inside it. Two
 * attributes of our own (namespace prefix "newsmon", declared as
 * xmlns:newsmon="https://newsmon.invalid/opml" or not declared at all):
 *   newsmon:interval="15m"    poll this feed at this interval
 *   newsmon:fetchPage="no"    do not fetch its items' pages
 * Problems are reported as "file:line: message", all of them; a list with
 * any problem is refused whole (the caller keeps the previous one).
 */
#ifndef OPML_H
#define OPML_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/nm_conf.h"
#include "common/nm_util.h"

#define OPML_DEFAULT_DIR "/etc/newsmon/feeds.d"
#define OPML_NS "https://newsmon.invalid/opml"
#define OPML_MAX_FILE (16 * 1024 * 1024)

struct opml_feed {
    char *url;           /* xmlUrl, absolute */
    char *title;         /* title, else text; may be NULL */
    char *html_url;      /* may be NULL */
    char *category;      /* text of the enclosing folder outline(s), joined by "/"; may be NULL */
    int64_t interval_ms; /* newsmon:interval; 0 = scheduler decides */
    int fetch_page;      /* newsmon:fetchPage: 1 yes, 0 no, -1 not set */
    char *file;          /* where it was read */
    int line;
};

struct opml_list {
    struct opml_feed *v;
    size_t n;
};

void opml_list_clear(struct opml_list *l);

/* Parses OPML text (name is used in messages) and appends its feeds to
   out. URL schemes other than http and https are refused, and file: too
   unless allow_file. Returns the number of problems added to errs. */
size_t opml_parse(const char *name, const char *buf, size_t len, bool allow_file, struct opml_list *out,
                  nm_conf_errors *errs);

/* Reads one file. Returns the number of problems added to errs. */
size_t opml_load_file(const char *path, bool allow_file, struct opml_list *out, nm_conf_errors *errs);

/* Reads every *.opml of dir in name order; a URL listed twice is a problem.
   Returns the number of problems added to errs. */
size_t opml_load_dir(const char *dir, bool allow_file, struct opml_list *out, nm_conf_errors *errs);

/* Returns the index of url in l, or -1. */
long opml_find(const struct opml_list *l, const char *url);

/* Appends l as an OPML 2.0 document titled title to out. */
void opml_write(nm_buf *out, const struct opml_list *l, const char *title);

#endif
