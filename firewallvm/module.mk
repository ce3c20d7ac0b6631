# firewallvm/: moat-firewalld, the firewall VM's daemon, and the control
# channel framing it shares with netctl (lib/ctl.c).
$(T)/tests/test_ctl: $(T)/tests/unit/test_ctl.o $(T)/lib/ctl.o
	$(CC) $(BASEFLAGS) $(SANFLAGS) -o $@ $^ -lcmocka
UNIT_TESTS += $(T)/tests/test_ctl

$(F)/fuzz_ctl: $(F)/tests/fuzz/fuzz_ctl.o $(F)/lib/ctl.o
	$(CLANG) $(BASEFLAGS) $(FUZZFLAGS) -fsanitize=fuzzer -o $@ $^
FUZZ_TARGETS += $(F)/fuzz_ctl

