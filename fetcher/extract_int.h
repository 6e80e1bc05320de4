/*
 * extract_int: what the page extractor's files share and nobody else sees.
 * The extractor works on a libxml2 HTML tree; these are the small DOM
 * operations Readability's algorithm is written in (next node in document
 * order, inner-text length, link density ...), the charset step that runs
 * before parsing, the metadata pass, the Readability pass and the text
 * serialiser.
 *
 * Nodes taken out of the tree are not freed at once but put in a
 * "graveyard" freed when the pass ends: the algorithm keeps lists of nodes
 * (like the JavaScript it follows, which relies on garbage collection), and
 * a node removed while still listed must stay valid memory. Nodes are
 * linked by our own functions, never xmlAddChild, which merges adjacent
 * text nodes and frees one of them behind our back.
 */
#ifndef EXTRACT_INT_H
#define EXTRACT_INT_H

#include <libxml/HTMLparser.h>
#include <libxml/tree.h>
#include <stdbool.h>
#include <stddef.h>

#include "common/nm_util.h"

/* A growable list of node pointers (borrowed). */
struct nodevec {
    xmlNode **v;
    size_t n, cap;
};

void nodevec_push(struct nodevec *nv, xmlNode *n);
void nodevec_free(struct nodevec *nv);

/* Returns true when n is an element named tag (lower case). */
bool dom_is(const xmlNode *n, const char *tag);
/* Returns true when n is an element whose name is in the NULL-terminated list. */
bool dom_is_any(const xmlNode *n, const char *const *tags);
/* Returns true when n is an h1..h6 element. */
bool dom_is_heading(const xmlNode *n);
/* Returns the value of attribute name (borrowed, NULL when absent; "" when empty). */
const char *dom_attr(const xmlNode *n, const char *name);
/* Sets attribute name to value (replacing it). */
void dom_set_attr(xmlNode *n, const char *name, const char *value);

xmlNode *dom_first_elem(const xmlNode *n);
xmlNode *dom_next_elem(const xmlNode *n);
xmlNode *dom_prev_elem(const xmlNode *n);
/* Returns the number of element children of n. */
size_t dom_elem_count(const xmlNode *n);
/* Returns the element after n in document order, skipping n's subtree when skip_kids. */
xmlNode *dom_next_node(xmlNode *n, bool skip_kids);

/* Detaches n from its parent (no-op when detached). */
void dom_unlink(xmlNode *n);
/* Appends child (detached first) as the last child of parent. */
void dom_append(xmlNode *parent, xmlNode *child);
/* Puts repl (detached first) where old is; old ends up detached. */
void dom_replace(xmlNode *old, xmlNode *repl);
/* Returns a new detached element of doc. */
xmlNode *dom_new_elem(xmlDoc *doc, const char *tag);
/* Renames element n (like Readability's _setNodeTag under JSDOMParser). */
void dom_rename(xmlNode *n, const char *tag);

/* Detaches n and hands it to the graveyard, freed by dom_graveyard_free. */
void dom_remove(struct nodevec *graveyard, xmlNode *n);
/* Removes n and returns the element after it (dom_next_node(n, true) first). */
xmlNode *dom_remove_and_next(struct nodevec *graveyard, xmlNode *n);
void dom_graveyard_free(struct nodevec *graveyard);

/* Appends n's textContent (text of all descendants, no comments) to b. */
void dom_text(const xmlNode *n, nm_buf *b);
/* Appends n's inner text: textContent trimmed, whitespace runs collapsed to one space. */
void dom_inner_text(const xmlNode *n, nm_buf *b);
/* Returns the length in characters of dom_inner_text(n) without building it. */
size_t dom_inner_len(const xmlNode *n);
/* Returns true when n's textContent is all whitespace. */
bool dom_text_blank(const xmlNode *n);
/* Returns the number of characters of whitespace at s (0 when none): ASCII
   blanks, NBSP and the other Unicode spaces. */
size_t utf8_space_len(const unsigned char *s);
/* Returns s lower-cased (Unicode case folding) and trimmed, malloc'd. */
char *extract_casefold(const char *s);
/* Returns the number of characters (code points) in the first n bytes of s. */
size_t utf8_chars(const char *s, size_t n);

/* Appends to out every element under root (not root) named in tags, in document order. */
void dom_collect(xmlNode *root, const char *const *tags, struct nodevec *out);
/* Returns the first element under root (not root) named in tags, or NULL. */
xmlNode *dom_find_any(xmlNode *root, const char *const *tags);
/* Returns the number of elements named tag under root (not root). */
size_t dom_count(const xmlNode *root, const char *tag);

/* The class and id attributes joined by a space, as Readability's matchString. */
void dom_match_string(const xmlNode *n, nm_buf *b);

/* ---- charset (extract_charset.c) ---- */

/* Returns a malloc'd UTF-8 copy of a page, decoded from the charset
   chosen as a browser would (BOM, the HTTP charset, <meta>, valid UTF-8,
   then uchardet's guess, then windows-1252). Invalid sequences become
   U+FFFD, NUL bytes are dropped. *out_len gets the length; *charset (when
   not NULL) a static name of the charset used. */
char *extract_to_utf8(const char *data, size_t len, const char *http_charset,
                      size_t *out_len, const char **charset);

/* ---- dates (extract_meta.c) ---- */

/* Returns s (ISO 8601, RFC 822 or any date common/nm_time reads)
   normalised to "YYYY-MM-DDTHH:MM:SSZ", malloc'd; NULL when unreadable. */
char *extract_date(const char *s);

/* ---- metadata (extract_meta.c) ---- */

struct extract_meta {
    char *title;         /* JSON-LD name/headline, else og:title ..., else the cleaned <title> */
    char *byline;
    char *published;     /* as found; normalised by the caller */
    char *lang;
    char *site_name;
    char *json_ld_body;  /* JSON-LD articleBody, when present */
};

/* Fills m from doc's <head>, JSON-LD scripts and the page (call before scripts are removed). */
void extract_meta_read(xmlDoc *doc, struct extract_meta *m);
void extract_meta_clear(struct extract_meta *m);
/* Returns Readability's title heuristic on <title> (malloc'd, may be ""). */
char *extract_article_title(xmlDoc *doc);
/* Returns Readability's _textSimilarity(a, b): 1 same words, 0 no common words. */
double extract_text_similarity(const char *a, const char *b);

/* ---- Readability (extract_readability.c) ---- */

/* Runs the main-content algorithm on doc (which it prepares and may
   modify) with the article title. Returns the article's plain text
   (malloc'd), or NULL when nothing was found. When the metadata named no
   author (!have_byline) and the page has a byline element, *byline gets its
   text (malloc'd). */
char *extract_readability_text(xmlDoc *doc, const char *title, bool have_byline, char **byline);

/* ---- text (extract_text.c) ---- */

/* Appends the plain text of n to out: block elements separated by blank
   lines, inline content joined, whitespace collapsed (kept inside <pre>),
   advertisement labels dropped. */
void extract_text(const xmlNode *n, nm_buf *out);

#endif
