/*
 * feed_utf8: whole-document UTF-8 validation for the charset stage
 * (feed_charset.c), by simdjson's validator, the one C++ file of newsmon.
 *
 * Nearly every feed is valid UTF-8 already, and the question for it is
 * only "is all of it valid?". simdjson answers that with the widest
 * vector instructions the processor has (chosen at run time: AVX-512 on
 * the machine of docs/benchmarks.md), at about 17 GB/s there against
 * about 2.4 GB/s for newsmon's own SSE2 loop, which only takes ASCII and
 * two-byte sequences in bulk (12.9 MB bench feed: 0.75 ms and 5.3 ms).
 * The own loop stays for the repair of invalid documents, which needs
 * to know where each bad sequence is.
 */
#include <simdjson.h>

/* Declared for the C side in feed_priv.h. */
extern "C" bool feed_utf8_valid(const char *p, size_t n);

bool feed_utf8_valid(const char *p, size_t n)
{
    return simdjson::validate_utf8(p, n);
}
