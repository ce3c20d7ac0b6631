#!/usr/bin/env bash
# make demo, part 2: the whole chain booted under QEMU from the images of
# guest-image/ (make images), as a user runs it: netctl up, the five app VMs
# of the example moat.conf attached with netctl vm-args, what each can and
# cannot reach, a live netctl allow, stats and the log, netctl down.
# "The internet" is a network namespace (tests/vm/world.sh) holding the
# netvm's tap; nothing leaves this machine. KVM when it works, else TCG.
set -uo pipefail
cd "$(dirname "$0")/.."
NETCTL=build/netctl
CONF=${MOAT_CONF:-examples/moat.conf}
export MOAT_LINK=$PWD/build/moat-link
. tests/vm/vm.sh
. tests/vm/world.sh
say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

dir=$(mktemp -d /tmp/moat-demo.XXXXXX)
chmod 0711 "$dir"   # the appliances' users reach their link sockets in $dir/s/links
ns=moatdemo-inet-$$
tap=moatdemo$$
pids=()
cleanup() {
	chain_down
	rm -rf "$dir"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

world_up "$ns" "$tap" "$dir"
# the example's uplink is a PCI NIC for VFIO; with none here, the tap
uplink=$(awk '$1 == "uplink" {print $2, $3; exit}' "$CONF")
case $uplink in
pci*) [ -e "/sys/bus/pci/devices/${uplink#pci }" ] || echo "(no PCI device ${uplink#pci } here: the netvm gets a tap into a namespace standing for the internet)" ;;
esac
sed "s/^\([[:space:]]*\)uplink .*/\1uplink tap $tap/" "$CONF" >"$dir/moat.conf"
say "KVM or TCG: a test VM tries to boot under KVM"
VM_ACCEL=$(vm_accel_probe)
[ "$VM_ACCEL" = kvm ] && echo "KVM works: the VMs run under KVM" ||
	echo "no KVM that runs ordinary guests here: the VMs run under TCG (slower, same software)"

say "netctl up: the links, the netvm, the firewallvm, then the policy"
t0=$SECONDS
if ! nc up --images "$IMAGES" --accel "$VM_ACCEL" --timeout 300; then
	echo "netctl up failed; the appliances' consoles:"
	tail -n 20 "$dir"/s/run/*.console 2>/dev/null
	exit 1
fi
echo "(up in $((SECONDS - t0)) s)"
say "netctl appliances"
nc appliances

say "the app VMs boot, each attached with: qemu ... \$(netctl vm-args VM)"
echo "(each QEMU as nobody in the group moat-vm, which may open the app side of every link)"
export VM_USER=nobody:moat-vm
vms=$(awk '$1 == "vm" {print $2}' "$dir/moat.conf")
nc vm-args dev --memory "${VM_MB}M" | sed 's/^/  /'
for vm in $vms; do
	# shellcheck disable=SC2046
	vm_start "$vm" "" $(nc vm-args "$vm" --memory "${VM_MB}M")
done
for vm in $vms; do
	if ! vm_up "$vm" 240; then echo "$vm did not boot:"; vm_console "$vm" 20; exit 1; fi
done
for vm in $vms; do
	a=
	for i in $(seq 60); do
		a=$(vm_sh "$vm" 10 "ip -4 -o addr show eth0" | awk '{print $4}')
		[ -n "$a" ] && break
		sleep 1
	done
	echo "  $vm: booted, DHCP from the firewall gave it ${a:-nothing}"
done
vm_sh dev 10 "mkdir -p /tmp/www; echo dev-app >/tmp/www/index.html; httpd -p 8080 -h /tmp/www" >/dev/null

resolve() { # VM NAME: the address the firewall's DNS gives, or "no answer"
	local a
	a=$(vm_sh "$1" 20 "timeout 8 nslookup $2 10.137.0.1 2>/dev/null" | awk '/^Address: / && !/:53$/ {a = $2} END {print a}')
	echo "${a:-no answer}"
}
# tcp VM HOST PORT: connect, as an app in the VM would (a name is resolved
# through the VM's DNS first): "reaches it" | "refused" | "silently dropped"
tcp() {
	local out
	case $2 in
	*[a-z]*) [ "$(resolve "$1" "$2")" = "no answer" ] && { echo "cannot resolve the name (no DNS for this VM)"; return; } ;;
	esac
	out=$(vm_sh "$1" 20 "timeout 8 nc -w 4 $2 $3 </dev/null 2>&1; echo rc=\$?")
	case $out in
	*rc=0*) echo "reaches it" ;;
	*refused*) echo "refused (the firewall answers with a TCP reset)" ;;
	*"bad address"*) echo "cannot resolve the name (no DNS for this VM)" ;;
	*) echo "silently dropped" ;;
	esac
}
ping_() { vm_sh "$1" 20 "ping -c 1 -W 3 $2" >/dev/null 2>&1 && echo "answered" || echo "no answer"; }
probe() { printf '  %-11s %-42s %s\n' "$1" "$2" "$3"; }

say "what each app VM can and cannot reach, tried for real through the chain"
printf '  %-11s %-42s %s\n' VM tries result
for vm in $vms; do
	probe "$vm" "DNS: github.com" "$(resolve "$vm" github.com)"
	probe "$vm" "ssh to github.com" "$(tcp "$vm" github.com 22)"
	probe "$vm" "https to shop.example.com" "$(tcp "$vm" shop.example.com 443)"
	probe "$vm" "ssh to shop.example.com" "$(tcp "$vm" shop.example.com 22)"
	probe "$vm" "imaps to imap.example.org" "$(tcp "$vm" imap.example.org 993)"
	probe "$vm" "https to 203.0.113.80 (by address)" "$(tcp "$vm" 203.0.113.80 443)"
	probe "$vm" "a LAN host (192.168.1.10:22)" "$(tcp "$vm" 192.168.1.10 22)"
	probe "$vm" "ping the internet's router" "$(ping_ "$vm" 203.0.113.1)"
	[ "$vm" = dev ] || probe "$vm" "the VM dev's web app (10.137.0.10:8080)" "$(tcp "$vm" 10.137.0.10 8080)"
done
echo "(a host-name rule matches the addresses the firewall's DNS gave for that name:"
echo " shopping reaches shop.example.com on 443 and nothing else there)"

say "netctl stats dev"
nc stats dev
say "netctl log: the denied packets, with the rule that denied them"
nc log | tail -n 8

say "netctl allow personal tcp to 203.0.113.80 port 80 (edits moat.conf, checks, applies)"
nc allow personal tcp to 203.0.113.80 port 80
probe personal "http to 203.0.113.80, a moment later" "$(tcp personal 203.0.113.80 80)"
say "netctl generations"
nc generations

say "netctl down: the app VMs first, then the appliances"
for vm in $vms; do vm_stop "$vm"; done
nc down
