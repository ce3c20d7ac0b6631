# Sourced by the tests that start links with netctl up: netctl gives
# moat-link --user, --a-owner/--b-owner and --a-mem-max/--b-mem-max (issue
# 11). A moat-link without them cannot start; say so instead of failing
# somewhere later. $MOAT_LINK is the moat-link netctl runs.
link_priv_ok() {
	local out
	out=$("$MOAT_LINK" --user "$(id -un)" --a-owner root --b-owner root --a-mem-max 1 --b-mem-max 1 2>&1)
	case $out in *"unrecognized option"*|*"unknown option"*|*"invalid option"*) return 1 ;; esac
	return 0
}
link_priv_required() {
	link_priv_ok && return 0
	echo "not ok 1 - $MOAT_LINK lacks --user/--a-owner/--b-owner/--a-mem-max/--b-mem-max, which netctl up passes (moat-link's side of issue 11)"
	exit 1
}
