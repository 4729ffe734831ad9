# -*- coding: utf-8 -*-
# Copyright: governed.change contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A real local SMTP server for the notification tests: aiosmtpd (pinned in requirements-test.txt; Python's smtpd is
deprecated and gone in 3.12) on 127.0.0.1, recording every message, with optional AUTH LOGIN/PLAIN and STARTTLS
(no tests here)."""

from __future__ import annotations

import email
import email.policy
import ipaddress
import os
import socket
import ssl

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from ansible_collections.governed.change.plugins.module_utils.clock import relative


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class SmtpReceiver:
    """``with SmtpReceiver(user=..., password=...) as smtp:`` - smtp.messages holds {envelope_from, rcpt, message, raw};
    smtp.logins the user names that logged in; ``tls_context`` turns on STARTTLS (required then)."""

    def __init__(self, user=None, password=None, tls_context=None):
        self.messages, self.logins = [], []
        self.user, self.password = user, password
        outer = self

        class Handler:  # pylint: disable=too-few-public-methods
            async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's name
                raw = envelope.content if isinstance(envelope.content, bytes) else envelope.content.encode()
                outer.messages.append({"envelope_from": envelope.mail_from, "rcpt": list(envelope.rcpt_tos), "raw": raw,
                                       "message": email.message_from_bytes(raw, policy=email.policy.default)})
                return "250 OK"

        kwargs = {"auth_require_tls": tls_context is not None}
        if user is not None:
            kwargs.update(authenticator=self._authenticate, auth_required=True)
        if tls_context is not None:
            kwargs.update(tls_context=tls_context, require_starttls=True)
        self.port = free_port()
        self.controller = Controller(Handler(), hostname="127.0.0.1", port=self.port, **kwargs)

    def _authenticate(self, server, session, envelope, mechanism, auth_data):  # pylint: disable=unused-argument,too-many-arguments
        login = auth_data.login.decode() if isinstance(auth_data.login, bytes) else auth_data.login
        password = auth_data.password.decode() if isinstance(auth_data.password, bytes) else auth_data.password
        if (login, password) == (self.user, self.password):
            self.logins.append(login)
            return AuthResult(success=True)
        return AuthResult(success=False, handled=False)

    def __enter__(self):
        self.controller.start()
        return self

    def __exit__(self, *exc):
        self.controller.stop()


def self_signed_context(directory):
    """A server-side SSLContext with a fresh self-signed certificate for 127.0.0.1 (cryptography comes with ansible-core)."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(relative(minutes=-5))
            .not_valid_after(relative(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
            .sign(key, hashes.SHA256()))
    cert_path, key_path = os.path.join(str(directory), "smtp.crt"), os.path.join(str(directory), "smtp.key")
    with open(cert_path, "wb") as handle:
        handle.write(cert.public_bytes(serialization.Encoding.PEM))
    with open(key_path, "wb") as handle:
        handle.write(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert_path, key_path)
    return context
