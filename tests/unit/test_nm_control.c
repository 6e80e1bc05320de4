/*
 * nm_control: a daemon's control socket answers status and reload, and
 * malformed requests (unknown word, several frames) get an error reply
 * while the socket keeps serving. The client reports a missing daemon.
 */
#include "common/nm_control.h"
#include "tests/unit/nm_check.h"

#include <pthread.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zmq.h>

static char dir[64];
static int reloads;

static void status(json_t *j, void *arg)
{
    json_object_set_new(j, "answer", json_integer(42));
}

static int reload(void *arg, char **msg)
{
    reloads++;
    *msg = nm_xstrdup(reloads == 1 ? "reloaded" : "refused");
    return reloads == 1 ? 0 : -1;
}

struct client_result {
    json_t *status, *reload1, *reload2, *unknown, *multi;
    int missing_failed;
    char missing_err[1100];
};

static json_t *raw_request(const char *const *frames, int n)
{
    char *ep = nm_control_endpoint(dir, "tester");
    void *s = zmq_socket(nm_bus_context(), ZMQ_REQ);
    int t = 3000, zero = 0;
    zmq_setsockopt(s, ZMQ_RCVTIMEO, &t, sizeof t);
    zmq_setsockopt(s, ZMQ_LINGER, &zero, sizeof zero);
    zmq_connect(s, ep);
    for (int i = 0; i < n; i++)
        zmq_send(s, frames[i], strlen(frames[i]), i + 1 < n ? ZMQ_SNDMORE : 0);
    char buf[1024];
    int r = zmq_recv(s, buf, sizeof buf - 1, 0);
    zmq_close(s);
    free(ep);
    if (r < 0)
        return NULL;
    buf[r] = '\0';
    return json_loads(buf, 0, NULL);
}

static void *client(void *arg)
{
    struct client_result *r = arg;
    nm_err err;
    nm_control_request(dir, "tester", "status", 3000, &r->status, &err);
    nm_control_request(dir, "tester", "reload", 3000, &r->reload1, &err);
    nm_control_request(dir, "tester", "reload", 3000, &r->reload2, &err);
    const char *unknown[] = { "launch-missiles" };
    r->unknown = raw_request(unknown, 1);
    const char *multi[] = { "status", "extra" };
    r->multi = raw_request(multi, 2);
    r->missing_failed = nm_control_request(dir, "nobody", "status", 500, &(json_t *){ NULL }, &err) < 0;
    snprintf(r->missing_err, sizeof r->missing_err, "%s", err.msg);
    return NULL;
}

static void stop_when_done(nm_loop *loop, void *arg)
{
    if (*(int *)arg)
        nm_loop_stop(loop);
}

static void *client_then_flag(void *arg)
{
    void **a = arg;
    client(a[0]);
    *(int *)a[1] = 1;
    return NULL;
}

START_TEST(status_reload_and_garbage)
{
    snprintf(dir, sizeof dir, "/tmp/nm-control-%d", (int)getpid());
    mkdir(dir, 0700);
    nm_err err;
    nm_loop *loop = nm_loop_new(&err);
    nm_control *c = nm_control_open(loop, dir, "tester", status, reload, NULL, &err);
    ck_assert_msg(c != NULL, "%s", err.msg);
    struct client_result r = { 0 };
    int done = 0;
    void *args[2] = { &r, &done };
    pthread_t th;
    pthread_create(&th, NULL, client_then_flag, args);
    nm_loop_add_timer(loop, 20, 20, stop_when_done, &done);
    nm_loop_run(loop);
    pthread_join(th, NULL);

    ck_assert_ptr_nonnull(r.status);
    ck_assert_str_eq(json_string_value(json_object_get(r.status, "daemon")), "tester");
    ck_assert_int_eq(json_integer_value(json_object_get(r.status, "answer")), 42);
    ck_assert_int_eq(json_integer_value(json_object_get(r.status, "pid")), getpid());
    ck_assert(json_is_true(json_object_get(r.reload1, "ok")));
    ck_assert_str_eq(json_string_value(json_object_get(r.reload1, "message")), "reloaded");
    ck_assert(json_is_false(json_object_get(r.reload2, "ok")));
    ck_assert_ptr_nonnull(json_object_get(r.unknown, "error"));
    ck_assert_str_eq(json_string_value(json_object_get(r.multi, "error")), "a request is one frame");
    ck_assert(r.missing_failed);
    ck_assert(strstr(r.missing_err, "not running"));
    json_decref(r.status);
    json_decref(r.reload1);
    json_decref(r.reload2);
    json_decref(r.unknown);
    json_decref(r.multi);
    nm_control_close(&c);
    nm_loop_destroy(&loop);
    nm_bus_term();
    char cmd[96];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    ck_assert_int_eq(system(cmd), 0);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("nm_control");
    TCase *t = tcase_create("core");
    tcase_add_test(t, status_reload_and_garbage);
    suite_add_tcase(s, t);
    return s;
}

NM_CHECK_MAIN(suite)
