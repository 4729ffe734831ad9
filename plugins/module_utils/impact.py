# -*- coding: utf-8 -*-
# Copyright: governed.change contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Impact-aware verification: which devices a change is verified on, what must hold there, when a wait may end.

* ``verification_plan``: at assess time, the mode (policy ``snapshot_scope``), the hosts always verified (targets and
  every host an expected check names), where each expected check runs and the network-wide invariants.
* ``impact_scope``: at precheck, from the pre-change snapshots: the targets, every BGP neighbor of a target and every
  device holding a route through a target (next hop on a target, or the target's AS in the AS path).
* The network-wide invariant "no prefix lost, no session down" is the no-regression checks (checks.py) run on every
  device of the scope, except what the change declares intended (``normalize_intended``: ``intended.prefixes_lost`` /
  ``intended.sessions_down``).
* ``SettleTracker``: fail fast - a failure that stays the same once the network has converged ends the wait; a pass
  after a failure must hold for as many polls before it counts (a flapping state never passes early).
"""

from __future__ import annotations

from ansible_collections.governed.change.plugins.module_utils import statestore
from ansible_collections.governed.change.plugins.module_utils.errors import ValidationError
from ansible_collections.governed.change.plugins.module_utils.snapshot import parse_frr_bgp_config
from ansible_collections.governed.change.plugins.module_utils.state_diff import canonical_address, canonical_prefix

SCOPE_MODES = ("impact", "network", "targets_only")
# Written by policies before the impact scope existed: "targets" never meant "not the devices the change breaks".
SCOPE_ALIASES = {"targets": "impact"}
DEFAULT_MODE = "impact"
INVARIANTS = ("no_route_lost", "no_bgp_session_lost")
# FRR's defaults when the running config does not set them (traditional profile).
FRR_DEFAULT_HOLD_S = 180
FRR_DEFAULT_CONNECT_S = 120
FAIL_FAST_POLLS = 3
KNOWN_BOUND_POLLS = 2
# Without BGP timers, a failure stable over ``polls`` polls must also span this long (what 3 polls 0.5 s apart gave), so
# that a shorter poll interval does not judge a moment's failure final.
STABLE_MIN_S = 1.0
# A decisive failure (the device itself says the session cannot come back without a configuration change) ends the
# wait once seen on this many consecutive polls (the same fact, the routing state unchanged) at least DECISIVE_HOLD_S apart
# (a little under the deploy's 0.25 s poll interval, so that the next poll counts despite jitter: two reads, never one).
DECISIVE_POLLS = 2
DECISIVE_HOLD_S = 0.2
# BGP NOTIFICATIONs of a configuration mismatch between the two ends (RFC 4271 6.2 OPEN Message Error; RFC 9234 role):
# a retry meets the same configuration and is refused again, however long one waits.
DECISIVE_NOTIFICATIONS = ("open message error",)


def _fail(where, problem, fix):
    raise ValidationError(problem, where=where, fix=fix)


# ------------------------------------------------------------------------------------------------ plan (assess)


def scope_mode(requirements=None, override=None):
    """The verification scope mode: an explicit override, else the tier's snapshot_scope, else ``impact``."""
    value = override if override else (requirements or {}).get("snapshot_scope") or DEFAULT_MODE
    value = SCOPE_ALIASES.get(value, value)
    if value not in SCOPE_MODES:
        _fail("snapshot_scope", "%r is not a verification scope." % (value,),
              "use one of: %s (targets_only narrows the scope to the targets and the hosts checks name)." % ", ".join(SCOPE_MODES))
    return value


def check_hosts(expected):
    """Hosts named by expected checks (``hosts: [...]``), sorted."""
    return sorted({host for check in expected or [] for host in (check.get("hosts") or [])})


def expected_for(expected, device, targets):
    """The expected checks to run on ``device``: a check naming hosts runs on them; one without hosts on every target."""
    out = []
    for check in expected or []:
        hosts = check.get("hosts") or []
        if (hosts and device in hosts) or (not hosts and device in (targets or [])):
            out.append({key: value for key, value in check.items() if key != "hosts"})
    return out


def verification_plan(targets, expected, requirements, inventory_hosts, intended=None, source="change request"):
    """What will be verified where (the assessment's ``verification``); refuses a check naming a host not in the inventory."""
    mode = scope_mode(requirements)
    named = check_hosts(expected)
    for index, check in enumerate(expected or []):
        missing = [host for host in check.get("hosts") or [] if host not in inventory_hosts]
        if missing:
            _fail("%s: expected[%d].hosts" % (source, index),
                  "check '%s' names %s, not in the inventory: it could never be evaluated." % (check.get("name"), ", ".join(missing)),
                  "name inventory hosts (the check then runs on them, added to the verification scope), or remove the check.")
    always = sorted(set(targets) | set(named))
    where = {check["name"]: (list(check.get("hosts")) if check.get("hosts") else list(targets)) for check in expected or []}
    if mode == "impact":
        rule = ("the targets, the hosts the expected checks name, every BGP neighbor of a target and every device holding a "
                "route through a target (next hop on a target or its AS in the AS path), found in the pre-change snapshots "
                "of the play's devices")
    elif mode == "network":
        rule = "every device of the play"
    else:
        rule = "only the targets and the hosts the expected checks name (narrowed by the policy: snapshot_scope targets_only)"
    return {"mode": mode, "targets": list(targets), "check_hosts": named, "always": always, "rule": rule,
            "snapshot_play": mode != "targets_only", "checks_where": where,
            "invariants": ["%s on every device of the scope" % name for name in INVARIANTS],
            "intended": normalize_intended(intended)}


def normalize_intended(intended):
    """``{prefixes_lost: [...], sessions_down: [...], services_blocked: [...]}`` with canonical prefixes and addresses and
    the catalogue's service names (traffic.py) a firewall change means to block (empty lists by default)."""
    intended = intended or {}
    return {"prefixes_lost": sorted({canonical_prefix(p) for p in intended.get("prefixes_lost") or []}),
            "sessions_down": sorted({canonical_address(a) for a in intended.get("sessions_down") or []}),
            "services_blocked": sorted({str(name) for name in intended.get("services_blocked") or []})}


# ------------------------------------------------------------------------------------------------ topology (precheck)

ROUTING_PLATFORMS = ("frr",)


def snapshot_candidates(plan, platforms, override=None):
    """The devices to snapshot before the change, from which the scope is learned (sorted).

    ``plan``: the assessment's ``verification``; ``platforms``: {host: governed_platform} of the play's devices.
    impact: the hosts always verified and every routing device of the play; network: every device of the play;
    targets_only: the hosts always verified.
    """
    plan = plan or {}
    mode = scope_mode({"snapshot_scope": plan.get("mode")}, override)
    always = set(plan.get("always") or plan.get("targets") or [])
    known = {host for host, platform in (platforms or {}).items() if platform}
    if mode == "network":
        return sorted(known | always)
    if mode == "impact":
        return sorted(always | {host for host in known if platforms[host] in ROUTING_PLATFORMS})
    return sorted(always)


def _load(doc):
    return statestore.load(doc) if statestore.is_ref(doc) else doc


def _host_address(prefix):
    return str(prefix).split("/", 1)[0]


def _as_tokens(as_path):
    return set(str(as_path or "").replace("{", " ").replace("}", " ").replace(",", " ").split())


def device_topology(snapshot):
    """{addresses, peers: {address: remote AS}, asn, routes: {prefix: (nexthop, as_path)}, routing} of one snapshot."""
    doc = _load(snapshot) or {}
    sections = doc.get("sections") or {}
    addresses = set()
    for interface in (sections.get("interfaces") or {}).values():
        for prefix in (interface or {}).get("addresses") or []:
            addresses.add(_host_address(prefix))
    peers = {address: (peer or {}).get("remoteAs") for address, peer in (sections.get("peers") or {}).items()}
    routes = {prefix: ((route or {}).get("nexthop"), (route or {}).get("as_path") or "")
              for prefix, route in (sections.get("routes") or {}).items()}
    bgp = sections.get("bgp") or {}
    return {"addresses": addresses, "peers": peers, "asn": bgp.get("asn"), "routes": routes,
            "routing": "peers" in sections or "routes" in sections}


def _asn_of(device, topo):
    """A device's AS: its own BGP config, else the remote AS its neighbors have for one of its addresses."""
    if topo[device]["asn"] is not None:
        return str(topo[device]["asn"])
    for host, item in topo.items():
        for address, remote_as in item["peers"].items():
            if host != device and address in topo[device]["addresses"] and remote_as not in (None, ""):
                return str(remote_as)
    return None


def impact_scope(targets, pre_snapshots, mode=DEFAULT_MODE, named_hosts=(), held=None):
    """The devices to verify, with the reasons: ``{mode, hosts, reasons: {host: [..]}, candidates, excluded, elsewhere}``.

    ``pre_snapshots``: {device: snapshot or statestore ref} of the candidates (the play's devices for impact/network).
    ``held``: the devices a limited play holds (an AWX branch with a limit), None for all: a target or named host
    outside it is verified by the branch that holds it (listed in ``elsewhere``), not by this one.
    """
    targets, named_hosts = _held_hosts(held, targets, named_hosts)
    mode = scope_mode(override=mode)
    candidates = sorted(pre_snapshots)
    reasons = {}
    for host in targets:
        _add_reason(reasons, host, "target")
    for host in named_hosts:
        _add_reason(reasons, host, "named by an expected check")
    if mode == "network":
        for host in candidates:
            _add_reason(reasons, host, "network scope")
    elif mode == "impact":
        _impact_reasons(reasons, targets, candidates, pre_snapshots)
    hosts = sorted(reasons)
    return {"mode": mode, "hosts": hosts, "reasons": reasons, "candidates": candidates,
            "excluded": [host for host in candidates if host not in reasons],
            "unsnapshotted": [host for host in hosts if host not in pre_snapshots]}


def _held_hosts(held, targets, named_hosts):
    """Rule: a limited play (``held``: the devices it holds; None for all) verifies only the targets and named hosts it holds."""
    if held is None:
        return targets, named_hosts
    held = set(held)
    return [host for host in targets if host in held], [host for host in named_hosts if host in held]


def _add_reason(reasons, host, why):
    """Record why a host is verified (each reason once, in the order found)."""
    reasons.setdefault(host, [])
    if why not in reasons[host]:
        reasons[host].append(why)


def _impact_reasons(reasons, targets, candidates, pre_snapshots):
    """Rule of the impact scope: every BGP neighbor of a routing target and every device holding a route through it."""
    topo = {host: device_topology(pre_snapshots[host]) for host in candidates}
    owners = {}
    for host, item in topo.items():
        for address in item["addresses"]:
            owners.setdefault(address, host)
    for target in [t for t in targets if t in topo and topo[t]["routing"]]:
        target_asn = _asn_of(target, topo)
        for neighbor in _peer_owners(target, topo, owners):
            _add_reason(reasons, neighbor, "BGP neighbor of %s" % target)
        for host in candidates:
            if host == target or not topo[host]["routing"]:
                continue
            for why in _impact_on(topo[host], target, topo[target]["addresses"], target_asn):
                _add_reason(reasons, host, why)


def _peer_owners(target, topo, owners):
    """Rule: the device owning an address the target peers with is its BGP neighbor."""
    out = []
    for address in topo[target]["peers"]:
        neighbor = owners.get(address)
        if neighbor and neighbor != target:
            out.append(neighbor)
    return out


def _routes_through(host_topo, target_addresses, target_asn):
    """Rule: a route goes through the target when its next hop is a target address or the target's AS is in its path."""
    return sorted(prefix for prefix, (nexthop, as_path) in host_topo["routes"].items()
                  if (nexthop and nexthop in target_addresses) or (target_asn and target_asn in _as_tokens(as_path)))


def _impact_on(host_topo, target, target_addresses, target_asn):
    """Why one routing device is in the target's impact: it peers with one of the target's addresses, or routes through it."""
    out = []
    if target_addresses & set(host_topo["peers"]):
        out.append("BGP neighbor of %s" % target)
    via = _routes_through(host_topo, target_addresses, target_asn)
    if via:
        out.append("%d route(s) through %s (e.g. %s)" % (len(via), target, via[0]))
    return out


def scope_for_play(assessment, pre_snapshots, scope=None, held=None):
    """The verification scope of one (possibly limited) play: impact_scope() over the assessment's targets and the
    hosts its expected checks name; ``elsewhere`` lists the targets and named hosts a limited play leaves to others."""
    plan = (assessment or {}).get("verification") or {}
    targets, named = list((assessment or {}).get("hosts") or []), list(plan.get("check_hosts") or [])
    out = impact_scope(targets, pre_snapshots, scope_mode((assessment or {}).get("requirements"), scope or None), named, held)
    out["elsewhere"] = sorted(set(targets + named) - set(held)) if held is not None else []
    return out


# ------------------------------------------------------------------------------------------------ fail fast


def convergence_bound_s(snapshot):
    """Seconds a BGP router needs to re-establish a reset session and exchange routes, from its configured timers.

    hold time (a peer that missed the reset notices it by then) + connect retry (+ advertisement interval), the
    largest over its neighbors; FRR's defaults where the config sets none. On the lab (hold 3, connect 1) 4 s: a
    session reset by an exact restore was seen back after about 3.5 s. None when the snapshot has no BGP configuration
    (the bound is then unknown).
    """
    doc = _load(snapshot) or {}
    bgp = (doc.get("sections") or {}).get("bgp")
    if not bgp:
        return None
    hold = bgp.get("hold") or FRR_DEFAULT_HOLD_S
    neighbors = bgp.get("neighbors") or {}
    if not neighbors:
        return float(hold)
    worst = 0.0
    for item in neighbors.values():
        connect = item.get("connect")
        connect = FRR_DEFAULT_CONNECT_S if connect is None else connect
        worst = max(worst, hold + connect + (item.get("advertisement_interval") or 0))
    return float(worst)


def routing_signature(snapshot):
    """What must stop changing for the network to count as converged: sessions up, prefixes and their next hops, rules."""
    doc = _load(snapshot) or {}
    sections = doc.get("sections") or {}
    peers = tuple(sorted((a, bool((p or {}).get("established"))) for a, p in (sections.get("peers") or {}).items()))
    routes = tuple(sorted((prefix, str((r or {}).get("nexthop"))) for prefix, r in (sections.get("routes") or {}).items()))
    rules = tuple(sorted(str(key) for key in (sections.get("rules") or {})))
    probes = tuple(sorted((str(k), str((v or {}).get("result"))) for k, v in (sections.get("probes") or {}).items()))
    interfaces = tuple(sorted((n, (i or {}).get("state")) for n, i in (sections.get("interfaces") or {}).items()))
    return (peers, routes, rules, probes, interfaces)


def _failing_mentions(result):
    """What the failing checks of a run name: their missing items and their queries (None: no result given)."""
    if result is None:
        return None
    found = set()
    for item in result.get("results") or []:
        if item.get("passed"):
            continue
        found.update(str(value) for value in item.get("missing") or [] if isinstance(value, (str, int)))
        found.add(str(item.get("query") or ""))
    return found


def decisive_failure(pre, post, result=None, refusals=None):
    """Why the device's own state says a failure cannot heal by waiting, or None.

    Decisive: a BGP session that was Established before the change is down and either its last NOTIFICATION (sent or
    received) is an OPEN Message Error - a configuration mismatch (peer AS, BGP identifier, hold time, capability)
    that every retry meets again - or ``refusals`` (``config_refusals``: the change itself configured a peer AS the peer
    does not present) names it, which needs no reconnect to be known. A session merely resetting (Cease, hold timer,
    connection refused) is not decisive: it may come back within the convergence bound. With ``result`` (the checks'
    run), only a session a failing check names counts (one the change declares intended to go down is never missing,
    so never decisive).
    """
    pre_peers = ((_load(pre) or {}).get("sections") or {}).get("peers") or {}
    post_peers = ((_load(post) or {}).get("sections") or {}).get("peers") or {}
    mentions = _failing_mentions(result)
    found = [_why_decisive(address, peer, refusals or {}) for address, peer in sorted(post_peers.items())
             if (pre_peers.get(address) or {}).get("established") and _named(address, mentions)]
    return "; ".join(why for why in found if why) or None


def _why_decisive(address, peer, refusals):
    """Why the session to ``address`` (down after the change) cannot come back, or None. The configuration's reason
    first: it holds from the first poll, whatever the session's reconnects show later (the hold needs the same fact)."""
    peer = peer or {}
    if peer.get("established"):
        return None
    if address in refusals:
        return "the session to %s cannot come up: %s" % (address, refusals[address])
    if _refused(peer):
        return "the session to %s is refused: %s" % (address, peer.get("lastNotification"))
    return None


def _refused(peer):
    """A session down whose last NOTIFICATION is a configuration mismatch (DECISIVE_NOTIFICATIONS)."""
    peer = peer or {}
    notification = str(peer.get("lastNotification") or "").lower()
    return not peer.get("established") and any(notification.startswith(kind) for kind in DECISIVE_NOTIFICATIONS)


def _named(address, mentions):
    return mentions is None or address in mentions or any(address in text for text in mentions)


# ------------------------------------------------------------------------------------------------ decisive from the config


def as_number(value):
    """A BGP AS number as a canonical string (asplain; asdot ``1.10`` is 65546), else None (``external``, a name)."""
    text = str(value).strip() if isinstance(value, (str, int)) and not isinstance(value, bool) else ""
    if text.isdigit():
        return str(int(text))
    high, dot, low = text.partition(".")
    if dot and high.isdigit() and low.isdigit() and int(low) < 65536:
        return str(int(high) * 65536 + int(low))
    return None


def _config_words(lines, where):
    """(indented, words) of each configuration line (blank lines and ``!`` comments left out); fails closed on a
    line that is not a string."""
    out = []
    for index, line in enumerate(lines or []):
        if not isinstance(line, str):
            _fail("%s[%d]" % (where, index), "a configuration line must be a string, got %s." % type(line).__name__,
                  "pass the change's configuration lines as strings (the deploy role passes deploy_config_lines).")
        if line.strip() and not line.strip().startswith("!"):
            out.append((line[0].isspace(), line.split()))
    return out


def neighbor_as_changes(lines, local_asn, where="change_lines"):
    """{neighbor address: remote AS the lines set (None: not a number)} in the default instance's ``router bgp
    LOCAL_ASN`` block, read by the running-config parser (snapshot.parse_frr_bgp_config: indentation gives the block; a
    vrf instance, another AS's block or a line outside a block counts for nothing). A neighbor that any ``no neighbor A
    ...`` line of the change removes or resets is left out: nothing about it is decisive."""
    words = [line_words for _indented, line_words in _config_words(lines, where)]
    bgp = parse_frr_bgp_config("\n".join(lines or []))
    local_asn = as_number(local_asn)
    if local_asn is None or as_number(bgp.get("asn")) != local_asn:
        return {}
    removed = {canonical_address(w[2]) for w in words if w[:2] == ["no", "neighbor"] and len(w) >= 3}
    return {address: as_number(entry["remote_as"]) for address, entry in bgp["neighbors"].items()
            if entry["remote_as"] is not None and address not in removed}


def _presents(lines, asn, where):
    """Whether ``lines`` could make a device present AS ``asn`` to its peers: a ``router bgp ASN`` line (a new or
    renumbered instance, or one restated) or a ``local-as ASN``. Conservative: which device they are on is not asked."""
    for _indented, words in _config_words(lines, where):
        if words[:2] == ["router", "bgp"] and len(words) >= 3 and as_number(words[2]) == asn:
            return True
        if any(word == "local-as" and as_number(nxt) == asn for word, nxt in zip(words, words[1:])):
            return True
    return False


def config_refusals(device, pre, change_lines, deployed=(), intended=None):
    """{neighbor address: why} of the sessions the change's own configuration makes impossible on ``device``.

    A session is impossible when the change (deployed on ``device``) sets the neighbor's ``remote-as`` to an AS that
    differs from the AS the neighbor presented before the change (the pre snapshot: Established, remote AS Z), and no
    target of the change could move a device to that AS (``router bgp N`` or ``local-as N`` in another target's
    lines: both ends renumbered, or possibly so, never counts). A neighbor that was not Established before, whose AS is
    unchanged, that is set to ``external``/``internal``, or that the change declares intended to go down is left out.
    Such a session, once down after the change, is decisive at once: the peer keeps presenting Z and every reconnect
    is refused until a configuration changes (``decisive_failure``).
    """
    if change_lines is None:
        return {}
    if not isinstance(change_lines, dict):
        _fail("change_lines", "must map each target to its configuration lines, got %s." % type(change_lines).__name__,
              "pass {target: [lines]} for every target of the change (the deploy role does), or leave it out.")
    if device not in (deployed or ()) or device not in change_lines:
        return {}
    sections = (_load(pre) or {}).get("sections") or {}
    pre_peers = sections.get("peers") or {}
    excused = set(normalize_intended(intended)["sessions_down"])
    changes = neighbor_as_changes(change_lines[device], (sections.get("bgp") or {}).get("asn"), "change_lines.%s" % device)
    out = {}
    for address, new_as in sorted(changes.items()):
        peer = pre_peers.get(address) or {}
        presented = as_number(peer.get("remoteAs"))
        if new_as is None or presented is None or new_as == presented or not peer.get("established") or address in excused:
            continue
        if any(_presents(lines, new_as, "change_lines.%s" % host) for host, lines in change_lines.items() if host != device):
            continue
        out[address] = ("the change sets its remote-as to %s, but it presented AS %s before the change and no target of "
                        "the change moves to AS %s" % (new_as, presented, new_as))
    return out


def failure_signature(result):
    """The failing checks and what they saw (the same failure twice has the same signature)."""
    if not result:
        return None
    return tuple(sorted((r.get("device") or "", r["name"], repr(r.get("actual")), repr(r.get("missing")))
                        for r in result.get("results") or [] if not r.get("passed")))


class SettleTracker:
    """Decides after each poll whether the wait for the checks is over.

    ``observe(elapsed_s, passed, failure_sig, routing_sig, decisive)`` returns None (keep polling) or a verdict
    ``{settled, reason}``. Rules (one per branch, unit-tested with plain data):

    * a pass on a wait that has seen no failure settles at once - or, with ``pass_hold_s``, once the same passing state
      (routing state unchanged) was read on consecutive polls spanning that long: the change reaches a device that
      is not its target through the routing protocol, so a read taken a moment after the commit proves nothing;
    * a pass after a failure settles only after ``polls`` consecutive passing polls with the same routing state (2
      when the BGP convergence bound is known);
    * a failure ends the wait (fail fast) when the same failure and the same routing state were seen on ``polls``
      consecutive polls spanning at least ``STABLE_MIN_S`` - or, when the BGP convergence bound is known, on 2
      consecutive polls the later of which is at least that bound after the wait began;
    * a decisive failure (``decisive``: why the device says it cannot heal, see ``decisive_failure``) ends the wait
      without waiting for the bound, once the same decisive fact and routing state were seen on ``DECISIVE_POLLS``
      consecutive polls at least ``DECISIVE_HOLD_S`` apart (a short hold: never a single read). A pass never settles
      early this way; fail fast off (``polls`` 0) turns this off too.
    """

    def __init__(self, polls=FAIL_FAST_POLLS, converge_s=None, pass_hold_s=0.0):
        if isinstance(polls, bool) or not isinstance(polls, int) or polls < 0:
            _fail("fail_fast_polls", "must be a whole number of polls (0 turns fail fast off), got %r." % (polls,),
                  "write e.g. fail_fast_polls: 3.")
        if isinstance(pass_hold_s, bool) or not isinstance(pass_hold_s, (int, float)) or pass_hold_s < 0:
            _fail("pass_hold", "must be a number of seconds (0 settles a pass on its first read), got %r." % (pass_hold_s,),
                  "write e.g. pass_hold: 1.")
        self.polls, self.converge_s, self.pass_hold_s = polls, converge_s, float(pass_hold_s)
        self.seen_failure = False
        self.last, self.run, self.run_since = None, 0, 0.0
        self.decisive_last, self.decisive_run, self.decisive_since = None, 0, None

    def observe(self, elapsed_s, passed, failure_sig=None, routing_sig=None, decisive=None):
        self._count(elapsed_s, passed, failure_sig, routing_sig, decisive)
        if passed:
            return self._pass_verdict(elapsed_s)
        self.seen_failure = True
        return self._decisive_verdict(elapsed_s) or self._stable_failure_verdict(elapsed_s)

    def _count(self, elapsed_s, passed, failure_sig, routing_sig, decisive):
        key = ("pass" if passed else ("fail", failure_sig), routing_sig)
        self.run = self.run + 1 if key == self.last else 1
        if self.run == 1:
            self.run_since = elapsed_s
        self.last = key
        # the decisive fact and the routing state must hold; what the failing checks read may move (a refused
        # session cycles Idle/Connect/OpenSent, and its last reset reason with it) without the failure being any less
        # final: a session refused once and not up since (the routing state unchanged) stays refused
        if not decisive and not passed and self.decisive_last is not None and self.decisive_last[1] == routing_sig:
            decisive = self.decisive_last[0]
        decisive_key = (decisive, routing_sig) if decisive and not passed else None
        if decisive_key is None or decisive_key != self.decisive_last:
            self.decisive_run, self.decisive_since = (1 if decisive_key else 0), elapsed_s
        else:
            self.decisive_run += 1
        self.decisive_last = decisive_key

    def _needed(self):
        return min(self.polls, KNOWN_BOUND_POLLS) if self.converge_s is not None else self.polls

    def _pass_verdict(self, elapsed_s):
        if not self.seen_failure:
            if self.pass_hold_s <= 0:
                return {"settled": True, "reason": "passed on the first read of this state"}
            if self.run >= 2 and elapsed_s - self.run_since >= self.pass_hold_s:
                return {"settled": True, "reason": "passed on %d consecutive polls over %.1f s with the routing state unchanged" % (
                    self.run, elapsed_s - self.run_since)}
            return None
        if self.run >= max(self._needed(), 1):
            return {"settled": True, "reason": "passed on %d consecutive polls after a failure" % self.run}
        return None

    def _decisive_verdict(self, elapsed_s):
        if not self.polls or self.decisive_run < DECISIVE_POLLS or elapsed_s - self.decisive_since < DECISIVE_HOLD_S:
            return None
        decisive = self.decisive_last[0]
        return {"settled": False, "fail_fast": True, "decisive": decisive,
                "reason": "a decisive failure on %d consecutive polls over %.1f s with the routing state unchanged: %s" % (
                    self.decisive_run, elapsed_s - self.decisive_since, decisive)}

    def _stable_failure_verdict(self, elapsed_s):
        # With the BGP timers known, convergence is certain once their bound has passed: two polls confirm the failure
        # is not a moment's state; without them, stability over ``polls`` polls is the only evidence.
        if self.polls == 0 or self.run < self._needed():
            return None
        if self.converge_s is not None and elapsed_s < self.converge_s:
            return None
        if self.converge_s is None and elapsed_s - self.run_since < STABLE_MIN_S:
            return None
        bound = "BGP convergence bound %.1f s passed" % self.converge_s if self.converge_s is not None else "no BGP timers known"
        return {"settled": False, "fail_fast": True,
                "reason": "the same failure on %d consecutive polls with the routing state unchanged (%s)" % (self.run, bound)}
