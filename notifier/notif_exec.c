/*
 * notif_exec: the exec channel's child processes, run without blocking
 * the daemon.
 *
 * A command runs as `/bin/sh -c COMMAND` in its own process group, with
 * the alert JSON written to its stdin through a non-blocking pipe watched
 * by the loop, its stdout sent to the daemon's stderr (the journal), and
 * its exit noticed through a pidfd, also in the loop. Past the timeout the
 * whole group is killed. A finished job is freed from a zero-delay timer,
 * after the loop has dispatched every event of the round that saw it end.
 */
#include "notifier/notif.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zmq.h>

struct job {
    notif_exec *x;
    pid_t pid;
    int pidfd;          /* readable when the child has exited; -1 once closed */
    int in_fd;          /* write end of the child's stdin; -1 once closed */
    char *input;
    size_t len, off;
    int timer;          /* timeout timer id (reaping timer once dead), 0 = none */
    int timed_out;
    int dead;           /* finished: events still queued for it are ignored */
    int64_t timeout_ms;
    notif_done_fn done;
    void *arg;
};

struct notif_exec {
    nm_loop *loop;
    struct job **jobs;   /* running, and finished ones not yet freed */
    size_t n;
};

notif_exec *notif_exec_new(nm_loop *loop)
{
    notif_exec *x = nm_xcalloc(1, sizeof *x);
    x->loop = loop;
    return x;
}

static void job_close_fds(struct job *j)
{
    if (j->in_fd >= 0) {
        nm_loop_remove_fd(j->x->loop, j->in_fd);
        close(j->in_fd);
        j->in_fd = -1;
    }
    if (j->pidfd >= 0) {
        nm_loop_remove_fd(j->x->loop, j->pidfd);
        close(j->pidfd);
        j->pidfd = -1;
    }
}

static void job_free(struct job *j)
{
    notif_exec *x = j->x;
    for (size_t i = 0; i < x->n; i++)
        if (x->jobs[i] == j) {
            x->jobs[i] = x->jobs[--x->n];
            break;
        }
    free(j->input);
    free(j);
}

void notif_exec_destroy(notif_exec **xp)
{
    notif_exec *x = *xp;
    if (!x)
        return;
    while (x->n) {
        struct job *j = x->jobs[0];
        if (!j->dead) {
            kill(-j->pid, SIGKILL);
            waitpid(j->pid, NULL, 0);
        }
        job_close_fds(j);
        if (j->timer)
            nm_loop_cancel_timer(x->loop, j->timer);
        job_free(j);
    }
    free(x->jobs);
    free(x);
    *xp = NULL;
}

static void reap_later(nm_loop *loop, void *arg)
{
    job_free(arg);
}

static void finish(struct job *j, enum notif_result r, const char *msg)
{
    j->dead = 1;
    job_close_fds(j);
    if (j->timer)
        nm_loop_cancel_timer(j->x->loop, j->timer);
    j->timer = nm_loop_add_timer(j->x->loop, 0, 0, reap_later, j);
    j->done(j->arg, r, msg, 0);
}

static void on_write(nm_loop *loop, int fd, int events, void *arg)
{
    struct job *j = arg;
    if (j->dead || j->in_fd != fd)
        return;
    while (j->off < j->len) {
        ssize_t w = write(fd, j->input + j->off, j->len - j->off);
        if (w > 0) {
            j->off += (size_t)w;
            continue;
        }
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0 && errno == EAGAIN)
            return;
        break;   /* EPIPE: the command does not read its input; its exit status decides */
    }
    nm_loop_remove_fd(loop, fd);
    close(fd);
    j->in_fd = -1;
}

