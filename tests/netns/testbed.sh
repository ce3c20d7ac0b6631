# testbed.sh: the firewall VM's world built from network namespaces, for tests
# and the demo. Source it, then call tb_up CONF; tb_down runs on exit, also
# when the script is interrupted or terminated.
#
#   vm-NAME ──veth (MACs of DESIGN.md)──▶ fw ◀──veth "uplink"──▶ up ──veth──▶ net
#   (app VM, one per vm block)     (moat-firewalld)      (the netvm's    (the internet:
#                                                         place: NAT,     echo servers on
#                                                         DNS for tests)  198.51.100.0/24)
#
# Traffic stays between namespaces made here. Every name starts with $TB so
# two runs never meet, and tb_down removes all of it, also after a failure.
#
# Test names the upstream DNS answers: a.test -> 198.51.100.7,
# b.test -> 198.51.100.8, c.test (never resolved by anyone) -> 198.51.100.9.
# Echo servers in "net": TCP 22, 80, 443, 8080 and UDP 5353, 9000 on every
# address of 198.51.100.0/24 that the net namespace holds (.7, .8, .9, .10).

TB=${TB:-mt$$}
TB_DIR=${TB_DIR:-$(mktemp -d /tmp/moat-tb.XXXXXX)}
TB_PIDS=()
TB_NS=()
FIREWALLD=${FIREWALLD:-build/test/moat-firewalld}
NETCTL=${NETCTL:-build/test/netctl}
DNSCONNECT=${DNSCONNECT:-build/test/dnsconnect}
DNSMASQ=${DNSMASQ:-$(command -v dnsmasq || echo /usr/sbin/dnsmasq)}

trap tb_down EXIT
trap 'exit 143' TERM
trap 'exit 130' INT

tb_ns() { echo "$TB-$1"; }
tb_in() { local ns=$1; shift; ip netns exec "$(tb_ns "$ns")" "$@"; }

tb_addns() {
	ip netns add "$(tb_ns "$1")"
	TB_NS+=("$(tb_ns "$1")")
	tb_in "$1" ip link set lo up
}

tb_bg() { # NS LOGNAME CMD...: run in the background, remembered for tb_down
	local ns=$1 log=$2; shift 2
	ip netns exec "$(tb_ns "$ns")" "$@" >"$TB_DIR/$log.log" 2>&1 &
	TB_PIDS+=($!)
}

tb_down() {
	local p ns
	# "|| true" throughout: callers may run with set -e
	for p in "${TB_PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
	for p in "${TB_PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
	for ns in "${TB_NS[@]}"; do
		# anything still running in it (socat children, udhcpc) goes too
		ip netns pids "$ns" 2>/dev/null | xargs -r kill -9 2>/dev/null || true
		ip netns del "$ns" 2>/dev/null || true
		rm -rf "/etc/netns/$ns"
	done
	TB_PIDS=() TB_NS=()
	[ -n "${TB_KEEP:-}" ] || rm -rf "$TB_DIR"
}

# MACs of DESIGN.md for IPv4 a.b.c.d: app 02:6d:61:00:cc:dd, firewall 02:6d:66:00:cc:dd
tb_mac() { # app|fw ADDRESS
	local c d
	IFS=. read -r _ _ c d <<<"$2"
	printf '02:6d:%s:00:%02x:%02x' "$([ "$1" = app ] && echo 61 || echo 66)" "$c" "$d"
}

tb_vms() { # CONF: "name address" per vm block
	awk '/^[ \t]*vm[ \t]+[a-z]/ { name = $2 } name && /^[ \t]*address[ \t]/ { print name, $2; name = "" }' "$1"
}

