# firewallvm/peripherals.mk: tests of moat-firewalld's peripheral parts
# (ifaces.c, dnsmasq.c, nflog.c, counters.c, names.c, nfqueue.c, dhcp4q.c):
# unit tests, the NFLOG fuzz
# target, and the netns check driven by tests/tools/fwparts.
FWP_SRCS := firewallvm/ifaces.c firewallvm/dnsmasq.c firewallvm/nflog.c firewallvm/counters.c \
	firewallvm/names.c firewallvm/nfqueue.c firewallvm/dnsanswer.c firewallvm/dhcp4q.c \
	firewallvm/dhcp4.c
FWP_CFLAGS := $(shell pkg-config --cflags libnl-3.0 libnl-route-3.0 2>/dev/null || echo -I/usr/include/libnl3)
FWP_LIBS := $(NFT_LIBS) $(shell pkg-config --libs libnl-3.0 libnl-route-3.0 2>/dev/null || echo -lnl-route-3 -lnl-3)

$(FWP_SRCS:%.c=$(T)/%.o) $(FWP_SRCS:%.c=$(F)/%.o) $(T)/tests/tools/fwparts.o: BASEFLAGS += $(FWP_CFLAGS)

FWP_TESTS := $(T)/tests/test_fw_dnsmasq $(T)/tests/test_fw_nflog $(T)/tests/test_fw_dnsanswer
$(FWP_TESTS): $(T)/tests/%: $(T)/tests/unit/%.o $(FWP_SRCS:%.c=$(T)/%.o) $(T)/libpolicy.a $(T)/libmoat.a
	$(CC) $(BASEFLAGS) $(SANFLAGS) -o $@ $^ -lcmocka $(FWP_LIBS)
UNIT_TESTS += $(FWP_TESTS)

$(F)/fuzz_nflog: $(F)/tests/fuzz/fuzz_nflog.o $(F)/firewallvm/nflog.o $(F)/libpolicy.a $(F)/libmoat.a
	$(CLANG) $(BASEFLAGS) $(FUZZFLAGS) -fsanitize=fuzzer -o $@ $^ $(NFT_LIBS)
FUZZ_TARGETS += $(F)/fuzz_nflog

$(F)/fuzz_dnsanswer: $(F)/tests/fuzz/fuzz_dnsanswer.o $(F)/firewallvm/dnsanswer.o
	$(CLANG) $(BASEFLAGS) $(FUZZFLAGS) -fsanitize=fuzzer -o $@ $^
FUZZ_TARGETS += $(F)/fuzz_dnsanswer

$(T)/fwparts: $(T)/tests/tools/fwparts.o $(FWP_SRCS:%.c=$(T)/%.o) $(T)/libpolicy.a $(T)/libmoat.a
	$(CC) $(BASEFLAGS) $(SANFLAGS) -o $@ $^ $(FWP_LIBS)
CHECKS += tests/netns/firewalld-parts
CHECK_DEPS += $(T)/fwparts
