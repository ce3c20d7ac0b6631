# Sourced by tests that boot the test app VM image (guest-image/build testvm)
# under QEMU TCG: vm_start, vm_sh (a command in the guest's shell), vm_stop.
# The caller owns $dir (scratch) and the pids+=() cleanup (tests/link/lib.sh
# style); each VM's console goes to $dir/NAME.console.
IMAGES=${IMAGES:-build/images}
VM_MB=${VM_MB:-128}
VM_ACCEL=${VM_ACCEL:-tcg}

# vm_image_ok: the test VM image is built
vm_image_ok() { [ -r "$IMAGES/testvm/vmlinuz" ] && [ -r "$IMAGES/testvm/initrd.img" ]; }

# vm_start NAME APPEND ARGS...: boot the test VM NAME with APPEND added to
# its kernel command line and ARGS (its NIC, and the shared memory vhost-user
# needs: `netctl vm-args VM --memory ${VM_MB}M` gives both); its pid goes in
# vm_pid_NAME (and pids). With VM_USER=USER[:GROUPS] (GROUPS: comma-separated
# supplementary groups) QEMU runs as that user with no capabilities, the way
# a desktop user or libvirt's runs it; its files are then in $dir/NAME.d/,
# which that user owns, with links to them at $dir/NAME.{console,sh}.
vm_start() {
	local name=$1 append=$2 con=$dir/$1.console sh=$dir/$1.sh runas=(); shift 2
	rm -rf "$con" "$sh" "$dir/$name.d"
	if [ -n "${VM_USER:-}" ]; then
		local user=${VM_USER%%:*} groups=
		[ "$user" != "$VM_USER" ] && groups=${VM_USER#*:}
		mkdir "$dir/$name.d" && chown "$user" "$dir/$name.d" && chmod 0700 "$dir/$name.d"
		ln -s "$name.d/console" "$con"
		ln -s "$name.d/sh" "$sh"
		con=$dir/$name.d/console sh=$dir/$name.d/sh
		runas=(setpriv --reuid="$user" --regid="$(id -g "$user")" --inh-caps=-all --bounding-set=-all
			--no-new-privs)
		if [ -n "$groups" ]; then runas+=(--groups="$groups"); else runas+=(--clear-groups); fi
	fi
	"${runas[@]}" qemu-system-x86_64 -accel "$VM_ACCEL" -machine q35 -m "$VM_MB" \
		-nodefaults -no-user-config -display none -monitor none \
		-kernel "$IMAGES/testvm/vmlinuz" -initrd "$IMAGES/testvm/initrd.img" \
		-append "console=ttyS0 quiet panic=-1 $append" \
		-serial "file:$con" -serial "unix:$sh,server=on,wait=off" \
		"$@" >"$dir/$name.qemu" 2>&1 &
	printf -v "vm_pid_$name" %s "$!"
	pids+=("$!")
}

# vm_up NAME SECONDS: the guest has booted and its shell answers
vm_up() {
	local end=$((SECONDS + $2))
	until grep -q "testvm: up" "$dir/$1.console" 2>/dev/null; do
		[ $SECONDS -ge $end ] && return 1
		sleep 0.5
	done
	vm_sh "$1" $((end - SECONDS + 5)) true
}

# vm_sh NAME SECONDS CMD: CMD's output and status, from inside the guest
vm_sh() { tests/vm/guest-sh "$dir/$1.sh" "$2" "$3"; }

# vm_stop NAME: kill it (no shutdown: the test is about what survives that)
vm_stop() {
	local v="vm_pid_$1"
	kill -9 "${!v}" 2>/dev/null
	wait "${!v}" 2>/dev/null
	return 0
}

# vm_console NAME: its console's last lines, as TAP comments
vm_console() { tail -n "${2:-15}" "$dir/$1.console" 2>/dev/null | sed "s/^/# $1: /"; }

# vm_accel_probe: "kvm" if a test VM boots under KVM within 20 s, else "tcg"
# (some hosts open /dev/kvm and create VMs whose guests then hang)
vm_accel_probe() {
	[ -w /dev/kvm ] || { echo tcg; return; }
	local dir pids=() VM_ACCEL=kvm accel=tcg
	dir=$(mktemp -d /tmp/moat-kvm.XXXXXX)
	vm_start probe ""
	local end=$((SECONDS + 20))
	while [ $SECONDS -lt $end ]; do
		grep -q "testvm: up" "$dir/probe.console" 2>/dev/null && { accel=kvm; break; }
		kill -0 "$vm_pid_probe" 2>/dev/null || break
		sleep 0.5
	done
	vm_stop probe
	rm -rf "$dir"
	echo "$accel"
}

# qmp_info_network SOCKET: `info network` of the QEMU whose QMP socket that is
qmp_info_network() {
	python3 - "$1" <<-'PY'
	import json, socket, sys
	s = socket.socket(socket.AF_UNIX); s.settimeout(10); s.connect(sys.argv[1])
	f = s.makefile("rw")
	f.readline()
	def ask(cmd, **args):
	    f.write(json.dumps({"execute": cmd, "arguments": args}) + "\n"); f.flush()
	    while True:
	        r = json.loads(f.readline())
	        if "return" in r or "error" in r:
	            return r
	ask("qmp_capabilities")
	print(ask("human-monitor-command", **{"command-line": "info network"})["return"])
	PY
}
