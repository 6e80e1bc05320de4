/*
 * newsmonctl keygen: a CURVE key pair for a daemon that crosses hosts
 * (docs/deployment.md): NAME.key (public, to copy to the servers' allowed
 * folder or to the clients) and NAME.secret (kept on its host, mode 0600).
 */
#include "common/nm_curve.h"
#include "ctl/ctl.h"

#include <stdio.h>

static int cmd_keygen(int argc, char **argv)
{
    if (argc != 3) {
        ctl_error("usage: newsmonctl keygen DIR NAME");
        return 2;
    }
    nm_err err;
    if (nm_curve_keygen(argv[1], argv[2], &err) < 0) {
        ctl_error("%s", err.msg);
        return 1;
    }
    printf("wrote %s/%s.key (public) and %s/%s.secret (secret)\n", argv[1], argv[2], argv[1], argv[2]);
    return 0;
}

NM_CTL_COMMAND(NULL, "keygen", "DIR NAME", "write a CURVE key pair DIR/NAME.key and DIR/NAME.secret", cmd_keygen)
