# -*- coding: utf-8 -*-
# Copyright: governed.change contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Documentation of the governed.change.wait_for_dependency action (the work runs on the controller)."""

from __future__ import annotations

DOCUMENTATION = r"""
module: wait_for_dependency
short_description: Pause a change until an external condition holds - an HTTP API, another change, a device, a webhook
version_added: 1.0.0
description:
  - Polls one source until its condition holds, bounded by O(timeout), with a poll interval that starts at O(interval)
    and grows by O(backoff) after each poll up to O(max_interval).
  - C(http) - GET a URL and evaluate a JMESPath query on the JSON answer; the condition holds when the query's result
    equals C(expected). HTTP 429/500/502/503/504 mean "not ready yet"; an unreachable URL, another error status, an answer
    that is not JSON or a query that fails cannot be decided and fail the task at once.
  - C(ledger) - another change (C(change_id)) closed with one of C(close_codes) (default C(successful)), read through the
    ledger's verified read; a dependency that was canceled or closed with another code can never be met and fails at once.
  - C(device) - a route present (C(route)) and/or a BGP session established (C(bgp_peer)) on an inventory host
    (C(host)), read from a snapshot taken by the collection's platform driver over the host's SSH settings.
  - C(webhook) - a POST received by a small listener bound to 127.0.0.1 only, on C(port) and C(path), carrying the shared
    secret in the header C(header) (default C(X-Governed-Secret)); with C(query) the JSON body must satisfy it too. Other
    requests are answered 403/404/400 and counted; the secret is never logged, returned or recorded.
  - Every poll is summarized in the result; the final verdict (source, condition, attempts, elapsed, decision) is recorded
    in the waiting change's ledger record as a C(wait.dependency) event when O(ledger) and O(change_id) are given.
  - Fails closed - on the timeout, or a condition that cannot be decided or never be met - with a message that starts with
    C(governed.change.wait_for_dependency:) and gives the last poll and the fix. A role or workflow node routes the
    failure to the escalation path (reason C(dependency_not_ready)).
author:
  - Governed Change Maintainers (@governed-change)
attributes:
  check_mode:
    support: full
    description: Polls once and does not wait; a condition not met yet passes with decision C(not_met), one that cannot
      be decided fails. Nothing is recorded in the ledger.
  diff_mode:
    support: none
    description: Nothing is changed, so there is no diff.
  platform:
    support: full
    description: Runs on the controller; the device source reads the named inventory host over SSH.
    platforms: all
options:
  source:
    description: Where the condition is read.
    type: str
    required: true
    choices: [http, ledger, device, webhook]
  condition:
    description:
      - The source's condition. C(http) - C(url), C(query), C(expected) (default V(true)), C(headers), C(validate_certs)
        (default V(true)), C(request_timeout) (seconds, default 10). C(ledger) - C(change_id), C(close_codes) (default
        V([successful])), C(ledger) (default O(ledger)). C(device) - C(host), C(route), C(bgp_peer). C(webhook) - C(port)
        (1024-65535), C(path) (default V(/)), C(header), C(query), C(expected).
      - Unknown keys are refused. Header values are sent but never recorded; the URL is recorded without its query string.
    type: dict
    default: {}
  depends_on:
    description: The change id the C(ledger) source waits for (the same as C(condition.change_id), which wins).
    type: str
  secret:
    description:
      - The webhook's shared secret; defaults to the environment variable C(GOVERNED_WAIT_SECRET) (prefer it - the role
        reads only the environment). Never returned, logged or recorded.
    type: str
  required:
    description:
      - With V(false), a condition that names nothing to wait for (no C(url), C(change_id), C(host) or C(port)) passes
        with decision C(not_required), recorded. With V(true) (the default) it is refused.
    type: bool
    default: true
  timeout:
    description: The longest the task waits, in seconds (0 polls once).
    type: float
    default: 300
  interval:
    description: The first poll interval, in seconds.
    type: float
    default: 2
  max_interval:
    description: The cap of the poll interval, in seconds.
    type: float
    default: 30
  backoff:
    description: The factor the poll interval grows by after each poll (1 keeps it fixed).
    type: float
    default: 2
  change_id:
    description: The waiting change, whose ledger record receives the C(wait.dependency) event.
    type: str
  ledger:
    description:
      - Path of the ledger (SQLite) holding the waiting change; the wait is recorded there (not in check mode). Also the
        ledger the C(ledger) source reads unless C(condition.ledger) names another.
    type: path
notes:
  - The wait runs in the controller process; give the task a longer timeout than O(timeout) if the play sets one.
  - The webhook listener exists only while the task waits; the sender posts to C(http://127.0.0.1:PORT/PATH).
seealso:
  - module: governed.change.window_gate
  - module: governed.change.escalate
  - name: Wait for a dependency
    description: Sources, backoff, the workflow node and the escalation path.
    link: https://example.invalid/governed/change/docs/wait-for-dependency.md
"""