static void on_exit_fd(nm_loop *loop, int fd, int events, void *arg)
{
    struct job *j = arg;
    if (j->dead || j->pidfd != fd)
        return;
    int st;
    pid_t p = waitpid(j->pid, &st, WNOHANG);
    if (p == 0)
        return;
    char msg[128];
    if (p < 0) {
        snprintf(msg, sizeof msg, "waitpid: %s", strerror(errno));
        finish(j, NOTIF_RETRY, msg);
    } else if (j->timed_out) {
        snprintf(msg, sizeof msg, "command timed out after %lld ms (killed)", (long long)j->timeout_ms);
        finish(j, NOTIF_RETRY, msg);
    } else if (WIFEXITED(st) && WEXITSTATUS(st) == 0) {
        finish(j, NOTIF_OK, NULL);
    } else if (WIFEXITED(st)) {
        int code = WEXITSTATUS(st);
        snprintf(msg, sizeof msg, "command exited with status %d%s", code,
                 code == 127 ? " (not found)" : code == 126 ? " (not executable)" : "");
        finish(j, code == 126 || code == 127 ? NOTIF_PERMANENT : NOTIF_RETRY, msg);
    } else {
        snprintf(msg, sizeof msg, "command killed by signal %d", WIFSIGNALED(st) ? WTERMSIG(st) : 0);
        finish(j, NOTIF_RETRY, msg);
    }
}

static void on_timeout(nm_loop *loop, void *arg)
{
    struct job *j = arg;
    j->timer = 0;
    if (j->dead)
        return;
    j->timed_out = 1;
    kill(-j->pid, SIGKILL);
}

/* The child's side of the fork: never returns. */
static void child(int in_r, const char *command, char *const *env, size_t n_env)
{
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    signal(SIGPIPE, SIG_DFL);
    setpgid(0, 0);
    if (dup2(in_r, 0) < 0 || dup2(2, 1) < 0)
        _exit(126);
    if (in_r > 2)
        close(in_r);
    for (size_t i = 0; i < n_env; i++)
        putenv(env[i]);
    execl("/bin/sh", "sh", "-c", command, (char *)NULL);
    _exit(127);
}

void notif_exec_start(notif_exec *x, const char *command, const char *input, char *const *env, size_t n_env,
                      int64_t timeout_ms, notif_done_fn done, void *arg)
{
    int p[2];
    char msg[128];
    if (pipe2(p, O_CLOEXEC) < 0) {
        snprintf(msg, sizeof msg, "pipe: %s", strerror(errno));
        done(arg, NOTIF_RETRY, msg, 0);
        return;
    }
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) {
        snprintf(msg, sizeof msg, "fork: %s", strerror(errno));
        close(p[0]);
        close(p[1]);
        done(arg, NOTIF_RETRY, msg, 0);
        return;
    }
    if (pid == 0)
        child(p[0], command, env, n_env);
    close(p[0]);
    int pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
    if (pidfd < 0) {
        snprintf(msg, sizeof msg, "pidfd_open: %s", strerror(errno));
        kill(-pid, SIGKILL);
        close(p[1]);
        waitpid(pid, NULL, 0);
        done(arg, NOTIF_RETRY, msg, 0);
        return;
    }
    fcntl(p[1], F_SETFL, fcntl(p[1], F_GETFL) | O_NONBLOCK);
    struct job *j = nm_xcalloc(1, sizeof *j);
    j->x = x;
    j->pid = pid;
    j->pidfd = pidfd;
    j->in_fd = p[1];
    j->input = nm_xstrdup(input ? input : "");
    j->len = strlen(j->input);
    j->timeout_ms = timeout_ms;
    j->done = done;
    j->arg = arg;
    x->jobs = nm_xrealloc(x->jobs, (x->n + 1) * sizeof *x->jobs);
    x->jobs[x->n++] = j;
    nm_loop_set_fd(x->loop, j->in_fd, ZMQ_POLLOUT, on_write, j);
    nm_loop_set_fd(x->loop, j->pidfd, ZMQ_POLLIN, on_exit_fd, j);
    j->timer = nm_loop_add_timer(x->loop, timeout_ms, 0, on_timeout, j);
}

size_t notif_exec_running(const notif_exec *x)
{
    size_t n = 0;
    for (size_t i = 0; i < x->n; i++)
        n += !x->jobs[i]->dead;
    return n;
}
