# -*- coding: utf-8 -*-
# Copyright: governed.change contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""An SSH command transport: one `ssh ... user@host CMD` per command, data on stdin, typed errors, bounded retry.

The device's host key is verified (StrictHostKeyChecking=yes against the known_hosts files the ssh arguments name)
unless host key checking is turned off on purpose; the inventory's ssh arguments (known_hosts file, ProxyJump or
ProxyCommand through a bastion, ...) are passed on as Ansible's own ssh connection passes them.
"""

from __future__ import annotations

import hashlib
import os
import queue
import re
import shlex
import subprocess
import threading
import time
import uuid

from ansible_collections.governed.change.plugins.module_utils.errors import DeviceError, ValidationError
from ansible_collections.governed.change.plugins.module_utils.platforms.base import CommandResult, Transport, redacted

SSH_UNREACHABLE_RC = 255
MAX_RETRIES = 10
MAX_RETRY_DELAY = 30.0
# ssh's own messages (rc 255, no output) that a retry cannot heal, or that mean the session broke after the
# command may have started: neither is retried (a half-run command must not run twice).
_PERMANENT = ("permission denied", "host key verification failed", "no such identity", "bad configuration option")
_MID_SESSION = ("closed by remote host", "not responding", "broken pipe", "packet_write_wait", "client_loop")
# ssh's words when the device's host key is unknown or not the one on record (the command never ran).
_HOST_KEY = ("host key verification failed", "remote host identification has changed")
# StrictHostKeyChecking values that accept a key nobody verified (accept-new trusts whatever answers first).
_UNVERIFIED = ("no", "off", "false", "accept-new")
_OPTION = re.compile(r"^\s*([A-Za-z0-9]+)\s*(?:=|\s)\s*(.*)$", re.S)
HOST_KEY_FIX = ("nothing was run on the device. If the device was rebuilt on purpose, check its new host key out of band "
                "and replace its entry in the known_hosts file the inventory names (ssh-keygen -R '[host]:port' -f FILE, "
                "then add the new key); otherwise treat the answer as an impostor. Turning checking off is an explicit "
                "opt-out: ansible_host_key_checking: false (recorded in the task result).")


def become_command(command, user):
    """``command`` run as ``user`` through sudo, non-interactively (-n: a password prompt fails instead of hanging).

    stdin still reaches the command (config text travels there), so sudo must not read a password from it.
    """
    return "sudo -n -H -u %s -- /bin/sh -c %s" % (shlex.quote(user), shlex.quote(command))


def is_host_key_failure(stderr):
    """True when ssh refused the device's host key (unknown, or changed since it was recorded)."""
    text = (stderr or "").lower()
    return any(marker in text for marker in _HOST_KEY)


def split_args(value):
    """ssh arguments as a list: a string is split as a shell would (as Ansible's ssh connection does)."""
    if value is None:
        return []
    if isinstance(value, (list, tuple)):
        return [str(item) for item in value]
    return shlex.split(str(value))


def ssh_option_values(tokens):
    """{lower-case option: value} of the ``-o`` options (and ``-J``) in ssh arguments; the first one wins, as in ssh."""
    values = {}
    index = 0
    while index < len(tokens):
        token = tokens[index]
        option = None
        if token in ("-o", "-J") and index + 1 < len(tokens):
            option = tokens[index + 1] if token == "-o" else "ProxyJump=" + tokens[index + 1]
            index += 2
        else:
            if token.startswith("-o") and len(token) > 2:
                option = token[2:]
            elif token.startswith("-J") and len(token) > 2:
                option = "ProxyJump=" + token[2:]
            index += 1
        match = _OPTION.match(option or "")
        if match:
            values.setdefault(match.group(1).lower(), match.group(2).strip())
    return values


