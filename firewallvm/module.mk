# firewallvm/: moat-firewalld, the firewall VM's daemon, and the control
# channel framing it shares with netctl (lib/ctl.c).
FW_SRCS := $(wildcard firewallvm/*.c)
FW_LIBS := $(NFT_LIBS) $(LIBNL_LIBS)
FW_CFLAGS := $(LIBNL_CFLAGS)

$(FW_SRCS:%.c=$(B)/%.o) $(FW_SRCS:%.c=$(T)/%.o): BASEFLAGS += $(FW_CFLAGS)

$(B)/moat-firewalld: $(FW_SRCS:%.c=$(B)/%.o) $(B)/libpolicy.a $(B)/libmoat.a
	$(CC) $(ALLCFLAGS) -o $@ $^ $(FW_LIBS)
$(T)/moat-firewalld: $(FW_SRCS:%.c=$(T)/%.o) $(T)/libpolicy.a $(T)/libmoat.a
	$(CC) $(BASEFLAGS) $(SANFLAGS) -o $@ $^ $(FW_LIBS)
PROGRAMS += $(B)/moat-firewalld
CHECK_DEPS += $(T)/moat-firewalld $(T)/netctl $(T)/nftload

$(T)/tests/test_ctl: $(T)/tests/unit/test_ctl.o $(T)/libmoat.a
	$(CC) $(BASEFLAGS) $(SANFLAGS) -o $@ $^ -lcmocka
UNIT_TESTS += $(T)/tests/test_ctl

$(T)/tests/test_ctlserver: $(T)/tests/unit/test_ctlserver.o $(T)/libmoat.a
	$(CC) $(BASEFLAGS) $(SANFLAGS) -o $@ $^ -lcmocka
UNIT_TESTS += $(T)/tests/test_ctlserver

$(T)/tests/test_lib_spawn: $(T)/tests/unit/test_lib_spawn.o $(T)/libmoat.a
	$(CC) $(BASEFLAGS) $(SANFLAGS) -o $@ $^ -lcmocka
UNIT_TESTS += $(T)/tests/test_lib_spawn

$(F)/fuzz_ctl: $(F)/tests/fuzz/fuzz_ctl.o $(F)/libmoat.a
	$(CLANG) $(BASEFLAGS) $(FUZZFLAGS) -fsanitize=fuzzer -o $@ $^
FUZZ_TARGETS += $(F)/fuzz_ctl

CHECKS += tests/netns/firewalld-basic tests/netns/firewalld-children tests/netns/firewalld-limits

# dhcp6.c: the RA and DHCPv6 answers, pure functions of what a VM sent
$(T)/tests/test_fw_dhcp6: $(T)/tests/unit/test_fw_dhcp6.o $(T)/firewallvm/dhcp6.o
	$(CC) $(BASEFLAGS) $(SANFLAGS) -o $@ $^ -lcmocka
UNIT_TESTS += $(T)/tests/test_fw_dhcp6
$(F)/fuzz_fw_dhcp6: $(F)/tests/fuzz/fuzz_fw_dhcp6.o $(F)/firewallvm/dhcp6.o
	$(CLANG) $(BASEFLAGS) $(FUZZFLAGS) -fsanitize=fuzzer -o $@ $^
FUZZ_TARGETS += $(F)/fuzz_fw_dhcp6

# dhcp4.c: whether a VM's DHCPv4 message speaks for its own MAC, a pure
# function of its bytes
$(T)/tests/test_fw_dhcp4: $(T)/tests/unit/test_fw_dhcp4.o $(T)/firewallvm/dhcp4.o
	$(CC) $(BASEFLAGS) $(SANFLAGS) -o $@ $^ -lcmocka
UNIT_TESTS += $(T)/tests/test_fw_dhcp4
$(F)/fuzz_fw_dhcp4: $(F)/tests/fuzz/fuzz_fw_dhcp4.o $(F)/firewallvm/dhcp4.o
	$(CLANG) $(BASEFLAGS) $(FUZZFLAGS) -fsanitize=fuzzer -o $@ $^
FUZZ_TARGETS += $(F)/fuzz_fw_dhcp4
