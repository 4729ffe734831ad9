# -*- coding: utf-8 -*-
# Copyright: governed.change contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The device driver interface (backup, deploy, restore, snapshot, commit-confirmed) and the transport it drives.

A platform is one file: it turns each operation into shell commands run on the device host through a
``Transport`` (``run(command, stdin=None, timeout=None)``) and parses what comes back. Config text and
secrets travel on stdin, never on a command line, so they never show in process lists or error messages.

Commit-confirmed for devices that lack it: ``arm_confirm`` writes the backup onto the device and starts a
detached timer there (``setsid sh -c 'sleep N; <restore>'``); ``confirm`` claims the timer's marker with an
atomic rename and kills it. Whichever of the two renames first wins, so a confirm never interrupts a
restore that has started, and a device that loses contact with the controller reverts by itself.
"""

from __future__ import annotations

import re
import shlex
import time

from ansible_collections.governed.change.plugins.module_utils.docfile import sha256_of
from ansible_collections.governed.change.plugins.module_utils.errors import DeviceError, ValidationError
from ansible_collections.governed.change.plugins.module_utils.redact import placeholder, redact_text

# Markers framing each command's output when several commands run in one SSH round trip.
BEGIN = "@@GC-BEGIN@@"
END = "@@GC-END@@"
_END_RE = re.compile(r"^" + re.escape(END) + r" (\d+)$")

# Files the commit-confirmed machinery keeps in the device-side state folder.
BACKUP_FILE = "backup.cfg"
ARMED = "confirm.armed"          # exists while a timer is pending: "<pid> <deadline epoch>"
FIRING = "confirm.firing"        # the timer claimed the marker and is restoring
REVERTED = "confirm.reverted"    # the timer restored the backup: "<rc> <epoch>"
CONFIRMED = "confirm.confirmed"  # confirm() claimed the marker
CANCELLED = "confirm.cancelled"  # a controller-side restore claimed the marker
REVERT_LOG = "confirm.revert.log"
# Seconds a restore or deploy waits, on the device, for a revert timer that is already restoring to finish.
CLAIM_WAIT_S = 120


class CommandResult(object):
    """What one command returned."""

    def __init__(self, command, rc, stdout, stderr, elapsed):
        self.command = command
        self.rc = rc
        self.stdout = stdout
        self.stderr = stderr
        self.elapsed = elapsed

    def as_dict(self):
        return {"command": self.command, "rc": self.rc, "elapsed": round(self.elapsed, 3)}


class Transport(object):
    """Runs one shell command on a device host; subclasses: transport.SSHTransport, test fakes."""

    device = "device"

    def run(self, command, stdin=None, timeout=None, check=True):  # pragma: no cover - abstract
        """Run ``command`` (a shell string), feed ``stdin`` (str), return a CommandResult.

        Unreachable device / timeout -> DeviceError(transient=True); with ``check``, a non-zero exit -> DeviceError.
        """
        raise NotImplementedError


def q(value):
    """Shell-quote one word."""
    return shlex.quote(str(value))


# Device messages quote config lines after a prefix ("line 3: % Unknown command: neighbor X password Y"), which the
# line-anchored rules of redact.py do not see: any word after a secret keyword is redacted too in free text.
_FREE_SECRET_RE = re.compile(r"(?i)\b(password|secret|key|key-string|community|psk)(\s+(?:[0-9]\s+)?)(?!<redacted:)(\S+)")


def redacted(text, limit=600):
    """A device output fit for an error message or a result: secrets redacted, trimmed."""
    text = redact_text(str(text or ""))[0]
    text = _FREE_SECRET_RE.sub(lambda m: m.group(1) + m.group(2) + placeholder(m.group(3)), text)
    text = text.strip()
    return text if len(text) <= limit else text[:limit] + " ..."


def multi_command(commands):
    """One shell script running each command in turn, each output framed by BEGIN/END markers (with its rc)."""
    parts = []
    for command in commands:
        parts.append("echo %s; %s; echo \"%s $?\"" % (q("%s %s" % (BEGIN, command)), command, END))
    return "; ".join(parts)


def framed(label, command):
    """``command`` run in a subshell (an ``exit`` in it ends only it), its stdout and stderr framed as ``label``."""
    return "echo %s; ( %s ) 2>&1; echo \"%s $?\"" % (q("%s %s" % (BEGIN, label)), command, END)


def split_multi(stdout, device="device"):
    """Parse the output of ``multi_command`` into {command: (rc, output)}."""
    outputs = {}
    current, buf = None, []
    for line in stdout.splitlines(True):
        stripped = line.rstrip("\r\n")
        if current is None and stripped.startswith(BEGIN + " "):
            current, buf = stripped[len(BEGIN) + 1:], []
            continue
        if current is not None:
            match = _END_RE.match(stripped)
            if match:
                outputs[current] = (int(match.group(1)), "".join(buf))
                current = None
                continue
            buf.append(line)
    if current is not None:
        raise DeviceError("the output of %r was cut off (no end marker)." % current, where=device,
                          fix="check the device's connection and retry the snapshot.", transient=True)
    return outputs


def lines_text(lines):
    """Change lines (list or text) -> text with one line per line and a final newline."""
    if isinstance(lines, str):
        lines = lines.splitlines()
    if not isinstance(lines, (list, tuple)) or not all(isinstance(x, str) for x in lines):
        raise ValidationError("lines must be a list of strings (or one text).", where="deploy(lines)",
                              fix="pass the configuration lines to merge, one per item.")
    body = [x.rstrip("\r\n") for x in lines]
    if not any(x.strip() for x in body):
        raise ValidationError("there are no configuration lines to deploy.", where="deploy(lines)",
                              fix="pass at least one configuration line.")
    return "\n".join(body) + "\n"


class Platform(object):
    """Driver interface; a platform implements the command plans and the parsing."""

    name = None
    # the device's running config read (for backup) and the config format of a change
    restore_timeout = 120

    def __init__(self, transport, device, state_dir):
        if not state_dir or not str(state_dir).startswith(("/", "$")):
            raise ValidationError("state_dir must be an absolute folder on the device host.", where="%s: state_dir" % device,
                                  fix="set governed_state_dir (host var) or the action's state_dir option to an absolute path.")
        self.transport = transport
        self.device = device
        self.state_dir = str(state_dir).rstrip("/")

    # ------------------------------------------------------------------ paths and small helpers
    def path(self, name):
        return "%s/%s" % (self.state_dir, name)

    def qpath(self, name):
        # the folder may start with an environment variable ($FRR_VTY_DIR/...): quote only the file part
        return '"%s"' % self.path(name).replace('"', '\\"')

    def _run(self, command, stdin=None, timeout=None, check=True):
        return self.transport.run(command, stdin=stdin, timeout=timeout, check=check)

    def _read(self, command, timeout=None):
        """A read-only command (a snapshot): in the transport's kept-open shell when it has one (transport.ShellSession)."""
        runner = getattr(self.transport, "run_read", None)
        return runner(command, timeout=timeout) if runner else self._run(command, timeout=timeout)

    def upload(self, name, text, mode="600"):
        """Write ``text`` to a file in the state folder (atomically: temp file then rename)."""
        target = self.qpath(name)
        tmp = self.qpath(name + ".tmp")
        self._run("umask 077; mkdir -p %s && cat > %s && chmod %s %s && mv -f %s %s" % (
            '"%s"' % self.state_dir, tmp, mode, tmp, tmp, target), stdin=text)

    # ------------------------------------------------------------------ to implement per platform
    def read_config_command(self):  # pragma: no cover - abstract
        """The shell command printing the running config."""
        raise NotImplementedError

    def parse_config(self, stdout):
        """The running config from what ``read_config_command`` printed (header noise dropped)."""
        return stdout

    def read_config(self):
        """The running config as text, normalized (header noise dropped)."""
        return self.parse_config(self._run(self.read_config_command()).stdout)

    def normalize(self, text):  # pragma: no cover - abstract
        """The form two configs are compared in (byte for byte after this)."""
        raise NotImplementedError

    def deploy_command(self, change_path):  # pragma: no cover - abstract
        raise NotImplementedError

    def restore_command(self, backup_path):  # pragma: no cover - abstract
        """The shell command that makes the running config exactly the file's (used by the timer too)."""
        raise NotImplementedError

    def restore_file_text(self, backup_text):
        """What is written to the device for an exact restore (default: the backup itself)."""
        return backup_text

    def snapshot(self, probes=None, salt=None):  # pragma: no cover - abstract
        raise NotImplementedError

    def validate_change(self, text):
        """Read-only validation of a change (check mode); None when the platform cannot validate."""
        return None

    # ------------------------------------------------------------------ operations
    def backup(self):
        """{text, sha256, lines, redacted_sha256, redactions}: the real text stays here for the restore."""
        text = self.read_config()
        if not text.strip():
            raise DeviceError("the running config read back empty.", where="%s: backup" % self.device,
                              fix="check that the device's daemons are running before changing it.")
        red, findings = redact_text(text)
        return {"text": text, "sha256": sha256_of(text), "lines": text.count("\n"), "redacted_sha256": sha256_of(red),
                "redactions": len(findings)}

    def deploy(self, lines):
        """Merge the change lines into the running config; returns {applied, elapsed}."""
        text = lines_text(lines)
        start = time.time()
        name = "change-%d.cfg" % int(start * 1000)
        self.upload(name, text)
        res = self._run(self.deploy_command(self.path(name)), check=False, timeout=60)
        self._run("rm -f %s" % self.qpath(name), check=False)
        if res.rc != 0:
            raise DeviceError("the change was refused or only partly applied (rc %d): %s" % (res.rc, redacted(res.stdout + res.stderr)),
                              where="%s: deploy" % self.device,
                              fix="fix the change lines; the device may hold part of them: restore the backup (or let the armed timer revert it).")
        return {"applied": text.count("\n"), "elapsed": round(time.time() - start, 3)}

    def restore(self, backup_text, attempts=2):
        """Exact restore: the running config ends equal to ``backup_text`` (normalized), verified by reading it back.

        One round trip per attempt (``restore_script``): disarm a pending timer (waiting for one already restoring),
        read the running config as it was, write the backup, restore it, read the running config back. Returns
        {verified, attempts, elapsed, sha256, before} (``before``: the running config before the first attempt).
        """
        start = time.time()
        want = self.normalize(backup_text)
        body = self.restore_file_text(backup_text)
        before, last = None, None
        for attempt in range(1, attempts + 1):
            res = self._run(self.restore_script(len(body.encode("utf-8"))), stdin=body,
                            timeout=self.restore_timeout + CLAIM_WAIT_S + 60)
            parts = split_multi(res.stdout, self.device)
            if before is None and parts.get("before", (1, None))[0] == 0:
                try:
                    before = self.parse_config(parts["before"][1])
                except DeviceError:
                    before = None  # shown only (the diff of the restore); the verdict is the read-back below
            last = parts.get("restore", (None, res.stdout + res.stderr))
            rc, text = parts.get("after", (None, None))
            running = self.normalize(self.parse_config(text)) if rc == 0 else None
            if running == want:
                return {"verified": True, "attempts": attempt, "elapsed": round(time.time() - start, 3),
                        "sha256": sha256_of(running), "before": before}
        raise DeviceError("the restore did not give back the backup: the running config still differs after %d attempt(s) (rc %s: %s)." % (
            attempts, last[0] if last[0] is not None else "?", redacted(last[1] or "")),
            where="%s: restore" % self.device, fix="inspect the device (show running-config) and restore by hand; escalate.")

    def restore_script(self, size):
        """The shell of one restore attempt; the backup (``size`` bytes) comes on stdin (never on a command line)."""
        return "; ".join([
            self._prepare_dir(),
            "head -c %d > %s" % (int(size), self.qpath(BACKUP_FILE + ".next")),
            self._cancel_inline(),
            framed("before", self.read_config_command()),
            "mv -f %s %s" % (self.qpath(BACKUP_FILE + ".next"), self.qpath(BACKUP_FILE)),
            framed("restore", "%s </dev/null" % self.restore_command(self.path(BACKUP_FILE))),
            framed("after", self.read_config_command()),
        ])

    def _prepare_dir(self):
        return "umask 077; mkdir -p %s && cd %s || exit 1" % ('"%s"' % self.state_dir, '"%s"' % self.state_dir)

    def _cancel_inline(self):
        """``cancel_timer`` inside a larger script: claim the armed marker (kill the timer) or wait, bounded, for a timer
        already restoring to finish."""
        return ("if mv %s %s 2>/dev/null; then kill -TERM -$(cut -d' ' -f1 %s) 2>/dev/null; "
                "else n=0; while [ -e %s ] && [ $n -lt %d ]; do sleep 0.2; n=$((n+1)); done; fi" % (
                    self.qpath(ARMED), self.qpath(CANCELLED), self.qpath(CANCELLED), self.qpath(FIRING), CLAIM_WAIT_S * 5))

    def deploy_confirmed(self, lines, confirm_seconds, backup_text):
        """Arm the revert timer (``confirm_seconds``; None: no timer) and merge ``lines``, reading the running config
        back - in one round trip to the device (``deploy_script``). Returns {confirm, applied, elapsed, after}
        (``after`` None when the read-back failed: read it again). A DeviceError carries ``confirm`` (the timer's state
        when it was raised: armed or not)."""
        if confirm_seconds is not None and (isinstance(confirm_seconds, bool) or not isinstance(confirm_seconds, int) or confirm_seconds < 5):
            raise ValidationError("confirm_timeout must be an integer of at least 5 seconds.", where="%s: confirm_timeout" % self.device,
                                  fix="pass e.g. confirm_timeout: 120 (long enough for the post checks).")
        text = lines_text(lines)
        start = time.time()
        backup = self.restore_file_text(backup_text) if confirm_seconds else ""
        name = "change-%d.cfg" % int(start * 1000)
        res = self._run(self.deploy_script(len(backup.encode("utf-8")), len(text.encode("utf-8")), name, confirm_seconds),
                        stdin=backup + text, timeout=self.restore_timeout + CLAIM_WAIT_S + 60)
        parts = split_multi(res.stdout, self.device)
        confirm = {"armed": False}
        if confirm_seconds:
            rc, out = parts.get("arm", (None, res.stdout + res.stderr))
            if rc != 0 or "armed" not in (out or ""):
                exc = DeviceError("the revert timer did not start: %s" % redacted(out), where="%s: arm_confirm" % self.device,
                                  fix="check that setsid and sleep exist on the device host; do not deploy without the timer.")
                exc.confirm = confirm
                raise exc
            confirm = {"armed": True, "seconds": confirm_seconds, "deadline": int(start) + confirm_seconds}
        rc, out = parts.get("apply", (None, res.stdout + res.stderr))
        if rc != 0:
            exc = DeviceError("the change was refused or only partly applied (rc %s): %s" % (rc if rc is not None else "?", redacted(out)),
                              where="%s: deploy" % self.device,
                              fix="fix the change lines; the device may hold part of them: restore the backup (or let the armed timer revert it).")
            exc.confirm = confirm
            raise exc
        rc, out = parts.get("read", (None, None))
        after = None
        if rc == 0:
            try:
                after = self.parse_config(out)
            except DeviceError:
                after = None
        return {"confirm": confirm, "applied": text.count("\n"), "elapsed": round(time.time() - start, 3), "after": after}

    def deploy_script(self, backup_size, change_size, name, confirm_seconds):
        """The shell of ``deploy_confirmed``: stdin holds the backup (``backup_size`` bytes, written only with a timer)
        then the change (``change_size`` bytes); the change is applied only once the timer is armed."""
        steps = [self._prepare_dir()]
        if confirm_seconds:
            steps += ["head -c %d > %s" % (int(backup_size), self.qpath(BACKUP_FILE + ".next"))]
        steps += ["head -c %d > %s" % (int(change_size), self.qpath(name))]
        if confirm_seconds:
            steps += [self._cancel_inline(), "mv -f %s %s" % (self.qpath(BACKUP_FILE + ".next"), self.qpath(BACKUP_FILE)),
                      framed("arm", self.arm_command(confirm_seconds))]
            apply = "[ -e %s ] && { %s; }" % (self.qpath(ARMED), framed("apply", "%s </dev/null" % self.deploy_command(self.path(name))))
        else:
            apply = framed("apply", "%s </dev/null" % self.deploy_command(self.path(name)))
        steps += [apply, "rm -f %s" % self.qpath(name), framed("read", self.read_config_command())]
        return "; ".join(steps)

    # ------------------------------------------------------------------ commit-confirmed
    def arm_command(self, seconds):
        """The shell command that arms the revert timer (the backup must already be on the device)."""
        restore = self.restore_command(self.path(BACKUP_FILE))
        # The timer fires only on its own marker: after the claim, a marker armed later (another change) names
        # another pid, and this timer puts it back untouched and exits.
        body = ("sleep %d; mv %s %s 2>/dev/null || exit 0; read owner rest < %s; "
                "if [ \"$owner\" != \"$$\" ]; then mv %s %s; exit 0; fi; "
                "%s > %s 2>&1; echo \"$? $(date +%%s)\" > %s; mv %s %s" % (
                    int(seconds), self.qpath(ARMED), self.qpath(FIRING), self.qpath(FIRING),
                    self.qpath(FIRING), self.qpath(ARMED),
                    restore, self.qpath(REVERT_LOG), self.qpath(FIRING), self.qpath(FIRING), self.qpath(REVERTED)))
        return ("cd %s || exit 1; rm -f %s %s %s %s %s; setsid sh -c %s </dev/null >/dev/null 2>&1 & pid=$!; "
                "echo \"$pid $(( $(date +%%s) + %d ))\" > %s.tmp && mv %s.tmp %s && echo \"armed $pid\"" % (
                    '"%s"' % self.state_dir, self.qpath(FIRING), self.qpath(REVERTED), self.qpath(CONFIRMED),
                    self.qpath(CANCELLED), self.qpath(REVERT_LOG), q(body), int(seconds),
                    self.qpath(ARMED), self.qpath(ARMED), self.qpath(ARMED)))

    def arm_confirm(self, seconds, backup_text):
        """Write the backup onto the device and arm the revert timer; {armed, seconds, deadline}."""
        if isinstance(seconds, bool) or not isinstance(seconds, int) or seconds < 5:
            raise ValidationError("confirm_timeout must be an integer of at least 5 seconds.", where="%s: confirm_timeout" % self.device,
                                  fix="pass e.g. confirm_timeout: 120 (long enough for the post checks).")
        self.cancel_timer()
        self.upload(BACKUP_FILE, self.restore_file_text(backup_text))
        res = self._run(self.arm_command(seconds))
        if "armed" not in res.stdout:
            raise DeviceError("the revert timer did not start: %s" % redacted(res.stdout + res.stderr), where="%s: arm_confirm" % self.device,
                              fix="check that setsid and sleep exist on the device host; do not deploy without the timer.")
        return {"armed": True, "seconds": seconds, "deadline": int(time.time()) + seconds}

    def _claim(self, target):
        """Atomically claim the armed marker (rename to ``target``) and kill the timer's process group; the confirm
        state afterwards. (``kill -TERM -PGID``: dash's kill refuses ``--``.)"""
        script = ("cd %s 2>/dev/null || { echo none; exit 0; }; "
                  "if mv %s %s 2>/dev/null; then kill -TERM -$(cut -d' ' -f1 %s) 2>/dev/null; echo claimed; "
                  "elif [ -e %s ]; then echo firing; elif [ -e %s ]; then echo \"reverted $(cat %s)\"; "
                  "elif [ -e %s ]; then echo confirmed; else echo none; fi" % (
                      '"%s"' % self.state_dir, self.qpath(ARMED), self.qpath(target), self.qpath(target),
                      self.qpath(FIRING), self.qpath(REVERTED), self.qpath(REVERTED), self.qpath(CONFIRMED)))
        return self._run(script).stdout.strip()

    def cancel_timer(self):
        """Disarm a pending timer before a controller-side restore; wait for a restore the timer already started."""
        state = self._claim(CANCELLED)
        if state == "firing":
            self.wait_timer_done(self.restore_timeout)
        return state

    def wait_timer_done(self, timeout):
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.confirm_status()["state"] != "firing":
                return
            time.sleep(0.5)

    def confirm(self):
        """Confirm the commit: the timer is disarmed. Fails when there was nothing to confirm or it already reverted."""
        state = self._claim(CONFIRMED)
        if state == "claimed":
            return {"confirmed": True, "state": "confirmed"}
        if state.startswith("reverted"):
            raise DeviceError("too late: the revert timer fired and restored the backup before the confirm.", where="%s: confirm" % self.device,
                              fix="the change is not on the device any more; re-run the change with a longer confirm_timeout.")
        if state == "firing":
            raise DeviceError("too late: the revert timer is restoring the backup right now.", where="%s: confirm" % self.device,
                              fix="wait for the revert to finish; re-run the change with a longer confirm_timeout.")
        if state == "confirmed":
            return {"confirmed": True, "state": "confirmed", "already": True}
        raise DeviceError("no commit-confirmed timer is armed on this device.", where="%s: confirm" % self.device,
                          fix="deploy with confirm_timeout > 0 first; nothing was confirmed.")

    def confirm_status_command(self):
        return ("cd %s 2>/dev/null || { echo none; exit 0; }; now=$(date +%%s); "
                "if [ -e %s ]; then echo \"armed $(cat %s) $now\"; elif [ -e %s ]; then echo firing; "
                "elif [ -e %s ]; then echo \"reverted $(cat %s)\"; elif [ -e %s ]; then echo confirmed; "
                "elif [ -e %s ]; then echo cancelled; else echo none; fi" % (
                    '"%s"' % self.state_dir, self.qpath(ARMED), self.qpath(ARMED), self.qpath(FIRING), self.qpath(REVERTED),
                    self.qpath(REVERTED), self.qpath(CONFIRMED), self.qpath(CANCELLED)))

    def confirm_status(self):
        """{state: none|armed|firing|reverted|confirmed|cancelled, remaining?, revert_rc?, reverted_at?}."""
        return parse_confirm_status(self._run(self.confirm_status_command()).stdout)


