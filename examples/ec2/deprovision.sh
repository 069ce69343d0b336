#!/usr/bin/env bash
# deprovision.sh: terminates every EC2 instance of one vmreserve VM (see provision.sh):
# the one vmreserve recorded (machine_id) and any other tagged vmreserve-vm=<vm_id>, so that an
# instance made by a try whose answer was lost (a gateway killed mid-call) goes too.
# Input (stdin): {"action": "deprovision", "vm_id": "...", "machine_id": "i-..." or null, ...}
# Output (stdout): {} on success, or {"error": "..."} and exit 1 (vmreserve tries again later).
# Needs: aws (AWS CLI v1 or v2) and jq.
set -uo pipefail

fail() { jq -cn --arg message "$1" '{error: $message}'; exit 1; }

input=$(cat)
vm_id=$(jq -er '.vm_id' <<<"$input") || fail "no vm_id in the input"
recorded=$(jq -r '.machine_id // empty' <<<"$input")

alive() { # the instances matching filter $1 that are not terminated (or terminating)
  aws ec2 describe-instances --filters "$1" "Name=instance-state-name,Values=pending,running,stopping,stopped" \
    --query 'Reservations[].Instances[].InstanceId' --output text
}
tagged=$(alive "Name=tag:vmreserve-vm,Values=$vm_id") || fail "describe-instances failed"
[ -n "$recorded" ] && { recorded=$(alive "Name=instance-id,Values=$recorded") || fail "describe-instances failed"; }
# shellcheck disable=SC2206 # instance ids, split on whitespace on purpose
instances=($recorded $tagged)
if [ ${#instances[@]} -gt 0 ]; then
  aws ec2 terminate-instances --instance-ids $(printf '%s\n' "${instances[@]}" | sort -u) >/dev/null \
    || fail "terminate-instances failed for ${instances[*]}"
fi
echo '{}'
