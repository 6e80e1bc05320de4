/*
 * ctl_mem: the allocator newsmonctl runs on.
 *
 * newsmonctl is linked with jemalloc (Debian's libjemalloc2), which
 * replaces malloc for the whole process, and configured here: through the
 * malloc_conf symbol jemalloc reads at start-up (transparent huge pages),
 * and by giving its first arena, the one a single-threaded command uses,
 * its memory from one region reserved at start, aligned to 2 MiB and
 * marked for huge pages (jemalloc's extent hooks, arena.0.extent_hooks in
 * jemalloc(3)). The daemons keep glibc's malloc.
 *
 * Why: what a bulk command such as `parse-feed` of a large feed costs is
 * mostly first touches of new memory. On the 2-CPU VM of
 * docs/benchmarks.md a first touch of a 4 KiB page costs about 10 us
 * (measured: a program touching 40,000 fresh pages), and parsing a
 * 12.9 MB feed took about 3,950 of them with glibc's malloc, most for the
 * entries' text, which the output needs all at once. jemalloc with
 * thp:always alone brought that to about 1,575: it maps its memory in
 * steps of 2.5, 3, 3.5 MiB... at addresses the kernel does not align, and
 * only the aligned 2 MiB pieces of each step get a huge page. From the
 * aligned region the same run takes about 300 faults, and its time falls
 * from 73 ms to 56 ms (perf stat -r 10, docs/fetcher.md). glibc's own
 * huge-page tunable and mimalloc's large pages can only be set in the
 * environment; jemalloc is the allocator that takes its configuration
 * from the program.
 *
 * The region is address space only (MAP_NORESERVE) until touched, 1 GiB
 * of it; what jemalloc releases inside it is kept for reuse rather than
 * returned to the system (fine for a command that runs and exits), and
 * beyond it, or for other arenas, jemalloc's own hooks serve as before.
 *
 * The daemons are long-lived: their memory is reused rather than new, and
 * their resident size is what docs/benchmarks.md compares with other
 * tools, so they are left on glibc's allocator. Under the sanitizers
 * (NEWSMON_SANITIZE) their allocator is used and this file is empty.
 */
#ifdef NM_JEMALLOC
#include <jemalloc/jemalloc.h>
#include <pthread.h>
#include <stdint.h>
#include <sys/mman.h>

#define HUGE_PAGE ((uintptr_t)2 << 20)
#define REGION ((size_t)1 << 30)

/* Read by jemalloc when it starts; its documented way for a program to set
   its options (see jemalloc(3), "TUNING"). */
const char *malloc_conf = "thp:always,metadata_thp:auto";

/* The reserved region, handed out front to back, never taken back. */
static struct {
    pthread_mutex_t lock;
    uintptr_t lo, hi;          /* [lo, hi): the region; empty when it could not be set up */
    uintptr_t next;            /* first byte not yet handed out */
    extent_hooks_t *dflt;      /* jemalloc's own hooks, for everything outside */
} region = { .lock = PTHREAD_MUTEX_INITIALIZER };

static bool inside(const void *p)
{
    return (uintptr_t)p >= region.lo && (uintptr_t)p < region.hi;
}

/* Returns size bytes of the region aligned to align, or NULL when it is
   used up (or a given address is asked for, which it cannot promise). */
static void *take(void *new_addr, size_t size, size_t align)
{
    if (new_addr || region.lo == region.hi)
        return NULL;
    pthread_mutex_lock(&region.lock);
    uintptr_t p = (region.next + align - 1) & ~(uintptr_t)(align - 1);
    void *r = NULL;
    if (p >= region.next && size <= region.hi - p) {
        region.next = p + size;
        r = (void *)p;
    }
    pthread_mutex_unlock(&region.lock);
    return r;
}

/* The hooks: memory of the region is always committed and zero when first
   handed out; jemalloc keeps what it frees there (returning true declines
   an operation, as jemalloc(3) specifies). Elsewhere, jemalloc's own. */
