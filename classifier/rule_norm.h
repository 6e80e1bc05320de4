/*
 * rule_norm: the normalisation shared by rule terms and article text
 * (docs/rules.md, "Normalisation"). Text is cut into words and each word
 * is normalised: compatibility decomposition (NFKD), case folding,
 * combining marks removed, default-ignorable characters dropped, a few
 * letters that carry a stroke instead of a mark mapped by hand (ł→l, đ→d,
 * ø→o, ħ→h, ı→i). A word is a maximal run of letters and digits; an
 * apostrophe (' ’ ʼ) between two letters stays inside the word as '.
 *
 * The tokeniser appends into a reusable rule_tokens, so scanning an
 * article allocates only when its buffers grow.
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

/* Returns a pointer to token i's normalised bytes. */
static inline const char *rule_token_word(const rule_tokens *t, size_t i)
{
    return t->bytes + t->v[i].norm_off;
}

#endif
