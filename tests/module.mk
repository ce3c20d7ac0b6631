# tests/: one cmocka binary per tests/unit/test_*.c, linked against the
# sanitizer build of the library it tests; one libFuzzer binary per
# tests/fuzz/fuzz_*.c; script checks under tests/netns, tests/golden, ...
POLICY_TESTS := $(patsubst tests/unit/%.c,$(T)/tests/%,$(wildcard tests/unit/test_policy*.c))
$(POLICY_TESTS): $(T)/tests/%: $(T)/tests/unit/%.o $(T)/libpolicy.a $(T)/libmoat.a
	$(CC) $(BASEFLAGS) $(SANFLAGS) -o $@ $^ -lcmocka $(NFT_LIBS)
UNIT_TESTS += $(POLICY_TESTS)

POLICY_FUZZ := $(patsubst tests/fuzz/%.c,$(F)/%,$(wildcard tests/fuzz/fuzz_policy*.c))
$(POLICY_FUZZ): $(F)/%: $(F)/tests/fuzz/%.o $(F)/libpolicy.a $(F)/libmoat.a
	$(CLANG) $(BASEFLAGS) $(FUZZFLAGS) -fsanitize=fuzzer -o $@ $^ $(NFT_LIBS)
FUZZ_TARGETS += $(POLICY_FUZZ)

# Script checks: each prints its own result; run-checks counts them.
CHECKS += tests/golden/run
CHECK_DEPS += $(T)/netctl

# nftload: loads a moat.conf into the current netns the way the daemon does
# (netns tests and bench-policy).
$(B)/nftload: $(B)/tests/tools/nftload.o $(B)/libpolicy.a $(B)/libmoat.a
	$(CC) $(ALLCFLAGS) -o $@ $^ $(NFT_LIBS)
$(T)/nftload: $(T)/tests/tools/nftload.o $(T)/libpolicy.a $(T)/libmoat.a
	$(CC) $(BASEFLAGS) $(SANFLAGS) -o $@ $^ $(NFT_LIBS)
CHECKS += tests/netns/policy-load tests/netns/policy-traffic
CHECK_DEPS += $(T)/nftload

bench-policy: $(B)/nftload $(B)/netctl
	tests/bench/bench-policy
.PHONY: bench-policy

update-golden: $(T)/netctl $(T)/tables
	UPDATE=1 tests/golden/run
	UPDATE=1 tests/netns/tables
.PHONY: update-golden

# The firewall daemon driven through netctl in the namespace testbed.
CHECKS += tests/netns/firewalld-traffic tests/netns/firewalld-ipv6 tests/netns/firewalld-attacks tests/netns/fw-floods \
	tests/netns/dns-attacks tests/netns/dhcp6-share tests/netns/dhcp4-clid
CHECK_DEPS += $(T)/moat-firewalld $(T)/netctl $(T)/dnsconnect
$(T)/dnsconnect: $(T)/tests/tools/dnsconnect.o
	$(CC) $(BASEFLAGS) $(SANFLAGS) -o $@ $^

bench-apply: $(B)/moat-firewalld $(B)/netctl
	tests/bench/bench-apply
.PHONY: bench-apply

# The whole chain under QEMU TCG from the images of guest-image/ (needs the
# images: make images).
CHECKS += tests/vm/chain tests/vm/host-isolation tests/vm/images-reproducible
CHECK_DEPS += images $(T)/netctl $(B)/moat-link

# netctl against a compromised appliance (a fake firewall and netvm on the
# control sockets), and the libFuzzer target over netctl's decoding of replies.
CHECKS += tests/netctl/hostile-appliance
CHECK_DEPS += $(T)/netctl
$(F)/fuzz_netctl_reply: $(F)/tests/fuzz/fuzz_netctl_reply.o $(F)/host/netctl-reply.o $(F)/host/netctl-priv.o \
		$(F)/libpolicy.a $(F)/libmoat.a
	$(CLANG) $(BASEFLAGS) $(FUZZFLAGS) -fsanitize=fuzzer -o $@ $^ $(NFT_LIBS)
FUZZ_TARGETS += $(F)/fuzz_netctl_reply

# tests/run-checks itself, against fake tests that must count as passed,
# failed or skipped.
CHECKS += tests/runner/run

# libvirt domain XML as netctl's libvirt hook and attach read it
$(F)/fuzz_libvirt_xml: $(F)/tests/fuzz/fuzz_libvirt_xml.o $(F)/host/netctl-libvirt-xml.o
	$(CLANG) $(BASEFLAGS) $(FUZZFLAGS) -fsanitize=fuzzer -o $@ $^ $(XML_LIBS)
FUZZ_TARGETS += $(F)/fuzz_libvirt_xml

# An app VM run by a libvirtd of the test's own, attached with netctl
# libvirt and started through the hook, across the booted chain.
CHECKS += tests/vm/libvirt
CHECK_DEPS += images $(T)/netctl $(B)/moat-link
$(T)/tests/test_libvirt_xml: $(T)/tests/unit/test_libvirt_xml.o $(T)/host/netctl-libvirt-xml.o
	$(CC) $(BASEFLAGS) $(SANFLAGS) -o $@ $^ -lcmocka $(XML_LIBS)
UNIT_TESTS += $(T)/tests/test_libvirt_xml
