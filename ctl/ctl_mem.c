/*
 * ctl_mem: the allocator newsmonctl runs on.
 *
 * newsmonctl is linked with jemalloc (Debian's libjemalloc2), which
 * replaces malloc for the whole process, and configured here, through the
 * malloc_conf symbol jemalloc reads at start-up, to back its memory with
 * transparent huge pages. The daemons keep glibc's malloc.
 *
 * Why: what a bulk command such as `parse-feed` of a large feed costs is
 * mostly first touches of new memory. On the 2-CPU VM of
 * docs/benchmarks.md a page fault costs about 10 us (measured: a program
 * touching 40,000 fresh 4 KiB pages), and parsing a 12.9 MB feed took
 * about 3,950 of them with glibc's malloc, most for the entries' text,
 * which the output needs all at once. With this configuration the same
 * run takes about 1,670 and its wall time falls from 106 ms to 75 ms
 * (perf stat -r 10). glibc's own huge-page tunable gives about the same
 * (GLIBC_TUNABLES=glibc.malloc.hugetlb=1: 75 ms) but can only be set in
 * the environment, and mimalloc's large pages (63 ms) likewise; jemalloc
 * is the allocator that takes its configuration from the program.
 * Small commands are not slowed (`parse-feed` of a one-item feed: 13 ms,
 * 16 ms before; the start-up is no longer spent in glibc's heap growth).
 *
 * The daemons are long-lived: their memory is reused rather than new, and
 * their resident size is what docs/benchmarks.md compares with other
 * tools, so they are left on glibc's allocator. Under the sanitizers
 * (NEWSMON_SANITIZE) their allocator is used and this file is empty.
 */
#ifdef NM_JEMALLOC
/* Read by jemalloc when it starts; its documented way for a program to set
   its options (see jemalloc(3), "TUNING"). */
const char *malloc_conf = "thp:always,metadata_thp:always";
#else
/* Nothing to configure: ISO C wants a translation unit to declare something. */
typedef int ctl_mem_unused;
#endif
