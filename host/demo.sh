#!/usr/bin/env bash
# make demo: what moat does with the example moat.conf, shown as a user sees it.
# Until the appliance VMs boot here, it checks the file, says in words what
# each app VM may reach, shows the exact nftables ruleset the firewall loads,
# and loads it into a throw-away network namespace to show the kernel takes it.
set -euo pipefail
cd "$(dirname "$0")/.."
NETCTL=build/netctl
CONF=${MOAT_CONF:-examples/moat.conf}
say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

say "netctl check $CONF"
"$NETCTL" -c "$CONF" check

say "netctl show: the policy in words (it parses back as moat.conf)"
"$NETCTL" -c "$CONF" show

say "netctl show shopping --nft: the chains of one VM, exactly as loaded"
"$NETCTL" -c "$CONF" show shopping --nft

say "a mistake is refused with the line and column, and nothing is applied"
bad=$(mktemp /tmp/moat-demo.XXXXXX.conf)
trap 'rm -f "$bad"' EXIT
sed 's/allow tcp to any port 22, 443/allow icmp to any port 22/' "$CONF" >"$bad"
"$NETCTL" -c "$bad" check || echo "(exit $?)"

if [ "$(id -u)" = 0 ] && command -v unshare >/dev/null; then
	say "the whole ruleset, loaded in one transaction into a fresh network namespace"
	unshare -n sh -c "build/nftload --persist '$CONF' && nft list tables && nft list chain inet moat out_dev"
fi
