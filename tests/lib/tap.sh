# tests/lib/tap.sh: TAP output for the shell tests (sourced from the top of
# the tree). n counts the tests; a script ends with tap_done, so one that
# stops early has no plan and run-checks counts it as failed.
n=0
ok() { n=$((n + 1)); echo "ok $n - $*"; }
notok() { n=$((n + 1)); echo "not ok $n - $*"; }
not_ok() { notok "$@"; }	# the spelling some scripts use
# skip WHAT WHY: a test not run, and why
skip() { n=$((n + 1)); echo "ok $n - $1 # SKIP $2"; }
# check WHAT CMD...: ok when CMD succeeds
check() { local what=$1; shift; if "$@"; then ok "$what"; else notok "$what"; fi; }
tap_done() { echo "1..$n"; }
# skip_all WHY: the whole script cannot run here
skip_all() { echo "1..0 # SKIP $*"; exit 0; }

# wait_for SECONDS CMD...: runs CMD every 0.1 s until it succeeds or SECONDS
# (may be fractional) have passed; CMD's last status
wait_for() {
	local now end rc
	now=${EPOCHREALTIME/./}
	end=$((now + $(awk -v s="$1" 'BEGIN { printf "%d", s * 1000000 }')))
	shift
	while :; do
		"$@" && return 0
		rc=$?
		now=${EPOCHREALTIME/./}
		[ "$now" -lt "$end" ] || return $rc
		sleep 0.1
	done
}
