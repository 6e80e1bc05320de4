/*
 * feed_xmlfast: a reader for the documents nearly every feed is (clean
 * UTF-8, well-formed, no DTD) that builds the very tree libxml2's parser
 * would, several times faster, and declines everything else, which then
 * goes to libxml2 as before. See feed_xmlfast.c for why and what it covers.
 */
#ifndef FEED_XMLFAST_H
#define FEED_XMLFAST_H

#include <libxml/tree.h>
#include <stdbool.h>
#include <stddef.h>

#include "common/nm_util.h"

/* Called as each element closes, its subtree complete; root is the
   document's root element; inner (inner_len bytes) is the element's
   content as written in the document, between its start and end tags,
   or NULL (inner_len 0) when it holds a processing instruction, which
   makes no node and which xmlfast_text does not re-read. The callback
   may free n's children. */
typedef void (*xmlfast_close_fn)(void *arg, xmlNode *n, xmlNode *root, const char *inner, size_t inner_len);

/* Returns the tree of utf8 (len bytes of clean UTF-8: valid, no character
   XML forbids, no byte-order mark), as libxml2 builds it with XML_PARSE_NOENT,
   XML_PARSE_NOCDATA and HTML's named entities supplied for undeclared ones,
   and calls on_close(arg, ...) for each element as it closes. Returns NULL
   when the document holds anything the reader leaves to libxml2 (a DOCTYPE,
   an ill-formed construct, an unknown entity, an undeclared prefix, a limit
   libxml2 enforces approached); *why (may be NULL) then names it. */
xmlDocPtr xmlfast_read(const char *utf8, size_t len, xmlfast_close_fn on_close, void *arg, const char **why);

/* Decodes len bytes of an element's content as the reader makes its text
   node: references replaced (HTML's named entities too), CR LF and lone
   CR read as LF, CDATA sections taken as they are. Appends the text to
   out and returns true; returns false (out partly filled) when src holds
   anything else: markup other than CDATA, "]]>", a reference the reader
   declines. For the content of an element the reader read whose only
   child is one text node and which holds no processing instruction (the
   callback's inner is then not NULL), the text is that node's, byte for
   byte. */
bool xmlfast_text(const char *src, size_t len, nm_buf *out);

#endif
