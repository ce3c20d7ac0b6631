# host/: make install, the systemd units, and the host checks.
PREFIX  ?= /usr/local
DESTDIR ?=
BINDIR  := $(PREFIX)/bin
UNITDIR ?= $(PREFIX)/lib/systemd/system
SYSUSERSDIR ?= $(PREFIX)/lib/sysusers.d
INSTALL_PROGRAMS = $(filter-out $(B)/nftload,$(PROGRAMS))

install: programs
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(UNITDIR) $(DESTDIR)$(SYSUSERSDIR) $(DESTDIR)$(PREFIX)/share/moat \
		$(DESTDIR)/etc/moat
	install -m 0755 $(INSTALL_PROGRAMS) $(DESTDIR)$(BINDIR)/
	sed 's|@BINDIR@|$(BINDIR)|g' host/systemd/moat.service >$(DESTDIR)$(UNITDIR)/moat.service
	chmod 0644 $(DESTDIR)$(UNITDIR)/moat.service
	install -m 0644 host/systemd/moat-sysusers.conf $(DESTDIR)$(SYSUSERSDIR)/moat.conf
	install -m 0644 host/systemd/moat-vm.conf $(DESTDIR)$(PREFIX)/share/moat/moat-vm.conf
	install -m 0644 examples/moat.conf $(DESTDIR)/etc/moat/moat.conf.example
.PHONY: install

HOST_TEST_SRCS := host/netctl-qemu.c host/netctl-vfio.c host/netctl-qmp.c host/netctl-logkeep.c host/netctl-priv.c lib/spawn.c
HOST_TESTS := $(patsubst tests/unit/%.c,$(T)/tests/%,$(wildcard tests/unit/test_host_*.c))
$(HOST_TESTS): $(T)/tests/%: $(T)/tests/unit/%.o $(HOST_TEST_SRCS:%.c=$(T)/%.o) $(T)/libpolicy.a $(T)/libmoat.a
	$(CC) $(BASEFLAGS) $(SANFLAGS) -o $@ $^ -lcmocka $(NFT_LIBS)
UNIT_TESTS += $(HOST_TESTS)

CHECKS += tests/host/install tests/host/up-down tests/host/hotplug tests/host/supervise
CHECK_DEPS += $(T)/netctl $(B)/moat-link $(T)/moat-firewalld
# who runs what once the appliances are booted (needs the images)
CHECKS += tests/host/confinement
CHECK_DEPS += images