def check_host_key_args(tokens, host_key_checking, where):
    """Refuse ssh arguments that would quietly undo host key checking while it is on."""
    if not host_key_checking:
        return
    values = ssh_option_values(tokens)
    strict = values.get("stricthostkeychecking", "").strip("\"'").lower()
    if strict in _UNVERIFIED:
        raise ValidationError("the ssh arguments turn host key checking off (StrictHostKeyChecking=%s) while it is on." % strict,
                              where="%s: ansible_ssh_common_args / ansible_ssh_extra_args" % where,
                              fix="remove StrictHostKeyChecking from the ssh arguments and name a known_hosts file that lists "
                                  "the device (-o UserKnownHostsFile=FILE); to opt out on purpose set "
                                  "ansible_host_key_checking: false (recorded in the task result).")
    known = values.get("userknownhostsfile")
    if known is not None and all(path.strip("\"'") == "/dev/null" for path in known.split()):
        raise ValidationError("the ssh arguments set UserKnownHostsFile=/dev/null: no host key to verify the device against.",
                              where="%s: ansible_ssh_common_args / ansible_ssh_extra_args" % where,
                              fix="point UserKnownHostsFile at a known_hosts file that lists the device (the lab writes "
                                  "lab/run/known_hosts), or opt out on purpose with ansible_host_key_checking: false.")


def is_connection_failure(rc, stdout, stderr):
    """True when an ssh run failed to connect (rc 255, no command output, not an auth/host-key refusal, not a broken
    session): the command did not run, so it is safe to run it again."""
    if rc != SSH_UNREACHABLE_RC or (stdout or "").strip():
        return False
    text = (stderr or "").lower()
    return not any(marker in text for marker in _PERMANENT + _MID_SESSION)


def backoff_delays(retries, delay, cap=MAX_RETRY_DELAY):
    """The waits before retries 1..retries: ``delay``, 2*``delay``, 4*``delay``... each at most ``cap`` seconds."""
    return [min(cap, delay * (2 ** index)) for index in range(retries)]


def control_settings(control, where):
    """Validated connection sharing settings ({dir, persist_s, scope}), None when off.

    With sharing on, the commands of one scope (an Ansible run) to one device ride on one SSH connection (ssh's
    ControlMaster/ControlPersist) that stays open ``persist_s`` seconds after its last command; the socket folder is
    created private to the user (0700). Inventory ssh arguments that set Control* options come first and win.
    """
    if not control:
        return None
    try:
        persist = int(control.get("persist_s") or 0)
    except (TypeError, ValueError):
        persist = -1
    if persist < 0 or persist > 3600:
        raise ValidationError("the SSH connection sharing time must be 0..3600 seconds, got %r." % (control.get("persist_s"),),
                              where="%s: governed_ssh_control_persist" % where, fix="set e.g. governed_ssh_control_persist: 30 (0 turns sharing off).")
    if persist == 0:
        return None
    folder = control.get("dir")
    if not folder:
        return None
    os.makedirs(folder, mode=0o700, exist_ok=True)
    if os.stat(folder).st_uid != os.getuid() or os.stat(folder).st_mode & 0o077:
        raise ValidationError("the SSH connection sharing folder %s is not private to this user (it must be 0700 and owned by it)." % folder,
                              where="%s: governed_ssh_control_persist" % where,
                              fix="chmod 700 the folder (or remove it: it is created again), or turn sharing off with governed_ssh_control_persist: 0.")
    return {"dir": folder, "persist_s": persist, "scope": str(control.get("scope") or "")}


