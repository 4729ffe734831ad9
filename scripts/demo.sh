#!/usr/bin/env bash
# The demo on the lab, through ansible-playbook:
#   1. a low-risk change (CHG-2001) passes every gate -- approved with an SSH-signed approval made here for
#      a second identity (alice; the author is carol) -- deploys, verifies and closes successful;
#   2. a bad change (CHG-2002, a mistyped BGP peer AS) is caught by the checks, rolled back automatically and
#      verifiably, closed unsuccessful, and escalated with a hand-off packet to a local webhook receiver;
#   3. the ledger is verified; the summaries and the evidence report paths are printed.
# The lab is torn down on every exit path.
set -euo pipefail
cd "$(dirname "$0")/.."
export ANSIBLE_CONFIG="$PWD/ansible.cfg"
export PATH="$PWD/.venv/bin:$PATH"
OUT="${GC_DEMO_OUT:-$PWD/out/demo}"
RECEIVER_PORT="${GC_DEMO_WEBHOOK_PORT:-28080}"
receiver_pid=""
cleanup() {
  if [ -n "$receiver_pid" ]; then kill "$receiver_pid" 2>/dev/null || true; fi
  python3 lab/lab.py down >/dev/null 2>&1 || true
}
trap cleanup EXIT
SECONDS=0
rm -rf "$OUT"
mkdir -p "$OUT/keys" "$OUT/policy" "$OUT/webhook"

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

say "0. Lab up: r1-r2-r3 (FRR, eBGP), fw1 (nftables) in front of srv1 -- network namespaces, SSH on 127.0.0.1"
python3 lab/lab.py up >/dev/null
python3 lab/lab.py wait --timeout 60

# The approvers' signing keys and the policy's allowed_signers (a copy of the example policy beside them).
for who in alice bob; do
  ssh-keygen -q -t ed25519 -N '' -C "$who@lab" -f "$OUT/keys/$who"
  printf '%s@lab namespaces="governed.change" %s\n' "$who" "$(cut -d' ' -f1,2 "$OUT/keys/$who.pub")" >> "$OUT/policy/allowed_signers"
done
.venv/bin/python scripts/relative_policy.py examples/policy/policy.yml "$OUT/policy/policy.yml" >/dev/null  # freezes placed after today
python3 scripts/webhook_receiver.py --port "$RECEIVER_PORT" --out "$OUT/webhook" &
receiver_pid=$!

COMMON=(-e governed_policy="$OUT/policy/policy.yml" -e governed_output_dir="$OUT" -e governed_ledger="$OUT/ledger.sqlite"
        -e governed_launcher=carol -e governed_webhook_url="http://127.0.0.1:$RECEIVER_PORT/escalations")

assess_and_approve() {  # $1 change file, $2 change id
  ansible-playbook playbooks/assess.yml -e governed_change_request="$PWD/$1" "${COMMON[@]}" \
    | sed -n '/TASK \[.*Show the risk and why\]/,/PLAY RECAP/p' | grep -v -E "^(TASK|PLAY RECAP|ok:)" | sed '/^$/d'
  echo "-- alice (netops, not the author) reviews the diff and signs her approval with her SSH key:"
  governed-change approve --ledger "$OUT/ledger.sqlite" --change "$2" --assessment "$OUT/assessments/$2.assessment.json" \
    --key "$OUT/keys/alice" --identity alice --policy "$OUT/policy/policy.yml" --comment "reviewed in the demo" --yes \
    | sed 's/^/   /'
}

run_pipeline() {  # $1 change file; prints one line per stage as it ends (governed.change.progress), then the summary
  local rc log
  log="$OUT/$(basename "$1" .yml).log"
  # The stage lines stream as the run goes; GOVERNED_PROGRESS_VERBOSE=1 make demo shows Ansible's raw output instead.
  ANSIBLE_STDOUT_CALLBACK=governed.change.progress \
    ansible-playbook playbooks/governed_change.yml -e governed_change_request="$PWD/$1" "${COMMON[@]}" 2>&1 \
    | tee "$log" | sed -u 's/^/   /'
  rc=${PIPESTATUS[0]}
  return "$rc"
}

say "1. A low-risk change: assess, signed approval, then the whole governed pipeline"
assess_and_approve examples/changes/good_r1_static.yml CHG-2001
good_start=$SECONDS
if run_pipeline examples/changes/good_r1_static.yml; then
  echo "-- CHG-2001 closed successful in $((SECONDS - good_start)) s (full log: $OUT/good_r1_static.log)"
else
  echo "-- CHG-2001 did NOT succeed: see $OUT/good_r1_static.log"; exit 1
fi

say "2. A bad change (peer AS mistyped on r1): the checks catch it, it rolls back and escalates"
assess_and_approve examples/changes/bad_r1_bgp.yml CHG-2002
if run_pipeline examples/changes/bad_r1_bgp.yml; then
  echo "-- CHG-2002 unexpectedly succeeded: the demo expected the checks to catch it"; exit 1
fi
echo "-- CHG-2002 failed as expected; the pipeline rolled it back (full log: $OUT/bad_r1_bgp.log)"
echo "-- the escalation webhook received:"
for f in "$OUT"/webhook/*.json; do
  [ -e "$f" ] || { echo "   nothing (the escalation was not delivered)"; exit 1; }
  python3 -c 'import json,sys; d=json.load(open(sys.argv[1]))["payload"]; print("  ", d.get("text") or d.get("summary") or json.dumps(d)[:300])' "$f"
done

say "3. The change ledger (hash chain) and where the evidence is"
governed-change ledger verify --ledger "$OUT/ledger.sqlite"
for id in CHG-2001 CHG-2002; do
  echo "$id evidence report: $OUT/evidence/$id/report.html"
done
for f in "$OUT"/escalations/*.md; do [ -e "$f" ] && echo "escalation hand-off: $f"; done
echo "demo finished in ${SECONDS} s"