static void *hook_alloc(extent_hooks_t *h, void *new_addr, size_t size, size_t align, bool *zero, bool *commit,
                        unsigned arena)
{
    (void)h;
    void *p = take(new_addr, size, align);
    if (!p)
        return region.dflt->alloc(region.dflt, new_addr, size, align, zero, commit, arena);
    *zero = true;
    *commit = true;
    return p;
}

static bool hook_dalloc(extent_hooks_t *h, void *addr, size_t size, bool committed, unsigned arena)
{
    (void)h;
    return inside(addr) || region.dflt->dalloc(region.dflt, addr, size, committed, arena);
}

static void hook_destroy(extent_hooks_t *h, void *addr, size_t size, bool committed, unsigned arena)
{
    (void)h;
    if (!inside(addr))
        region.dflt->destroy(region.dflt, addr, size, committed, arena);
}

static bool hook_commit(extent_hooks_t *h, void *addr, size_t size, size_t off, size_t len, unsigned arena)
{
    (void)h;
    return !inside(addr) && region.dflt->commit(region.dflt, addr, size, off, len, arena);
}

static bool hook_decommit(extent_hooks_t *h, void *addr, size_t size, size_t off, size_t len, unsigned arena)
{
    (void)h;
    return inside(addr) || region.dflt->decommit(region.dflt, addr, size, off, len, arena);
}

static bool hook_purge_lazy(extent_hooks_t *h, void *addr, size_t size, size_t off, size_t len, unsigned arena)
{
    (void)h;
    return inside(addr) || !region.dflt->purge_lazy ||
           region.dflt->purge_lazy(region.dflt, addr, size, off, len, arena);
}

static bool hook_purge_forced(extent_hooks_t *h, void *addr, size_t size, size_t off, size_t len, unsigned arena)
{
    (void)h;
    return inside(addr) || !region.dflt->purge_forced ||
           region.dflt->purge_forced(region.dflt, addr, size, off, len, arena);
}

static bool hook_split(extent_hooks_t *h, void *addr, size_t size, size_t a, size_t b, bool committed,
                       unsigned arena)
{
    (void)h;
    return !inside(addr) && region.dflt->split(region.dflt, addr, size, a, b, committed, arena);
}

static bool hook_merge(extent_hooks_t *h, void *a, size_t na, void *b, size_t nb, bool committed, unsigned arena)
{
    (void)h;
    if (inside(a) != inside(b))
        return true;
    return !inside(a) && region.dflt->merge(region.dflt, a, na, b, nb, committed, arena);
}

static extent_hooks_t hooks = {
    hook_alloc, hook_dalloc, hook_destroy, hook_commit, hook_decommit,
    hook_purge_lazy, hook_purge_forced, hook_split, hook_merge,
};

/* Before main: reserves the region and gives arena 0 the hooks. Should any
   step fail, jemalloc simply goes on with its own. */
__attribute__((constructor)) static void region_init(void)
{
    void *m = mmap(NULL, REGION + HUGE_PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
                   -1, 0);
    if (m == MAP_FAILED)
        return;
    uintptr_t lo = ((uintptr_t)m + HUGE_PAGE - 1) & ~(HUGE_PAGE - 1);
    size_t len = sizeof region.dflt;
    extent_hooks_t *mine = &hooks;
    if (madvise((void *)lo, REGION, MADV_HUGEPAGE) != 0 ||
        mallctl("arena.0.extent_hooks", &region.dflt, &len, NULL, 0) != 0 || !region.dflt) {
        munmap(m, REGION + HUGE_PAGE);
        return;
    }
    region.lo = region.next = lo;
    region.hi = lo + REGION;
    if (mallctl("arena.0.extent_hooks", NULL, NULL, &mine, sizeof mine) != 0) {
        region.lo = region.hi = region.next = 0;
        munmap(m, REGION + HUGE_PAGE);
    }
}
#else
/* Nothing to configure: ISO C wants a translation unit to declare something. */
typedef int ctl_mem_unused;
#endif
