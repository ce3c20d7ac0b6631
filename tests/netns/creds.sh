# creds.sh: run commands with the exact credentials of a running process
# (uid, gid, groups, capabilities; inside its user namespace when it has one
# of its own, where its capabilities are what they are) in its network
# namespace, to show what that process could do. Source it, then
#   creds_of PID; as_creds CMD...; creds_differ (prints how, or nothing)
# Needs nsenter, setpriv and capsh.

creds_of() { # PID
	CREDS_PID=$1 CREDS_USERNS=() CREDS_NS=(-n)
	[ "$(readlink "/proc/$1/ns/user")" != "$(readlink /proc/self/ns/user)" ] &&
		CREDS_USERNS=(nsenter -t "$1" -U) CREDS_NS=(-U -n)
	CREDS_UID=$(creds_field Uid | awk '{print $1}')
	CREDS_GID=$(creds_field Gid | awk '{print $1}')
	local groups
	groups=$(creds_field Groups)
	CREDS_GROUPS=(--clear-groups)
	[ -n "$groups" ] && CREDS_GROUPS=(--groups "$(tr ' ' , <<<"$groups")")
	CREDS_EFF=$(creds_caps CapEff) CREDS_BND=$(creds_caps CapBnd)
}
creds_status() { "${CREDS_USERNS[@]}" cat "/proc/$CREDS_PID/status"; }
creds_field() { creds_status | awk -v k="$1:" '$1 == k {$1 = ""; sub(/^ /, ""); print}'; }
creds_caps() { capsh --decode="$(creds_field "$1")" | sed 's/^0x[0-9a-f]*=//; s/cap_//g'; }

as_creds() { # CMD...
	local ic=-all bs=-all
	[ -n "$CREDS_EFF" ] && ic="-all,+${CREDS_EFF//,/,+}"
	[ -n "$CREDS_BND" ] && bs="-all,+${CREDS_BND//,/,+}"
	# groups in the namespace we start from; capabilities carried over the
	# exec as ambient ones
	setpriv "${CREDS_GROUPS[@]}" nsenter -t "$CREDS_PID" "${CREDS_NS[@]}" \
		setpriv --reuid "$CREDS_UID" --regid "$CREDS_GID" --keep-groups \
		--inh-caps "$ic" --ambient-caps "$ic" --bounding-set "$bs" "$@"
}

creds_differ() {
	local re='^(Uid|Gid|Groups|CapPrm|CapEff|CapBnd):'
	diff <(creds_status | grep -E "$re") <(as_creds cat /proc/self/status | grep -E "$re") |
		grep '^[<>]' | tr '\n' '|'
}

# as_creds CMD... must fail as not permitted: "refused" or what happened
creds_refused() {
	local out rc
	out=$(as_creds "$@" 2>&1); rc=$?
	if [ $rc -ne 0 ] && grep -qiE "not permitted|must be root or get CAP_NET_ADMIN" <<<"$out"; then
		echo refused
	else
		echo "rc $rc: $(head -2 <<<"$out" | tr '\n' '|')"
	fi
}
