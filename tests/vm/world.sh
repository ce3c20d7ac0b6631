# Sourced by tests/vm/chain and make demo: "the internet" the netvm's NIC
# reaches, made in a network namespace of its own (nothing leaves it).
#   world_up NS TAP DIR   the namespace NS with tap TAP (the netvm's NIC; QEMU
#                         opens it from inside NS) bridged to the namespace
#                         NS-far, the internet: 203.0.113.1/24 as the ISP's
#                         router with DHCP and DNS, test hosts:
#                           203.0.113.80  web.test
#                           203.0.113.22  github.com
#                           203.0.113.44  shop.example.com
#                           203.0.113.99  imap.example.org
#                           192.168.1.10  a LAN host
#                         each serving TCP 22, 80, 443, 993 (what is sent is
#                         echoed back; port 80 and 8000 answer HTTP with
#                         "hello from web.test"). NS is where netctl runs, so
#                         to the netvm it is the host: it has no address but
#                         loopback, and nothing in it is the internet.
#   world_down            stops all of it
# and, for a chain whose state is in $dir (moat.conf, s/, fw.ctl):
#   nc ARGS...            netctl on it, inside the world's namespace (QEMU
#                         opens the netvm's tap from there)
#   chain_down            netctl down, then whatever is left: the VMs whose
#                         pids are in pids, anything with a pidfile, the world
world_up() {
	WORLD_NS=$1 WORLD_TAP=$2 WORLD_DIR=$3 WORLD_FAR=$1-far
	local a far=$1-far
	ip netns add "$WORLD_NS" || return 1
	ip netns add "$far" || return 1
	ip -n "$WORLD_NS" link set lo up
	ip -n "$far" link set lo up
	ip -n "$WORLD_NS" tuntap add dev "$WORLD_TAP" mode tap
	ip -n "$WORLD_NS" link add wbr0 type bridge
	ip link add wv0 netns "$WORLD_NS" type veth peer name eth0 netns "$far"
	for a in "$WORLD_TAP" wv0; do ip -n "$WORLD_NS" link set "$a" master wbr0 up; done
	ip -n "$WORLD_NS" link set wbr0 up
	ip -n "$far" link set eth0 up
	ip -n "$far" addr add 203.0.113.1/24 dev eth0
	for a in 203.0.113.80 203.0.113.22 203.0.113.44 203.0.113.99; do
		ip -n "$far" addr add "$a/24" dev eth0
	done
	# the LAN host sits behind the "router" too: the netvm's traffic to it
	# goes to its gateway, 203.0.113.1, which is NS-far
	ip -n "$far" addr add 192.168.1.10/32 dev lo
	mkdir -p "$WORLD_DIR/www"
	echo "hello from web.test" >"$WORLD_DIR/www/index.html"
	ip netns exec "$far" busybox httpd -f -p 80 -h "$WORLD_DIR/www" &
	WORLD_PIDS=($!)
	disown $!   # no "Killed" line when world_down stops it
	for a in 22 443 993; do
		ip netns exec "$far" socat "TCP-LISTEN:$a,fork,reuseaddr" EXEC:cat &
		WORLD_PIDS+=($!)
		disown $!
	done
	ip netns exec "$far" dnsmasq --keep-in-foreground --conf-file=/dev/null --no-resolv --no-hosts \
		--user=root --interface=eth0 --bind-interfaces --pid-file= \
		--dhcp-leasefile="$WORLD_DIR/world.leases" --dhcp-range=203.0.113.10,203.0.113.20,1h \
		--address=/web.test/203.0.113.80 --address=/github.com/203.0.113.22 \
		--address=/shop.example.com/203.0.113.44 --address=/imap.example.org/203.0.113.99 \
		--log-facility="$WORLD_DIR/world-dnsmasq.log" &
	WORLD_PIDS+=($!)
	disown $!
}

world_down() {
	[ -n "${WORLD_NS:-}" ] || return 0
	kill -9 "${WORLD_PIDS[@]}" 2>/dev/null
	local p ns
	for ns in "$WORLD_NS" "$WORLD_FAR"; do ip netns pids "$ns" 2>/dev/null | xargs -r kill -9 2>/dev/null; done
	for p in "${WORLD_PIDS[@]}"; do while kill -0 "$p" 2>/dev/null; do sleep 0.05; done; done
	ip netns del "$WORLD_NS" 2>/dev/null
	ip netns del "$WORLD_FAR" 2>/dev/null
	WORLD_NS=
}

nc() { ip netns exec "$WORLD_NS" "$NETCTL" -c "$dir/moat.conf" --state-dir "$dir/s" --control "$dir/fw.ctl" "$@"; }

chain_down() {
	[ -n "${WORLD_NS:-}" ] && nc down >/dev/null 2>&1
	local p f
	for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null; done
	for f in "$dir"/s/run/*.pid; do [ -f "$f" ] && kill -9 "$(cat "$f")" 2>/dev/null; done
	world_down
	wait 2>/dev/null
}
