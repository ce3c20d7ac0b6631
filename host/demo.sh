#!/usr/bin/env bash
# make demo: what moat does with the example moat.conf, shown as a user sees it.
# 1. the policy: checked, in words, as nftables, and a mistake refused;
# 2. the whole chain booted under QEMU from the images (host/demo-vms.sh):
#    netvm, firewallvm, moat-link, the example's five app VMs, real
#    connections from every VM, all shut down at the end;
# 3. without images (no kernel could be had: make images says why), the
#    firewall at work in network namespaces instead (tests/netns/testbed.sh):
#    the real moat-firewalld and real connections from every VM.
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
sed 's/allow tcp to any port 22, 443/allow icmp to any port 22/' "$CONF" >"$bad"
"$NETCTL" -c "$bad" check || echo "(exit $?)"
rm -f "$bad"

if [ "$(id -u)" != 0 ]; then
	echo "(run as root to see the firewall at work in network namespaces)"
	exit 0
fi

if [ -r build/images/firewallvm/initrd.img ] && [ -r build/images/testvm/initrd.img ]; then
	exec host/demo-vms.sh
fi
echo "(no appliance images in build/images: showing the firewall in network namespaces instead)"

say "the firewall at work: namespaces for 5 app VMs, the firewall, the netvm, the internet"
FIREWALLD=build/moat-firewalld
. tests/netns/testbed.sh
tb_up "$CONF"
tb_firewalld
for vm in $(tb_vms "$CONF" | awk '{print $1}'); do
	tb_static "$vm" "$(tb_vms "$CONF" | awk -v v="$vm" '$1 == v {print $2}')"
done
tb_bg vm-dev web socat TCP-LISTEN:8080,fork,reuseaddr EXEC:cat
echo "before any policy (fail closed): dev -> 198.51.100.7:443 $(tb_tcp dev 198.51.100.7 443)"
tb_netctl -c "$CONF" apply
[ -x "$DNSMASQ" ] || echo "(dnsmasq is not installed: addresses are set by hand, host-name rules have nothing resolved)"

word() {
	case $1 in
	open|echoed|answered) echo "reaches it" ;;
	refused) echo "refused (TCP reset)" ;;
	unreachable) echo "refused (ICMP admin-prohibited)" ;;
	timeout|no-answer) echo "silently dropped" ;;
	*) echo "$1" ;;
	esac
}
printf '\n%-10s %-44s %s\n' VM "tries" "result"
probe() { printf '%-10s %-44s %s\n' "$1" "$2" "$(word "$3")"; }
for vm in dev shopping untrusted com personal; do
	probe "$vm" "ssh to 198.51.100.7 (tcp/22)" "$(tb_tcp "$vm" 198.51.100.7 22)"
	probe "$vm" "https to 198.51.100.8 (tcp/443)" "$(tb_tcp "$vm" 198.51.100.8 443)"
	probe "$vm" "udp to 198.51.100.7 port 9000" "$(tb_udp "$vm" 198.51.100.7 9000)"
	probe "$vm" "ping 198.51.100.7" "$(tb_ping "$vm" 198.51.100.7)"
	[ "$vm" = dev ] || probe "$vm" "the VM dev's web app (tcp/8080)" "$(tb_tcp "$vm" 10.137.0.10 8080)"
	probe "$vm" "the netvm (10.139.0.1)" "$(tb_tcp "$vm" 10.139.0.1 53)"
done

if [ -x "$DNSMASQ" ]; then
	say "host names: shopping has 'allow dns' and 'allow tcp to shop.example.com port 443'"
	probe shopping "https to 198.51.100.8, never resolved" "$(tb_tcp shopping 198.51.100.8 443)"
	ans=$(tb_in vm-shopping busybox nslookup shop.example.com 10.137.0.1 2>/dev/null | awk '/^Address: / && !/:53$/ {a = $2} END {print a}' || true)
	echo "shopping asks the firewall's DNS for shop.example.com: ${ans:-no answer}"
	probe shopping "https to shop.example.com (${ans:-?})" "$(tb_tcp shopping "${ans:-198.51.100.8}" 443)"
	probe shopping "ssh to the same address (tcp/22)" "$(tb_tcp shopping "${ans:-198.51.100.8}" 22)"
	ans=$(tb_in vm-personal busybox nslookup shop.example.com 10.137.0.1 2>&1 | awk '/^Address: / && !/:53$/ {a = $2} END {print a}' || true)
	echo "personal (no 'allow dns') asks the same: ${ans:-no answer}"
fi

say "netctl stats dev: what those tries counted"
tb_netctl -c "$CONF" stats dev
say "netctl allow personal tcp to 198.51.100.7 port 22 (edits the file, checks, applies)"
cp "$CONF" "$TB_DIR/moat.conf"
"$NETCTL" -c "$TB_DIR/moat.conf" --control "$TB_CTL" --state-dir "$TB_DIR/state" allow personal tcp to 198.51.100.7 port 22
probe personal "ssh to 198.51.100.7 (tcp/22)" "$(tb_tcp personal 198.51.100.7 22)"
say "netctl generations"
tb_netctl generations
say "tearing everything down"