EXAMPLES = r"""
- name: Wait until the IPAM API says the prefix is allocated
  governed.change.wait_for_dependency:
    source: http
    condition:
      url: https://ipam.example.net/api/prefixes/203.0.113.0-24
      query: status
      expected: allocated
    timeout: 600
    change_id: "{{ governed_change_id }}"
    ledger: "{{ governed_ledger }}"
  run_once: true

- name: Routing waits for the firewall change to close successful
  governed.change.wait_for_dependency:
    source: ledger
    depends_on: CHG-FW-2041
    timeout: 3600
    max_interval: 60
    change_id: CHG-RT-2042
    ledger: out/ledger.sqlite
  run_once: true

- name: Wait for the BGP session to the new peer on r2
  governed.change.wait_for_dependency:
    source: device
    condition: {host: r2, bgp_peer: 10.0.23.3}
    timeout: 120
  run_once: true

- name: Wait for the provisioning system's webhook
  governed.change.wait_for_dependency:
    source: webhook
    condition: {port: 18080, path: /ready, query: circuit, expected: up}
    secret: "{{ vault_wait_secret }}"
    timeout: 900
  run_once: true
  register: waited
"""

RETURN = r"""
verdict:
  description: The wait's verdict (also recorded as the ledger event C(wait.dependency)).
  returned: always, unless the arguments could not be validated
  type: dict
  contains:
    stage:
      description: Always C(wait_for_dependency).
      type: str
      returned: always
    source:
      description: The source.
      type: str
      returned: always
    condition:
      description: The condition as recorded - no secret, no header value, the URL without its query string.
      type: dict
      returned: always
    decision:
      description: C(met), C(timeout), C(undecidable), C(never), C(not_met) (check mode) or C(not_required).
      type: str
      returned: always
    passed:
      description: Whether the stage may go on.
      type: bool
      returned: always
    attempts:
      description: The number of polls.
      type: int
      returned: always
    elapsed_s:
      description: Seconds waited.
      type: float
      returned: always
    polls:
      description: Each poll's C(attempt), C(at_s), C(state) and C(detail) (and a small C(observed) value); a long wait keeps
        the first 5 and the last 15.
      type: list
      elements: dict
      returned: always
    reason:
      description: One sentence - what was waited for and how it ended.
      type: str
      returned: always
    fix:
      description: What to do next.
      type: str
      returned: when the wait failed
  sample:
    stage: wait_for_dependency
    source: ledger
    condition: {change_id: CHG-FW-2041, close_codes: [successful]}
    decision: met
    passed: true
    attempts: 4
    elapsed_s: 14.02
decision:
  description: The verdict's decision.
  returned: always, unless the arguments could not be validated
  type: str
  sample: met
recorded:
  description: The ledger seq of the C(wait.dependency) event, or V(null) when nothing was recorded.
  returned: always, unless the arguments could not be validated
  type: int
summary:
  description: The small summary also passed as the C(governed_wait) C(set_stats) artifact.
  returned: always, unless the arguments could not be validated
  type: dict
  sample: {source: ledger, decision: met, attempts: 4, elapsed_s: 14.02}
"""
