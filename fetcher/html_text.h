/*
 * html_text: HTML fragment to plain text, for feed titles and summaries
 * and for the page extractor. Tags are removed (block-level ones become a
 * space so words do not run together), script, style and similar elements
 * are dropped with their content, comments are dropped, CDATA sections
 * kept as text, character references decoded (named HTML 4 entities,
 * decimal and hexadecimal, windows-1252 fix-ups for &#128;-&#159;), and
 * white space collapsed to single spaces with none at either end.
 *
 * Input must be UTF-8; invalid bytes pass through unchanged (the feed
 * parser has already made its text valid UTF-8).
 */
#ifndef HTML_TEXT_H
#define HTML_TEXT_H

#include <stdbool.h>
#include <stddef.h>

#include "common/nm_util.h"

/* Returns the plain text of the HTML fragment s (len bytes) as a new
   string the caller frees (possibly ""). */
char *html_to_text(const char *s, size_t len);

/* Appends the plain text of s (len bytes) to out, collapsing white space
   with what out already ends with. */
void html_text_append(nm_buf *out, const char *s, size_t len);

/* Appends the plain text [s, end) to out with white space collapsed (no
   markup processing). */
void text_append(nm_buf *out, const char *s, const char *end);

/* Returns s with white space collapsed and trimmed, no markup processing
   (for text that is plain by declaration), as a new string. */
char *text_collapse(const char *s, size_t len);

/* Returns true when the text of s (len bytes; HTML when html, else plain
   text as text_collapse reads it) is not empty, stopping after the first
   run of text it writes. scratch is working space, left holding a prefix
   of the text. */
bool text_nonempty(nm_buf *scratch, const char *s, size_t len, bool html);

/* Appends the UTF-8 encoding of code point cp to out (U+FFFD for values
   that are not characters). */
void utf8_append(nm_buf *out, unsigned cp);

#endif
