# Shared by the moat-link scripts: a scratch dir, process cleanup, TAP output,
# dpdk-testpmd driven through a fifo. Everything started here is stopped on
# exit, also on failure.
set -u
. tests/lib/tap.sh
LINK=${LINK:-build/moat-link}
dir=$(mktemp -d /tmp/moat-link-test.XXXXXX)
pids=()
prefixes=()
cleanup() {
	for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null; done
	wait 2>/dev/null
	for p in "${prefixes[@]}"; do rm -rf "/var/run/dpdk/$p"; done
	[ -n "${KEEP:-}" ] && echo "# kept $dir" || rm -rf "$dir"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

# has_text FILE PATTERN [COUNT]: PATTERN (any case) on COUNT lines of FILE
has_text() { [ "$(grep -ci -- "$2" "$1" 2>/dev/null || true)" -ge "${3:-1}" ]; }

# start_link NAME: moat-link on $dir/NAME-{a,b,stats}.sock, pid in link_pid
start_link() {
	"$LINK" --name "$1" --a "$dir/$1-a.sock" --b "$dir/$1-b.sock" --stats "$dir/$1-stats.sock" \
		2>"$dir/$1.err" &
	link_pid=$!
	pids+=("$link_pid")
	wait_for 5 test -S "$dir/$1-stats.sock"
}

# link_stat NAME PATH.IN.JSON: one counter from the stats socket
link_stat() {
	python3 -c '
import json, socket, sys
s = socket.socket(socket.AF_UNIX); s.settimeout(3); s.connect(sys.argv[1])
d = b""
while True:
    b = s.recv(4096)
    if not b: break
    d += b
v = json.loads(d)
for k in sys.argv[2].split("."): v = v[k]
print(str(v).lower())' "$dir/$1-stats.sock" "$2"
}

cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }

# testpmd_start TAG ARGS...: testpmd reading commands from $dir/TAG.in,
# writing to $dir/TAG.out; tp_pid set
testpmd_start() {
	local tag=$1; shift
	local prefix="moatlink$$$tag"
	prefixes+=("$prefix")
	mkfifo "$dir/$tag.in"
	stdbuf -oL dpdk-testpmd --no-huge -m 256 --no-pci --no-telemetry \
		--file-prefix="$prefix" "$@" <"$dir/$tag.in" >"$dir/$tag.out" 2>&1 &
	tp_pid=$!
	pids+=("$tp_pid")
	exec {tp_fd}>"$dir/$tag.in"
}
tp() { echo "$*" >&"$tp_fd"; }

# port_stat TAG PORT FIELD: last "show port stats" value, e.g. TX-packets
port_stat() {
	python3 -c '
import re, sys
text = open(sys.argv[1], errors="replace").read()
blocks = re.findall(r"NIC statistics for port (\d+)\s+#+(.*?)#{10}", text, re.S)
last = {}
for port, body in blocks: last[port] = body
m = re.search(re.escape(sys.argv[3]) + r":\s*(\d+)", last.get(sys.argv[2], ""))
print(m.group(1) if m else -1)' "$dir/$1.out" "$2" "$3"
}

# a pcap file with no frames, for a net_pcap port that only writes
empty_pcap() {
	python3 -c 'import struct, sys; open(sys.argv[1], "wb").write(struct.pack("<IHHiIII", 0xa1b2c3d4, 2, 4, 0, 0, 65535, 1))' "$1"
}

# prints "CMD ARGS" VALUE: CMD prints VALUE (for wait_for)
prints() { [ "$($1)" = "$2" ]; }
# at_least "CMD ARGS" N: CMD prints a number >= N
at_least() { local v; v=$($1) && [ "${v:-0}" -ge "$2" ] 2>/dev/null; }
