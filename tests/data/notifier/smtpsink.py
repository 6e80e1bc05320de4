"""An SMTP server for the notifier's tests: aiosmtpd (Debian's
python3-aiosmtpd) on a free loopback port, with STARTTLS required (a
self-signed certificate made with openssl), AUTH PLAIN/LOGIN checked
against one user, and every accepted message kept for the test to parse."""
import os
import socket
import subprocess
import sys

try:
    from aiosmtpd.controller import Controller
    from aiosmtpd.smtp import AuthResult, LoginPassword
except ImportError:
    print("skipped: python3-aiosmtpd is not installed")
    sys.exit(77)
import ssl


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


class Handler:
    def __init__(self):
        self.messages = []   # (mail_from, rcpt_tos, bytes)
        self.fail_next = 0

    async def handle_DATA(self, server, session, envelope):
        if self.fail_next > 0:
            self.fail_next -= 1
            return "451 Try again later"
        self.messages.append((envelope.mail_from, list(envelope.rcpt_tos), envelope.content))
        return "250 OK"


class SmtpSink:
    def __init__(self, tmp, user="desk", password="s3cret"):
        self.cert = os.path.join(tmp, "cert.pem")
        key = os.path.join(tmp, "key.pem")
        r = subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key,
                            "-out", self.cert, "-days", "1", "-subj", "/CN=localhost",
                            "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"],
                           capture_output=True)
        if r.returncode != 0:
            print("skipped: openssl cannot make a test certificate: %s" % r.stderr.decode())
            sys.exit(77)
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ctx.load_cert_chain(self.cert, key)
        self.user, self.password = user, password
        self.auth_attempts = []

        def authenticator(server, session, envelope, mechanism, auth_data):
            ok = (isinstance(auth_data, LoginPassword) and auth_data.login.decode() == self.user
                  and auth_data.password.decode() == self.password)
            self.auth_attempts.append((mechanism, ok))
            return AuthResult(success=ok, handled=False)

        self.handler = Handler()
        self.port = free_port()
        self.controller = Controller(self.handler, hostname="127.0.0.1", port=self.port, tls_context=ctx,
                                     require_starttls=True, authenticator=authenticator, auth_required=True)
        self.controller.start()
        self.url = "smtp://127.0.0.1:%d" % self.port

    def stop(self):
        self.controller.stop()
