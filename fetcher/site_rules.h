/*
 * site_rules: per-site extraction rules, for the sites where the
 * heuristics of extract.c pick the wrong part of the page (in the manner
 * of Miniflux's scraper rules). A rules file holds one rule a line:
 *
 *     # comment
 *     example.com           article .body, div.story-text
 *     example.com  remove   .share-bar, aside.related, [data-ad]
 *     news.example.org  content  #main-text > p
 *
 * HOST, then optionally the word "content" (the default) or "remove",
 * then a list of CSS selectors. A host matches itself and its subdomains
 * (the longest matching host wins). "content" selects the article (every
 * match, in page order); "remove" lists what to delete first (also when
 * the heuristics run). Several lines for one host add to its lists.
 *
 * Selectors are a CSS subset compiled to XPath 1.0 and run by libxml2:
 * tag, *, .class, #id, [attr], [attr=value], [attr~=value],
 * [attr^=value], [attr$=value], [attr*=value], the descendant (space) and
 * child (>) combinators and ',' lists. Errors are reported as
 * "file:line: message", all of them, and the file is refused whole.
 */
#ifndef SITE_RULES_H
#define SITE_RULES_H

#include <stddef.h>

#include "common/nm_util.h"

struct site_rules;

/* The rule of one host. */
struct site_rule {
    char *host;            /* lower case, no leading "www." stripped: matched with subdomains */
    char *content_xpath;   /* NULL when the host has no content selector */
    char *remove_xpath;    /* NULL when the host has no remove selector */
    int line;              /* first line of the file that named the host */
};

/* Maximum size of a rules file. */
#define SITE_RULES_MAX_BYTES (1u << 20)

/* Parses rules text (name is used in messages). Returns the rules, or NULL
   with err listing the errors as "name:line: message", one a line. */
struct site_rules *site_rules_parse(const char *text, size_t len, const char *name, nm_err *err);

/* Reads and parses a rules file. Returns NULL with err on failure. */
struct site_rules *site_rules_load(const char *path, nm_err *err);

void site_rules_destroy(struct site_rules **rules);

/* Returns the number of hosts with rules. */
size_t site_rules_count(const struct site_rules *rules);

/* Returns the rule for the host of url (a URL or a bare host name): the
   rule of the host itself or of its nearest parent domain (borrowed), or NULL. */
const struct site_rule *site_rules_find(const struct site_rules *rules, const char *url);

/* Compiles a CSS selector list to an XPath 1.0 expression. Returns it
   (malloc'd), or NULL with err set to a message naming the column. */
char *site_css_to_xpath(const char *css, nm_err *err);

#endif
