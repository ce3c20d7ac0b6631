# host/: make install, the systemd units, and the host checks.
# make install and make deb (packaging/module.mk) install the same set:
# the host programs, the appliance images, the units and sysusers file, the
# example config, man pages, bash completion and the docs.
PREFIX  ?= /usr/local
DESTDIR ?=
BINDIR  := $(PREFIX)/bin
UNITDIR ?= $(PREFIX)/lib/systemd/system
SYSUSERSDIR ?= $(PREFIX)/lib/sysusers.d
MANDIR  ?= $(PREFIX)/share/man
DOCDIR  ?= $(PREFIX)/share/doc/moat
COMPLETIONDIR ?= $(PREFIX)/share/bash-completion/completions
# libvirt runs every file of qemu.d (a fixed path, whatever the PREFIX)
LIBVIRTHOOKDIR ?= /etc/libvirt/hooks/qemu.d
# netctl up looks here unless told --images DIR (host/netctl-up.c
# DEFAULT_IMAGES), so the images go here whatever the PREFIX
IMAGEDIR ?= /usr/lib/moat/images
# the appliances' images to install (the test VM image stays in build/)
INSTALL_IMAGES := netvm firewallvm
# where they are taken from: this tree's make images, or another tree's
IMAGES_FROM ?= $(B)/images
# moat-firewalld and moat-netd run inside the images, not on the host
INSTALL_PROGRAMS = $(B)/netctl $(B)/moat-link
MAN_PAGES := $(wildcard docs/man/*.[1-8])
INSTALL_DOCS := README.md docs/design.md docs/moat-conf.md

install: programs $(IMAGES_FROM)/.built
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(UNITDIR) $(DESTDIR)$(SYSUSERSDIR) $(DESTDIR)$(PREFIX)/share/moat \
		$(DESTDIR)/etc/moat $(DESTDIR)$(MANDIR)/man5 $(DESTDIR)$(MANDIR)/man8 $(DESTDIR)$(DOCDIR) \
		$(DESTDIR)$(COMPLETIONDIR) $(DESTDIR)$(LIBVIRTHOOKDIR) $(INSTALL_IMAGES:%=$(DESTDIR)$(IMAGEDIR)/%)
	install -m 0755 $(INSTALL_PROGRAMS) $(DESTDIR)$(BINDIR)/
	sed -e 's|@BINDIR@|$(BINDIR)|g' -e 's|@DOCDIR@|$(DOCDIR)|g' host/systemd/moat.service \
		>$(DESTDIR)$(UNITDIR)/moat.service
	chmod 0644 $(DESTDIR)$(UNITDIR)/moat.service
	sed -e 's|@BINDIR@|$(BINDIR)|g' host/libvirt/qemu-hook >$(DESTDIR)$(LIBVIRTHOOKDIR)/moat
	chmod 0755 $(DESTDIR)$(LIBVIRTHOOKDIR)/moat
	install -m 0644 host/systemd/moat-sysusers.conf $(DESTDIR)$(SYSUSERSDIR)/moat.conf
	install -m 0644 host/systemd/moat-vm.conf $(DESTDIR)$(PREFIX)/share/moat/moat-vm.conf
	install -m 0644 examples/moat.conf $(DESTDIR)/etc/moat/moat.conf.example
	for i in $(INSTALL_IMAGES); do \
		install -m 0644 $(IMAGES_FROM)/$$i/vmlinuz $(IMAGES_FROM)/$$i/initrd.img $(IMAGES_FROM)/$$i/manifest \
			$(DESTDIR)$(IMAGEDIR)/$$i/ || exit 1; \
	done
	for m in $(MAN_PAGES); do \
		s=$${m##*.}; gzip -9n <$$m >$(DESTDIR)$(MANDIR)/man$$s/$${m##*/}.gz && \
			chmod 0644 $(DESTDIR)$(MANDIR)/man$$s/$${m##*/}.gz || exit 1; \
	done
	install -m 0644 host/netctl.bash-completion $(DESTDIR)$(COMPLETIONDIR)/netctl
	install -m 0644 $(INSTALL_DOCS) $(DESTDIR)$(DOCDIR)/
.PHONY: install

HOST_TEST_SRCS := host/netctl-qemu.c host/netctl-vfio.c host/netctl-qmp.c host/netctl-logkeep.c host/netctl-priv.c lib/spawn.c
HOST_TESTS := $(patsubst tests/unit/%.c,$(T)/tests/%,$(wildcard tests/unit/test_host_*.c))
$(HOST_TESTS): $(T)/tests/%: $(T)/tests/unit/%.o $(HOST_TEST_SRCS:%.c=$(T)/%.o) $(T)/libpolicy.a $(T)/libmoat.a
	$(CC) $(BASEFLAGS) $(SANFLAGS) -o $@ $^ -lcmocka $(NFT_LIBS)
UNIT_TESTS += $(HOST_TESTS)

CHECKS += tests/host/install tests/host/up-down tests/host/hotplug tests/host/supervise tests/host/journal tests/host/libvirt-hook
CHECK_DEPS += $(T)/netctl $(B)/moat-link $(T)/moat-firewalld
# who runs what once the appliances are booted (needs the images; so does
# make install)
CHECKS += tests/host/confinement
CHECK_DEPS += images