tb_link_vm() { # NAME ADDRESS: the VM's namespace and its link to the firewall
	local name=$1 addr=$2 n=${#TB_NS[@]}
	tb_addns "vm-$name"
	# `ip netns exec` shows this as the VM's /etc/resolv.conf: the firewall
	mkdir -p "/etc/netns/$(tb_ns "vm-$name")"
	echo "nameserver 10.137.0.1" >"/etc/netns/$(tb_ns "vm-$name")/resolv.conf"
	ip link add "tb$n" address "$(tb_mac fw "$addr")" netns "$(tb_ns fw)" type veth \
		peer name eth0 address "$(tb_mac app "$addr")" netns "$(tb_ns "vm-$name")"
	tb_in "vm-$name" ip link set eth0 up
}

tb_up() { # CONF
	local conf=$1 name addr
	tb_udhcpc_script
	tb_addns fw
	# the kernel rate-limits the ICMP errors a reject sends per destination
	# (1/s): tests that ask twice in a second would read a limit as a drop
	tb_in fw sysctl -qw net.ipv4.icmp_ratelimit=0
	tb_addns up
	tb_addns net
	# the uplink link: firewall side 02:6d:66:ff:ff:01, netvm side 02:6d:6e:ff:ff:01
	ip link add tbup address 02:6d:66:ff:ff:01 netns "$(tb_ns fw)" type veth \
		peer name eth0 address 02:6d:6e:ff:ff:01 netns "$(tb_ns up)"
	tb_in up ip addr add 10.139.0.1/30 dev eth0
	tb_in up ip link set eth0 up
	ip link add wan netns "$(tb_ns up)" type veth peer name eth0 netns "$(tb_ns net)"
	tb_in up ip addr add 192.0.2.1/24 dev wan
	tb_in up ip link set wan up
	tb_in up ip route add 198.51.100.0/24 via 192.0.2.2
	tb_in up ip route add 10.137.0.0/16 via 10.139.0.2   # app VMs are behind the firewall
	tb_in up sysctl -qw net.ipv4.ip_forward=1
	# the netvm's job: NAT what the firewall sends, nothing else comes in
	tb_in up nft -f - <<-'EOF'
	table ip netvm {
		chain post { type nat hook postrouting priority srcnat; oifname "wan" masquerade; }
	}
	EOF
	tb_in net ip addr add 192.0.2.2/24 dev eth0
	for addr in 7 8 9 10 $(seq 100 139); do tb_in net ip addr add "198.51.100.$addr/32" dev lo; done
	tb_in net ip link set eth0 up
	tb_in net ip route add 10.139.0.0/30 via 192.0.2.1
	# the internet's services
	for port in 22 80 443 8080; do
		tb_bg net "tcp$port" socat "TCP-LISTEN:$port,fork,reuseaddr" EXEC:cat
	done
	# UDP answers must come from the address asked: one server per address
	for addr in 7 8 9 10; do
		for port in 5353 9000; do
			tb_bg net "udp$addr-$port" socat "UDP-RECVFROM:$port,bind=198.51.100.$addr,fork,reuseaddr" EXEC:cat
		done
	done
	# the upstream resolver the firewall forwards to (the netvm forwards DNS)
	# rN.race.test: 40 names, 40 addresses, for resolve-then-connect at once;
	# and two of examples/moat.conf's names, for make demo
	if [ -x "$DNSMASQ" ]; then
		local n race=()
		for n in $(seq 100 139); do race+=("--address=/r$n.race.test/198.51.100.$n"); done
		tb_bg up dns "$DNSMASQ" --keep-in-foreground --no-resolv --no-hosts \
			--listen-address=10.139.0.1 --bind-interfaces --pid-file= --user=root \
			--address=/a.test/198.51.100.7 --address=/b.test/198.51.100.8 \
			--address=/c.test/198.51.100.9 "${race[@]}" \
			--address=/shop.example.com/198.51.100.8 --address=/github.com/198.51.100.7 \
			--log-facility=-
	fi
	while read -r name addr; do tb_link_vm "$name" "$addr"; done < <(tb_vms "$conf")
}

# Start moat-firewalld in "fw" with its control socket in TB_DIR; wait for it.
tb_firewalld() {
	TB_CTL=$TB_DIR/fw.ctl
	mkdir -p "$TB_DIR/state" "$TB_DIR/run"
	local dns=none
	[ -x "$DNSMASQ" ] && dns=$DNSMASQ
	tb_bg fw firewalld "$FIREWALLD" --control "$TB_CTL" --state-dir "$TB_DIR/state" \
		--run-dir "$TB_DIR/run" --dnsmasq "$dns"
	TB_FW_PID=${TB_PIDS[-1]}
	for _ in $(seq 200); do [ -S "$TB_CTL" ] && return 0; sleep 0.05; done
	echo "# moat-firewalld did not start:"; sed 's/^/# /' "$TB_DIR/firewalld.log"
	return 1
}

tb_netctl() { "$NETCTL" --control "$TB_CTL" --state-dir "$TB_DIR/state" "$@"; }

# The VM's side as a user would have it: an address by DHCP, or given.
tb_dhcp() { # NAME: udhcpc once; prints the address it got
	tb_in "vm-$1" busybox udhcpc -i eth0 -n -q -f -t 5 -T 1 \
		-s "$TB_DIR/udhcpc.script" >"$TB_DIR/dhcp-$1.log" 2>&1 || return 1
	tb_in "vm-$1" ip -4 -o addr show dev eth0 | awk '{print $4}'
}
tb_static() { # NAME ADDRESS: what DHCP would have given
	tb_in "vm-$1" ip addr add "$2/24" dev eth0
	tb_in "vm-$1" ip route add default via 10.137.0.1
}

# Reachability as the VM sees it: open | refused | unreachable | timeout
tb_tcp() { # VM HOST PORT (HOST an IPv4 or IPv6 address)
	local out to="TCP:$2:$3"
	[[ $2 == *:* ]] && to="TCP6:[$2]:$3"
	out=$(tb_in "vm-$1" timeout 3 socat -T 2 - "$to,connect-timeout=2" <<<"ping" 2>&1)
	case $out in
	ping) echo open ;;
	*"Connection refused"*) echo refused ;;
	*"No route to host"*|*"unreachable"*|*"prohibited"*) echo unreachable ;;
	*) echo timeout ;;
	esac
}
tb_udp() { # VM HOST PORT: echoed | no-answer | unreachable
	local out
	out=$(tb_in "vm-$1" timeout 3 socat -T 1 - "UDP:$2:$3" <<<"ping" 2>&1)
	case $out in
	ping) echo echoed ;;
	*"refused"*|*"unreachable"*|*"No route"*) echo unreachable ;;
	*) echo no-answer ;;
	esac
}
tb_ping() { # VM HOST: answered | no-answer
	if tb_in "vm-$1" busybox ping -c 1 -W 2 "$2" >/dev/null 2>&1; then echo answered; else echo no-answer; fi
}

