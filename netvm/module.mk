# netvm/: moat-netd, the network VM's daemon. It sends its batches through
# policy/'s nl_batch and nft_sock (libpolicy.a) and speaks lib/ctl.c.
NETD_SRCS := $(wildcard netvm/*.c)
NETD_LIBS := $(NFT_LIBS) $(LIBNL_LIBS)
NETD_CFLAGS := $(LIBNL_CFLAGS)

$(NETD_SRCS:%.c=$(B)/%.o) $(NETD_SRCS:%.c=$(T)/%.o) $(NETD_SRCS:%.c=$(F)/%.o): BASEFLAGS += $(NETD_CFLAGS)
$(T)/tests/unit/test_netd_%.o $(F)/tests/fuzz/fuzz_netd_%.o: BASEFLAGS += $(NETD_CFLAGS)

$(B)/moat-netd: $(NETD_SRCS:%.c=$(B)/%.o) $(B)/libpolicy.a $(B)/libmoat.a
	$(CC) $(ALLCFLAGS) -o $@ $^ $(NETD_LIBS)
$(T)/moat-netd: $(NETD_SRCS:%.c=$(T)/%.o) $(T)/libpolicy.a $(T)/libmoat.a
	$(CC) $(BASEFLAGS) $(SANFLAGS) -o $@ $^ $(NETD_LIBS)
PROGRAMS += $(B)/moat-netd

$(T)/tests/test_netd_lease: $(T)/tests/unit/test_netd_lease.o $(T)/netvm/lease.o
	$(CC) $(BASEFLAGS) $(SANFLAGS) -o $@ $^ -lcmocka
$(T)/tests/test_netd_ruleset: $(T)/tests/unit/test_netd_ruleset.o $(T)/netvm/ruleset.o $(T)/netvm/hostaddrs.o \
		$(T)/libpolicy.a $(T)/libmoat.a
	$(CC) $(BASEFLAGS) $(SANFLAGS) -o $@ $^ -lcmocka $(NFT_LIBS)
UNIT_TESTS += $(T)/tests/test_netd_lease $(T)/tests/test_netd_ruleset

$(F)/fuzz_netd_lease: $(F)/tests/fuzz/fuzz_netd_lease.o $(F)/netvm/lease.o
	$(CLANG) $(BASEFLAGS) $(FUZZFLAGS) -fsanitize=fuzzer -o $@ $^
$(F)/fuzz_netd_hostaddrs: $(F)/tests/fuzz/fuzz_netd_hostaddrs.o $(F)/netvm/hostaddrs.o
	$(CLANG) $(BASEFLAGS) $(FUZZFLAGS) -fsanitize=fuzzer -o $@ $^
FUZZ_TARGETS += $(F)/fuzz_netd_lease $(F)/fuzz_netd_hostaddrs

# tables: the netvm's tables and the host's moat_host as nft text, and
# loaded as their owners load them (tests/netns/tables)
TABLES_OBJS := netvm/ruleset.o netvm/hostaddrs.o host/netctl-hostguard.o
$(T)/tables: $(T)/tests/tools/tables.o $(TABLES_OBJS:%=$(T)/%) $(T)/libpolicy.a $(T)/libmoat.a
	$(CC) $(BASEFLAGS) $(SANFLAGS) -o $@ $^ $(NFT_LIBS)
$(T)/tests/tools/tables.o: BASEFLAGS += $(NETD_CFLAGS)

CHECKS += tests/netns/netd tests/netns/tables
CHECK_DEPS += $(T)/moat-netd $(T)/tables