def parse_confirm_status(text):
    words = text.strip().split()
    if not words:
        return {"state": "none"}
    state = words[0]
    out = {"state": state}
    try:
        if state == "armed" and len(words) >= 4:
            out.update(pid=int(words[1]), deadline=int(words[2]), remaining=max(0, int(words[2]) - int(words[3])))
        elif state == "reverted" and len(words) >= 3:
            out.update(revert_rc=int(words[1]), reverted_at=int(words[2]))
    except ValueError:
        pass
    return out


# ---------------------------------------------------------------------------------------------- probes
PROBE_MARK = "@@GC-PROBE@@"
_HOST_RE = re.compile(r"^[A-Za-z0-9_.:-]+$")


def probe_key(probe):
    """The identity of a probe in a snapshot: its name, or "tcp HOST:PORT" / "ping HOST" (+ " from X")."""
    if probe.get("name"):
        return str(probe["name"])
    kind = probe.get("type", "tcp")
    key = "%s %s:%s" % (kind, probe.get("host"), probe.get("port")) if kind == "tcp" else "%s %s" % (kind, probe.get("host"))
    return key + (" from %s" % probe["from"] if probe.get("from") else "")


def probe_command(probes):
    """One shell script running every probe in parallel, one "@@GC-PROBE@@ <index> ok|fail" line each."""
    parts = []
    for index, probe in enumerate(probes):
        if not isinstance(probe, dict):
            raise ValidationError("probe %d must be a dict {type, host, port}." % index, where="probes[%d]" % index,
                                  fix="e.g. {type: tcp, host: 10.0.45.10, port: 8080} or {type: ping, host: 10.255.0.1}.")
        kind, host = probe.get("type", "tcp"), str(probe.get("host", ""))
        wait = int(probe.get("timeout", 2))
        if not _HOST_RE.match(host):
            raise ValidationError("probe host %r is not an address or name." % host, where="probes[%d].host" % index,
                                  fix="give an IP address or a host name.")
        if kind == "tcp":
            port = probe.get("port")
            if isinstance(port, bool) or not isinstance(port, int) or not 0 < port < 65536:
                raise ValidationError("a tcp probe needs a port (1-65535).", where="probes[%d].port" % index, fix="add port: 8080.")
            test = "timeout %d bash -c 'exec 3<>/dev/tcp/%s/%d' 2>/dev/null" % (wait, host, port)
        elif kind == "ping":
            test = "ping -c 1 -W %d %s >/dev/null 2>&1" % (wait, host)
        else:
            raise ValidationError("unknown probe type %r." % kind, where="probes[%d].type" % index, fix="use tcp or ping.")
        parts.append("( if %s; then echo '%s %d ok'; else echo '%s %d fail'; fi ) &" % (test, PROBE_MARK, index, PROBE_MARK, index))
    return " ".join(parts) + " wait"


def parse_probe_output(probes, stdout):
    """{probe key: ok|fail}; a probe with no answer line is a fail (fail closed)."""
    seen = {}
    for line in stdout.splitlines():
        words = line.split()
        if len(words) == 3 and words[0] == PROBE_MARK and words[1].isdigit():
            seen[int(words[1])] = words[2]
    return dict((probe_key(p), "ok" if seen.get(i) == "ok" else "fail") for i, p in enumerate(probes))


def run_probes(transport, probes):
    """Run probes on one host (its namespaces are the vantage point)."""
    if not probes:
        return {}
    return parse_probe_output(probes, transport.run(probe_command(probes), timeout=30).stdout)