tb_udhcpc_script() {
	cat >"$TB_DIR/udhcpc.script" <<-'EOF'
	#!/bin/sh
	case "$1" in
	bound|renew)
		ip addr flush dev "$interface"
		ip addr add "$ip/${mask:-24}" dev "$interface"
		[ -n "$router" ] && ip route replace default via "${router%% *}"
		[ -n "$dns" ] && echo "nameserver ${dns%% *}" > "${RESOLV_CONF:-/dev/null}"
		;;
	esac
	EOF
	chmod +x "$TB_DIR/udhcpc.script"
}

# What moat-firewalld's interface code does, by hand with ip(8): for tests of
# the ruleset alone (tests/netns/policy-traffic), without the daemon.
tb_fw_by_hand() { # CONF
	local name addr n=3 dev
	tb_in fw sysctl -qw net.ipv4.ip_forward=1
	while read -r name addr; do
		dev=$(tb_in fw ip -o link | awk -v mac="$(tb_mac fw "$addr")" '$0 ~ mac {sub(/:$/, "", $2); sub(/@.*/, "", $2); print $2}')
		tb_in fw ip link set dev "$dev" name "$name"
		tb_in fw ip addr add 10.137.0.1/24 dev "$name" noprefixroute
		tb_in fw ip link set dev "$name" up
		tb_in fw ip route add "$addr/32" dev "$name"
		tb_in fw sysctl -qw "net.ipv4.conf.$name.proxy_arp=1"
	done < <(tb_vms "$1")
	tb_in fw ip link set tbup name uplink
	tb_in fw ip addr add 10.139.0.2/30 dev uplink
	tb_in fw ip link set uplink up
	tb_in fw ip route add default via 10.139.0.1
}
