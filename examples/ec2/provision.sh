#!/usr/bin/env bash
# provision.sh: makes (or finds) the EC2 instance of one vmreserve VM, for
#   vmreserve serve --provider exec --provision-cmd examples/ec2/provision.sh \
#                   --deprovision-cmd examples/ec2/deprovision.sh
# Input (stdin): {"action": "provision", "vm_id": "...", "size": "small", "cpu": 1, "memory_mb": 2048, ...}
# Output (stdout): {"ip": "10.0.3.7", "machine_id": "i-0abc..."}, or {"error": "..."} and exit 1.
#
# Idempotent by vm_id, as vmreserve requires: a gateway that died mid-call leaves the VM to
# another, which runs this again. An instance already tagged vmreserve-vm=<vm_id> is answered
# instead of a second one, and run-instances carries the vm_id as its client token, so that
# EC2 itself returns the first instance to a repeated call.
#
# Settings (environment of vmreserve serve; the AWS CLI's own AWS_* variables apply too):
#   EC2_IMAGE_ID            the AMI to boot (required)
#   EC2_INSTANCE_TYPES      size=type,... (default small=t3.small,medium=t3.medium,large=t3.large)
#   EC2_SUBNET_ID, EC2_SECURITY_GROUP_IDS (space-separated), EC2_KEY_NAME   optional
#   EC2_ADDRESS             private (default) or public: which address vmreserve hands out
# Needs: aws (AWS CLI v1 or v2) and jq.
set -uo pipefail

fail() { jq -cn --arg message "$1" '{error: $message}'; exit 1; }

input=$(cat)
vm_id=$(jq -er '.vm_id' <<<"$input") || fail "no vm_id in the input"
size=$(jq -r '.size // "small"' <<<"$input")
[ -n "${EC2_IMAGE_ID:-}" ] || fail "EC2_IMAGE_ID is not set"
types=${EC2_INSTANCE_TYPES:-small=t3.small,medium=t3.medium,large=t3.large}
type=$(tr ',' '\n' <<<"$types" | sed -n "s/^$size=//p" | head -n 1)
[ -n "$type" ] || fail "EC2_INSTANCE_TYPES has no instance type for size $size"

instance=$(aws ec2 describe-instances \
  --filters "Name=tag:vmreserve-vm,Values=$vm_id" "Name=instance-state-name,Values=pending,running" \
  --query 'Reservations[].Instances[].InstanceId' --output text 2>/dev/null) || fail "describe-instances failed"
instance=${instance%%[[:space:]]*}
if [ -z "$instance" ] || [ "$instance" = None ]; then
  options=()
  [ -n "${EC2_SUBNET_ID:-}" ] && options+=(--subnet-id "$EC2_SUBNET_ID")
  # shellcheck disable=SC2206 # a list of ids, split on spaces on purpose
  [ -n "${EC2_SECURITY_GROUP_IDS:-}" ] && options+=(--security-group-ids $EC2_SECURITY_GROUP_IDS)
  [ -n "${EC2_KEY_NAME:-}" ] && options+=(--key-name "$EC2_KEY_NAME")
  instance=$(aws ec2 run-instances --image-id "$EC2_IMAGE_ID" --instance-type "$type" --count 1 \
    --client-token "$vm_id" "${options[@]}" \
    --tag-specifications "ResourceType=instance,Tags=[{Key=vmreserve-vm,Value=$vm_id},{Key=Name,Value=vmreserve-$vm_id}]" \
    --query 'Instances[0].InstanceId' --output text) || fail "run-instances failed for a $type instance"
fi

aws ec2 wait instance-running --instance-ids "$instance" || fail "instance $instance did not reach the running state"
field=PrivateIpAddress
[ "${EC2_ADDRESS:-private}" = public ] && field=PublicIpAddress
ip=$(aws ec2 describe-instances --instance-ids "$instance" \
  --query "Reservations[0].Instances[0].$field" --output text) || fail "describe-instances failed for $instance"
[ -n "$ip" ] && [ "$ip" != None ] || fail "instance $instance has no ${EC2_ADDRESS:-private} address"
jq -cn --arg ip "$ip" --arg id "$instance" '{ip: $ip, machine_id: $id}'
