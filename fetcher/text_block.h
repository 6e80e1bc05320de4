/*
 * text_block: sorts the bytes of a 16-byte block of UTF-8 text into the
 * classes the feed parser's three byte loops care about (feed_charset's
 * cleaner, html_text's tag stripper, feed_json's escaper), as one bit per
 * byte, so that a block of ordinary text -- ASCII, Cyrillic, any two-byte
 * sequences -- is accepted with a few vector operations and no
 * data-dependent branch. Each loop keeps its byte-at-a-time path for
 * what a block does not accept; that path is the whole loop on machines
 * without SSE2 (TEXT_BLOCK is then 0).
 */
#ifndef TEXT_BLOCK_H
#define TEXT_BLOCK_H

#include <stdbool.h>

#if defined(__SSE2__)
#include <emmintrin.h>
#define TEXT_BLOCK 1

/* One bit per byte of the block (bit i: byte i). */
struct text_block {
    unsigned ctl;     /* 0x00-0x1F */
    unsigned lead2;   /* 0xC2-0xDF: starts a two-byte sequence */
    unsigned cont;    /* 0x80-0xBF: continuation */
    unsigned other;   /* 0xC0, 0xC1, 0xE0-0xFF: invalid, or a longer sequence */
};

static inline unsigned text_block_eq(__m128i x, char c)
{
    return (unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(x, _mm_set1_epi8(c)));
}

/* Classifies the 16 bytes at p (signed compares: 0x80-0xFF are negative). */
static inline __m128i text_block_load(const unsigned char *p, struct text_block *b)
{
    __m128i x = _mm_loadu_si128((const __m128i *)(const void *)p);
    unsigned high = (unsigned)_mm_movemask_epi8(x);
    b->ctl = (unsigned)_mm_movemask_epi8(_mm_cmplt_epi8(x, _mm_set1_epi8(0x20))) & ~high;
    b->cont = (unsigned)_mm_movemask_epi8(_mm_cmplt_epi8(x, _mm_set1_epi8((char)0xC0)));
    b->lead2 = (unsigned)_mm_movemask_epi8(_mm_cmpgt_epi8(x, _mm_set1_epi8((char)0xC1))) &
               (unsigned)_mm_movemask_epi8(_mm_cmplt_epi8(x, _mm_set1_epi8((char)0xE0)));
    b->other = high & ~b->cont & ~b->lead2;
    return x;
}

/* Returns true when every non-ASCII byte of the block belongs to a whole,
   valid two-byte sequence inside it (none cut at either edge). */
static inline bool text_block_pairs(const struct text_block *b)
{
    return b->other == 0 && b->cont == ((b->lead2 << 1) & 0xFFFFu) && !(b->lead2 & 0x8000u);
}

#else
#define TEXT_BLOCK 0
#endif

#endif