class ShellSession:
    """One remote ``sh`` kept open over SSH; read-only commands are written to its stdin one at a time and their
    output read back up to an end marker carrying the exit code.

    A poll then costs the commands themselves, not a new session's login shell. Commands run with stdin from
    /dev/null (they cannot read the session's own stdin); their stderr is kept apart. Any trouble (the session
    ended, no answer in time) closes the session and raises SessionBroken: the caller runs the command the usual way.
    """

    def __init__(self, argv):
        self.proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,  # pylint: disable=consider-using-with
                                     text=True, bufsize=1)
        self.lines = queue.Queue()
        self.errors = []
        threading.Thread(target=self._pump, args=(self.proc.stdout, self.lines), daemon=True).start()
        threading.Thread(target=self._drain, daemon=True).start()

    @staticmethod
    def _pump(stream, sink):
        for line in stream:
            sink.put(line)
        sink.put(None)

    def _drain(self):
        for line in self.proc.stderr:
            self.errors = (self.errors + [line])[-20:]

    def run(self, command, timeout):
        marker = "@@GC-DONE-%s@@" % uuid.uuid4().hex
        start = time.time()
        try:
            self.proc.stdin.write("( %s ) </dev/null; echo \"%s $?\"\n" % (command, marker))
            self.proc.stdin.flush()
        except (OSError, ValueError) as exc:
            raise SessionBroken("cannot write to the session (%s)" % exc)
        out = []
        while True:
            left = timeout - (time.time() - start)
            try:
                line = self.lines.get(timeout=max(left, 0.001))
            except queue.Empty:
                raise SessionBroken("no answer within %s s" % timeout, timed_out=True)
            if line is None:
                raise SessionBroken("the session ended (%s)" % "".join(self.errors[-3:]).strip())
            if line.startswith(marker):
                return CommandResult(command, int(line.split()[-1]), "".join(out), "", time.time() - start)
            out.append(line)

    def close(self):
        try:
            self.proc.stdin.close()
        except (OSError, ValueError):
            pass
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=5)


class SessionBroken(Exception):
    """The kept-open shell session cannot run the command (it is closed; the command runs the usual way, unless it
    already had its time: ``timed_out``)."""

    def __init__(self, problem, timed_out=False):
        super().__init__(problem)
        self.timed_out = timed_out


