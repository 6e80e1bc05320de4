/*
 * feed_xmlfast: a reader for the documents nearly every feed is (clean
 * UTF-8, well-formed, no DTD) that builds the very tree libxml2's parser
 * would, several times faster, and declines everything else, which then
 * goes to libxml2 as before. See feed_xmlfast.c for why and what it covers.
 */
#ifndef FEED_XMLFAST_H
#define FEED_XMLFAST_H

#include <libxml/tree.h>
#include <stddef.h>

/* Called as each element closes, its subtree complete; root is the
   document's root element. The callback may free n's children. */
typedef void (*xmlfast_close_fn)(void *arg, xmlNode *n, xmlNode *root);

/* Returns the tree of utf8 (len bytes of clean UTF-8: valid, no character
   XML forbids, no byte-order mark), as libxml2 builds it with XML_PARSE_NOENT,
   XML_PARSE_NOCDATA and HTML's named entities supplied for undeclared ones,
   and calls on_close(arg, ...) for each element as it closes. Returns NULL
   when the document holds anything the reader leaves to libxml2 (a DOCTYPE,
   an ill-formed construct, an unknown entity, an undeclared prefix, a limit
   libxml2 enforces approached); *why (may be NULL) then names it. */
xmlDocPtr xmlfast_read(const char *utf8, size_t len, xmlfast_close_fn on_close, void *arg, const char **why);

#endif
