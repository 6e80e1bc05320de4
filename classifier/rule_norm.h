/*
 * rule_norm: the normalisation shared by rule terms and article text
 * (docs/rules.md, "Normalisation"). Text is cut into words and each word
 * is normalised: compatibility decomposition (NFKD), case folding,
 * combining marks removed, default-ignorable characters dropped, a few
 * letters that carry a stroke instead of a mark mapped by hand (ł→l, đ→d,
 * ø→o, ħ→h, ı→i). A word is a maximal run of letters and digits; an
 * apostrophe (' ’ ʼ) between two letters stays inside the word as '.
 *
 * Two ways in: rule_words hands the words to a callback in batches as
 * they are found (the classifier's scan: nothing is kept of a word that
 * matches no term), and rule_tokenize appends every word to a reusable rule_tokens
 * (the rule parser and the tests). Both run the same code, so they cut
 * and normalise identically. rule_words_reference does the same with
 * utf8proc for every code point and none of the tables, so a test can
 * hold the fast paths to it.
 */
#ifndef RULE_NORM_H
#define RULE_NORM_H

#include <stddef.h>
#include <stdint.h>

typedef struct rule_token {
    uint32_t norm_off;   /* the normalised word: tokens->bytes + norm_off */
    uint32_t norm_len;
    uint32_t start;      /* byte range [start, end) in the original text */
    uint32_t end;
} rule_token;

typedef struct rule_tokens {
    rule_token *v;
    size_t n, cap;
    char *bytes;         /* normalised words, back to back */
    size_t len, bytes_cap;
} rule_tokens;

void rule_tokens_init(rule_tokens *t);
void rule_tokens_free(rule_tokens *t);
void rule_tokens_reset(rule_tokens *t);

/* Appends the words of text[0..len) to t; offsets are shifted by base.
   Bytes that are not valid UTF-8 separate words. Text past 4 GiB is ignored. */
void rule_tokenize(rule_tokens *t, const char *text, size_t len, size_t base);

/* A word found by rule_words: its normalised bytes are bytes[off ..
   off+len) of the batch it comes in, its original bytes [start, end) of
   the text (shifted by base). */
typedef struct rule_word {
    uint32_t off, len;
    uint32_t start, end;
} rule_word;

/* Called with words w[0..n), in text order, n >= 1; bytes is valid
   during the call only and has 8 readable bytes after its last word,
   for word-at-a-time hashing. */
typedef void (*rule_words_fn)(void *arg, const char *bytes, const rule_word *w, size_t n);

/* Scratch space of rule_words, reusable across calls (zero it to start). */
typedef struct rule_wordbuf {
    char *b;
    size_t cap;
} rule_wordbuf;

void rule_wordbuf_free(rule_wordbuf *wb);

/* Calls fn with the words of text[0..len), in order, a batch at a time.
   Same rules and limits as rule_tokenize. */
void rule_words(rule_wordbuf *wb, const char *text, size_t len, size_t base, rule_words_fn fn, void *arg);

/* The same words as rule_words, found without the lookup tables: every
   code point goes through utf8proc. Slow; for tests. */
void rule_words_reference(rule_wordbuf *wb, const char *text, size_t len, size_t base, rule_words_fn fn,
                          void *arg);

/* Returns a pointer to token i's normalised bytes. */
static inline const char *rule_token_word(const rule_tokens *t, size_t i)
{
    return t->bytes + t->v[i].norm_off;
}

#endif