class SSHTransport(Transport):
    """Runs shell commands on a device host with the system ``ssh`` client, key auth only (BatchMode).

    ``host_key_checking`` (default on) makes ssh refuse a device whose host key is unknown or changed;
    ``common_args``/``extra_args`` are the inventory's ``ansible_ssh_common_args``/``ansible_ssh_extra_args``
    (a string split as a shell would, or a list). ``become_user`` runs every command through ``sudo -n -u USER``.
    """

    def __init__(self, host, port=22, user="root", key_file=None, connect_timeout=5, command_timeout=60, device=None,
                 ssh_binary="ssh", extra_args=None, retries=0, retry_delay=1.0, sleep=time.sleep, host_key_checking=True,
                 common_args=None, become_user=None, control=None):
        if not host:
            raise ValidationError("the device has no address.", where="%s: ansible_host" % (device or "device"),
                                  fix="set ansible_host for the device in the inventory.")
        try:
            self.port = int(port)
        except (TypeError, ValueError):
            raise ValidationError("port %r is not a number." % (port,), where="%s: port" % (device or host),
                                  fix="set governed_host_port (or ansible_port) to the device host's SSH port.")
        if key_file and not os.path.isfile(key_file):
            raise ValidationError("the SSH private key file does not exist.", where="%s: ansible_ssh_private_key_file (%s)" % (device or host, key_file),
                                  fix="point ansible_ssh_private_key_file at the key (the lab writes it under its run folder).")
        self.host = host
        self.user = user or "root"
        self.key_file = key_file
        self.connect_timeout = int(connect_timeout)
        self.command_timeout = int(command_timeout)
        self.device = device or host
        self.ssh_binary = ssh_binary or "ssh"
        self.host_key_checking = bool(host_key_checking)
        try:
            self.common_args = split_args(common_args)
            self.extra_args = split_args(extra_args)
        except ValueError as exc:
            raise ValidationError("the ssh arguments cannot be split (%s)." % exc, where="%s: ansible_ssh_common_args / ansible_ssh_extra_args" % self.device,
                                  fix="balance the quotes in the ssh arguments (for example -o ProxyCommand=\"ssh -W %h:%p bastion\").")
        check_host_key_args(self.common_args + self.extra_args, self.host_key_checking, self.device)
        self.become_user = become_user if become_user and become_user != self.user else None  # sudo to oneself: a no-op
        try:
            self.retries = int(retries)
            self.retry_delay = float(retry_delay)
        except (TypeError, ValueError):
            raise ValidationError("retries %r / retry_delay %r are not numbers." % (retries, retry_delay), where="%s: retries" % self.device,
                                  fix="pass retries as a whole number and retry_delay in seconds.")
        if not 0 <= self.retries <= MAX_RETRIES or self.retry_delay < 0:
            raise ValidationError("retries must be 0..%d and retry_delay not negative (got %r, %r)." % (MAX_RETRIES, retries, retry_delay),
                                  where="%s: retries" % self.device, fix="retry a connection failure at most %d times." % MAX_RETRIES)
        self.control = control_settings(control, self.device)
        self.session_wanted, self.session = False, None  # a kept-open shell for reads (open_session)
        self._sleep = sleep
        self.max_attempts = 0  # the most attempts one command needed so far (1 = never retried)
        self.retried = []  # [{command, attempt, stderr, wait_s}] of each connection failure that was retried
        self.exhausted = False  # a command stayed unreachable after every retry

    def argv(self, command):
        """The ssh command line (no secrets: config text goes on stdin).

        ssh keeps the first value of an option: BatchMode and the host key policy come first so no argument can undo
        them; then the inventory's arguments; then defaults the inventory may have set already (timeouts, log level).
        """
        argv = [self.ssh_binary, "-p", str(self.port)]
        if self.key_file:
            argv += ["-i", self.key_file]
        argv += ["-o", "BatchMode=yes"]
        if self.host_key_checking:
            argv += ["-o", "StrictHostKeyChecking=yes"]
        else:  # the explicit, recorded opt-out: accept any key and remember none
            argv += ["-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null"]
        argv += self.common_args + self.extra_args
        argv += ["-o", "LogLevel=ERROR", "-o", "ConnectTimeout=%d" % self.connect_timeout,
                 "-o", "ServerAliveInterval=5", "-o", "ServerAliveCountMax=2"]
        if self.control:
            argv += ["-o", "ControlMaster=auto", "-o", "ControlPath=%s" % self.control_path(),
                     "-o", "ControlPersist=%ds" % self.control["persist_s"]]
        argv += ["%s@%s" % (self.user, self.host), become_command(command, self.become_user) if self.become_user else command]
        return argv

    def control_path(self):
        """The shared connection's socket: one per device, ssh settings and scope (an Ansible run), in a private folder.

        Everything that decides which server is reached and how it is verified is part of the name, so a command never
        rides on a connection made with other settings (another key, known_hosts file or jump host)."""
        parts = [self.control["scope"], self.user, self.host, str(self.port), self.key_file or "",
                 "\0".join(self.common_args + self.extra_args), str(self.host_key_checking), self.become_user or ""]
        identity = "\0".join(parts)
        return os.path.join(self.control["dir"], "gc-" + hashlib.sha256(identity.encode("utf-8")).hexdigest()[:24])

    def open_session(self):
        """Keep one remote shell open for the reads that follow (``run_read``), until ``close_session``."""
        self.session_wanted = True

    def close_session(self):
        self.session_wanted = False
        if self.session is not None:
            self.session.close()
            self.session = None

    def run_read(self, command, timeout=None, check=True):
        """A read-only command: in the kept-open shell while one is wanted, else (or when it breaks) as ``run``."""
        wait = self.command_timeout if timeout is None else timeout
        if self.session_wanted:
            try:
                if self.session is None:
                    self.session = ShellSession(self.argv("sh"))
                result = self.session.run(command, wait)
                self.max_attempts = max(self.max_attempts, 1)
                if not check or result.rc == 0:
                    return result
            except SessionBroken as exc:
                self.close_session()
                if exc.timed_out:  # the command had its time: not a second time the usual way
                    raise DeviceError("no answer within %s s (connection lost or device hung)." % wait,
                                      where="%s (ssh %s@%s:%d)" % (self.device, self.user, self.host, self.port), transient=True,
                                      fix="check that the device is reachable on its management port.")
            except OSError:
                pass
            self.close_session()  # anything unexpected: the usual way, with its retries and typed errors
        return self.run(command, timeout=timeout, check=check)

    def jump(self):
        """The bastion the ssh arguments go through (ProxyJump value, or "ProxyCommand"), else None."""
        values = ssh_option_values(self.common_args + self.extra_args)
        if values.get("proxyjump", "none").lower() != "none":
            return values["proxyjump"]
        if values.get("proxycommand", "none").lower() != "none":
            return "ProxyCommand"
        return None

    def run(self, command, stdin=None, timeout=None, check=True):
        delays = backoff_delays(self.retries, self.retry_delay)
        attempt = 0
        while True:
            attempt += 1
            self.max_attempts = max(self.max_attempts, attempt)
            proc, elapsed = self._once(command, stdin, timeout)
            if not is_connection_failure(proc.returncode, proc.stdout, proc.stderr) or attempt > len(delays):
                break
            wait = delays[attempt - 1]
            self.retried.append({"command": redacted(command, 120), "attempt": attempt, "stderr": redacted(proc.stderr, 200), "wait_s": wait})
            self._sleep(wait)
        result = CommandResult(command, proc.returncode, proc.stdout, proc.stderr, elapsed)
        if proc.returncode == SSH_UNREACHABLE_RC and is_host_key_failure(proc.stderr):
            raise DeviceError("host key verification failed: the SSH host key the device%s presented is not the one on record "
                              "(%s)." % (" (or its jump host %s)" % self.jump() if self.jump() else "", redacted(proc.stderr, 300)),
                              where="%s (ssh %s@%s:%d)" % (self.device, self.user, self.host, self.port), fix=HOST_KEY_FIX)
        if proc.returncode == SSH_UNREACHABLE_RC:
            connect_failed = is_connection_failure(proc.returncode, proc.stdout, proc.stderr)
            if connect_failed:
                self.exhausted = True
            raise DeviceError("unreachable over SSH%s: %s" % (" after %d attempt(s)" % attempt if connect_failed else "",
                                                              redacted(proc.stderr, 300) or "connection failed"),
                              where="%s (ssh %s@%s:%d)" % (self.device, self.user, self.host, self.port), transient=True,
                              fix="check that the device is up and its management SSH port is open and that the key is authorized; "
                                  "a deploy with an armed commit-confirmed timer reverts by itself.")
        if check and proc.returncode != 0 and self.become_user and "sudo:" in (proc.stderr or "") and "password" in proc.stderr.lower():
            raise DeviceError("become failed: sudo asks %s for a password (%s)." % (self.user, redacted(proc.stderr, 200)),
                              where="%s: ansible_become" % self.device,
                              fix="the device stages run non-interactively: allow %s to run commands as %s without a password "
                                  "(sudoers NOPASSWD), or log in as the user that runs the device's commands (ansible_user)."
                                  % (self.user, self.become_user))
        if check and proc.returncode != 0:
            raise DeviceError("a command failed (rc %d): %s" % (proc.returncode, redacted(proc.stderr or proc.stdout, 400)),
                              where="%s" % self.device,
                              fix="read the device's message above; check that the device host has the tools the platform uses.")
        return result

    def _once(self, command, stdin, timeout):
        """One ssh run: (CompletedProcess, seconds)."""
        timeout = self.command_timeout if timeout is None else timeout
        start = time.time()
        try:
            proc = subprocess.run(self.argv(command), input=stdin if stdin is not None else "", capture_output=True, text=True,
                                  timeout=timeout, check=False)
        except subprocess.TimeoutExpired:
            raise DeviceError("no answer within %d s (connection lost or device hung)." % timeout,
                              where="%s (ssh %s@%s:%d)" % (self.device, self.user, self.host, self.port), transient=True,
                              fix="check that the device is reachable on its management port; a deploy with an armed "
                                  "commit-confirmed timer reverts by itself.")
        except OSError as exc:
            raise DeviceError("cannot run the ssh client (%s)." % exc, where=self.device,
                              fix="install openssh-client on the controller.")
        return proc, time.time() - start
