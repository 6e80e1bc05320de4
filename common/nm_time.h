/*
 * nm_time: reading the dates feeds carry and writing them back as RFC 3339.
 *
 * Feeds write dates every way there is: RFC 822 and its real-world
 * variants (no day name, two-digit years, named and military zones, no
 * seconds, day and month swapped), RFC 3339 / W3CDTF (partial dates too),
 * compact ISO 8601, asctime, Perforce's "yyyy/mm/dd", and the Greek,
 * Korean and Hungarian forms Python's feedparser knows. Everything is
 * normalised to seconds since the epoch, UTC. A date that cannot be read
 * is reported as such and never guessed (no "today" for a missing year).
 */
#ifndef NM_TIME_H
#define NM_TIME_H

#include <stdint.h>

/* Parses s. Returns 0 and sets *out_epoch (UTC seconds), or -1 when s is
   not a date this module can read (then *out_epoch is untouched). */
int nm_time_parse(const char *s, int64_t *out_epoch);

/* Writes t as "YYYY-MM-DDTHH:MM:SSZ" into out (always NUL-terminated). */
void nm_time_format(int64_t t, char out[32]);

/* Returns s normalised to RFC 3339 UTC as a new string the caller frees,
   or NULL when s is NULL or unreadable. */
char *nm_time_normalize(const char *s);

/* Returns the epoch seconds of a civil UTC date and time (no range checks). */
int64_t nm_time_from_civil(int64_t year, int month, int day, int hour, int min, int sec);

#endif
