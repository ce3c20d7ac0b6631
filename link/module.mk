# link/: moat-link, the vhost-user frame copier between two VMs.
# The datapath core (guest memory, virtqueue, copy, vhost-user messages) is
# one library in three builds; the program adds the io_uring loop.
LINK_CORE := link/guestmem.c link/virtq.c link/copy.c link/vhost_user.c link/guard.c
LINK_PROG := link/main.c link/loop.c link/stats.c link/sandbox.c link/sock.c
LINK_LIBS := -luring -lseccomp

$(B)/liblink.a: $(LINK_CORE:%.c=$(B)/%.o)
	rm -f $@ && ar rcs $@ $^
$(T)/liblink.a: $(LINK_CORE:%.c=$(T)/%.o)
	rm -f $@ && ar rcs $@ $^
$(F)/liblink.a: $(LINK_CORE:%.c=$(F)/%.o)
	rm -f $@ && ar rcs $@ $^

$(B)/moat-link: $(LINK_PROG:%.c=$(B)/%.o) $(B)/liblink.a
	$(CC) $(ALLCFLAGS) -o $@ $^ $(LINK_LIBS)
PROGRAMS += $(B)/moat-link

LINK_TESTS := $(patsubst tests/unit/%.c,$(T)/tests/%,$(wildcard tests/unit/test_link_*.c))
$(LINK_TESTS): $(T)/tests/%: $(T)/tests/unit/%.o $(T)/liblink.a
	$(CC) $(BASEFLAGS) $(SANFLAGS) -o $@ $^ -lcmocka $(LINK_TEST_LIBS)
# the seccomp filter, from the program's own source
$(T)/tests/test_link_sandbox: $(T)/link/sandbox.o
$(T)/tests/test_link_sandbox: LINK_TEST_LIBS := $(LINK_LIBS)
# the listening sockets, listen() and chmod() wrapped to look before each
$(T)/tests/test_link_sock: $(T)/link/sock.o
$(T)/tests/test_link_sock: LINK_TEST_LIBS := -Wl,--wrap=listen -Wl,--wrap=chmod
UNIT_TESTS += $(LINK_TESTS)

LINK_FUZZ := $(patsubst tests/fuzz/%.c,$(F)/%,$(wildcard tests/fuzz/fuzz_link_*.c))
$(LINK_FUZZ): $(F)/%: $(F)/tests/fuzz/%.o $(F)/liblink.a
	$(CLANG) $(BASEFLAGS) $(FUZZFLAGS) -fsanitize=fuzzer -o $@ $(filter %.o,$^) $(filter %.a,$^) $(LINK_FUZZ_LIBS)
# the event loop itself, from the program's source (without main.c)
$(F)/fuzz_link_loop: $(filter-out $(F)/link/main.o,$(LINK_PROG:%.c=$(F)/%.o))
$(F)/fuzz_link_loop: LINK_FUZZ_LIBS := $(LINK_LIBS)
FUZZ_TARGETS += $(LINK_FUZZ)

CHECKS += tests/link/dpdk-interop tests/link/qemu-ipxe tests/link/hostile-frontend tests/link/hostile-resources tests/link/privileges tests/link/siblings tests/link/vhost-state \
	tests/link/qemu-linux tests/link/takeover tests/link/socket-umask
CHECK_DEPS += $(B)/moat-link images

bench-link: $(B)/moat-link
	tests/bench/bench-link $(B)/moat-link

.PHONY: bench-link

