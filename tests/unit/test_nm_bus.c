/*
 * nm_bus: messages cross a real ZeroMQ pair; garbage frames (unknown type,
 * missing body, extra frames, bad JSON, wrong version) are rejected with a
 * reason and the socket stays usable; the loop runs timers and stops.
 */
#include "common/nm_bus.h"
#include "tests/unit/nm_check.h"

#include <string.h>
#include <unistd.h>
#include <zmq.h>

static void *pull, *push;
static char endpoint[128];

static void setup(void)
{
    snprintf(endpoint, sizeof endpoint, "ipc:///tmp/nm-bus-test-%d/sock", (int)getpid());
    nm_err err;
    pull = nm_bus_socket(ZMQ_PULL, endpoint, 1, NULL, &err);
    ck_assert_msg(pull != NULL, "%s", err.msg);
    push = nm_bus_socket(ZMQ_PUSH, endpoint, 0, NULL, &err);
    ck_assert_msg(push != NULL, "%s", err.msg);
}

static void teardown(void)
{
    nm_bus_close(&push);
    nm_bus_close(&pull);
    nm_bus_term();
}

/* Waits for a message and returns nm_bus_recv's result. */
static int recv_wait(nm_msg_type *t, json_t **body, nm_err *err)
{
    zmq_pollitem_t it = { pull, 0, ZMQ_POLLIN, 0 };
    zmq_poll(&it, 1, 2000);
    return nm_bus_recv(pull, t, body, err);
}

START_TEST(round_trip)
{
    nm_stored s = { "article-1", NULL, 1 };
    json_t *j = nm_stored_to_json(&s);
    nm_err err;
    ck_assert_int_eq(nm_bus_send(push, NM_MSG_STORED, j, 0, &err), 0);
    json_decref(j);
    nm_msg_type t;
    json_t *body = NULL;
    ck_assert_int_eq(recv_wait(&t, &body, &err), 0);
    ck_assert_int_eq(t, NM_MSG_STORED);
    ck_assert_str_eq(json_string_value(json_object_get(body, "id")), "article-1");
    json_decref(body);
    ck_assert_int_eq(nm_bus_recv(pull, &t, &body, &err), 1);
}
END_TEST

static void send_frames(const char *const *frames, size_t n)
{
    for (size_t i = 0; i < n; i++)
        zmq_send(push, frames[i], strlen(frames[i]), i + 1 < n ? ZMQ_SNDMORE : 0);
}

START_TEST(garbage_is_rejected_with_reason)
{
    static const struct { const char *frames[3]; size_t n; const char *needle; } cases[] = {
        { { "bogus", "{\"v\":1}" }, 2, "unknown message type \"bogus\"" },
        { { "stored" }, 1, "stored message has no body frame" },
        { { "stored", "{\"v\":1}", "x" }, 3, "more than two frames" },
        { { "stored", "{not json" }, 2, "invalid JSON" },
        { { "stored", "{\"v\":99}" }, 2, "unsupported schema version 99" },
        { { "stored", "[]" }, 2, "must be a JSON object" },
        { { "\x01\xff\x80", "{}" }, 2, "unknown message type" },
    };
    for (size_t i = 0; i < NM_ARRAY_LEN(cases); i++) {
        send_frames(cases[i].frames, cases[i].n);
        nm_msg_type t;
        json_t *body = NULL;
        nm_err err = { "" };
        ck_assert_int_eq(recv_wait(&t, &body, &err), -1);
        ck_assert_msg(strstr(err.msg, cases[i].needle), "case %zu: '%s' lacks '%s'", i, err.msg, cases[i].needle);
    }
    /* still usable afterwards */
    const char *ok[] = { "stored", "{\"v\":1,\"id\":\"a\",\"version\":1}" };
    send_frames(ok, 2);
    nm_msg_type t;
    json_t *body = NULL;
    nm_err err;
    ck_assert_int_eq(recv_wait(&t, &body, &err), 0);
    json_decref(body);
}
END_TEST

START_TEST(bad_endpoints)
{
    nm_err err = { "" };
    ck_assert_ptr_null(nm_bus_socket(ZMQ_PULL, "nonsense://x", 1, NULL, &err));
    ck_assert(strstr(err.msg, "nonsense://x"));
    ck_assert_ptr_null(nm_bus_socket(ZMQ_PULL, "", 1, NULL, &err));
    ck_assert(strstr(err.msg, "no endpoint"));
}
END_TEST

static int ticks, got;
static void on_tick(nm_loop *loop, void *arg)
{
    if (++ticks >= 3 && got == 2)
        nm_loop_stop(loop);
}

static void on_timeout(nm_loop *loop, void *arg)
{
    nm_loop_stop(loop);
}

static void on_msg(nm_loop *loop, void *sock, void *arg)
{
    nm_msg_type t;
    json_t *b;
    nm_err err;
    while (nm_bus_recv(sock, &t, &b, &err) == 0) {
        got++;
        json_decref(b);
    }
}

START_TEST(loop_timers_and_sockets)
{
    nm_err err;
    nm_loop *loop = nm_loop_new(&err);
    ck_assert_ptr_nonnull(loop);
    nm_loop_add_socket(loop, pull, on_msg, NULL);
    nm_loop_add_timer(loop, 10, 10, on_tick, NULL);
    nm_loop_add_timer(loop, 3000, 0, on_timeout, NULL);
    nm_stored s = { "a", NULL, 1 };
    json_t *j = nm_stored_to_json(&s);
    nm_bus_send(push, NM_MSG_STORED, j, 0, &err);
    nm_bus_send(push, NM_MSG_STORED, j, 0, &err);
    json_decref(j);
    int64_t t0 = nm_now_ms();
    nm_loop_run(loop);
    ck_assert_int_ge(ticks, 3);
    ck_assert_int_eq(got, 2);
    ck_assert_int_lt(nm_now_ms() - t0, 2500);
    nm_loop_destroy(&loop);
    ck_assert_ptr_null(loop);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("nm_bus");
    TCase *t = tcase_create("core");
    tcase_add_checked_fixture(t, setup, teardown);
    tcase_add_test(t, round_trip);
    tcase_add_test(t, garbage_is_rejected_with_reason);
    tcase_add_test(t, bad_endpoints);
    tcase_add_test(t, loop_timers_and_sockets);
    suite_add_tcase(s, t);
    return s;
}

NM_CHECK_MAIN(suite)
