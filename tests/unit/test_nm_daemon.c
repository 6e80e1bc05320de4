/*
 * nm_daemon: the common [bus]/[log] keys with a daemon's own schema, the
 * validation hook, CURVE settings checked at load time, and control names.
 */
#include "common/nm_curve.h"
#include "common/nm_daemon.h"
#include "tests/unit/nm_check.h"

#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct conf {
    struct nm_common_conf common;
    int64_t n;
};

static const nm_conf_key keys[] = {
    { "store", "n", NM_CONF_INT, offsetof(struct conf, n), "3", 1, 10, "" },
};

static char path[64];

static int load(const char *text, struct conf *c, nm_daemon_validate_fn v)
{
    snprintf(path, sizeof path, "/tmp/nm-daemon-%d.conf", (int)getpid());
    FILE *f = fopen(path, "w");
    fputs(text, f);
    fclose(f);
    struct nm_daemon_args a = { .name = "test", .config = path };
    memset(c, 0, sizeof *c);
    int r = nm_daemon_load_config_checked(&a, keys, 1, c, NULL, NULL, v);
    unlink(path);
    return r;
}

static int validated;
static void validate(void *conf, const char *p, nm_conf_errors *errs)
{
    validated++;
    if (((struct conf *)conf)->n == 7)
        nm_conf_errors_add(errs, "%s: seven is not allowed", p);
}

START_TEST(common_and_own_keys)
{
    struct conf c;
    ck_assert_int_eq(load("[bus]\nhwm = 50\ninstance = b\n[store]\nn = 4\n[log]\nlevel = debug\n", &c, validate), 0);
    ck_assert_int_eq(c.common.hwm, 50);
    ck_assert_int_eq(c.n, 4);
    ck_assert_str_eq(c.common.log_level, "debug");
    ck_assert_str_eq(c.common.store_in, "ipc:///run/newsmon/store.sock");
    ck_assert_int_eq(validated, 1);
    char *name = nm_daemon_control_name(&c.common, "fetcher");
    ck_assert_str_eq(name, "fetcher-b");
    free(name);
    struct nm_bus_opts o = nm_daemon_bus_opts(&c.common);
    ck_assert_int_eq(o.sndhwm, 50);
    ck_assert_ptr_null(o.curve_server_secret);
    nm_daemon_free_config(keys, 1, &c);

    ck_assert_int_eq(load("[store]\nn = 7\n", &c, validate), -1);      /* the hook's verdict counts */
    nm_daemon_free_config(keys, 1, &c);
    ck_assert_int_eq(load("[log]\nlevel = loud\n", &c, NULL), -1);
    nm_daemon_free_config(keys, 1, &c);
    ck_assert_int_eq(load("[bus]\nhwm = 0\n", &c, NULL), -1);          /* out of range */
    nm_daemon_free_config(keys, 1, &c);
}
END_TEST

START_TEST(curve_settings_checked)
{
    struct conf c;
    char dir[64], text[512];
    snprintf(dir, sizeof dir, "/tmp/nm-daemon-keys-%d", (int)getpid());
    mkdir(dir, 0700);
    nm_err err;
    ck_assert_int_eq(nm_curve_keygen(dir, "c", &err), 0);
    /* a client needs all three files */
    snprintf(text, sizeof text, "[bus]\ncurve_client_secret_file = %s/c.secret\n", dir);
    ck_assert_int_eq(load(text, &c, NULL), -1);
    nm_daemon_free_config(keys, 1, &c);
    /* a server needs the allowed folder */
    snprintf(text, sizeof text, "[bus]\ncurve_server_secret_file = %s/c.secret\n", dir);
    ck_assert_int_eq(load(text, &c, NULL), -1);
    nm_daemon_free_config(keys, 1, &c);
    /* a missing key file */
    snprintf(text, sizeof text, "[bus]\ncurve_server_secret_file = %s/none.secret\ncurve_allowed_clients = %s\n", dir, dir);
    ck_assert_int_eq(load(text, &c, NULL), -1);
    nm_daemon_free_config(keys, 1, &c);
    /* the server's public key alone (shared by every daemon of a host) is fine */
    snprintf(text, sizeof text, "[bus]\ncurve_server_public_file = %s/c.key\n", dir);
    ck_assert_int_eq(load(text, &c, NULL), 0);
    nm_daemon_free_config(keys, 1, &c);
    /* complete client settings */
    snprintf(text, sizeof text, "[bus]\ncurve_client_secret_file = %s/c.secret\ncurve_client_public_file = %s/c.key\n"
             "curve_server_public_file = %s/c.key\n", dir, dir, dir);
    ck_assert_int_eq(load(text, &c, NULL), 0);
    nm_daemon_free_config(keys, 1, &c);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    ck_assert_int_eq(system(cmd), 0);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("nm_daemon");
    TCase *t = tcase_create("core");
    tcase_add_test(t, common_and_own_keys);
    tcase_add_test(t, curve_settings_checked);
    suite_add_tcase(s, t);
    return s;
}

NM_CHECK_MAIN(suite)
