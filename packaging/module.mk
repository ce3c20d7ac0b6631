# packaging/: make deb, the Debian package of the host side, built with
# dpkg-deb from what make install puts in a staging root (PREFIX=/usr).
# Reproducible: dates from the last commit (SOURCE_DATE_EPOCH), owners
# root:root, files in sorted order, no path of the build tree inside.
SOURCE_DATE_EPOCH ?= $(shell git log -1 --format=%ct 2>/dev/null || echo 0)
# 0.0~gitDATE.COMMIT: sorts below any real release; -1: the Debian revision
MOAT_VERSION ?= $(shell TZ=UTC git log -1 --date=format-local:%Y%m%d%H%M%S --format=0.0~git%cd.%h 2>/dev/null || echo 0.0~unknown)-1
DEB := $(B)/moat_$(MOAT_VERSION)_amd64.deb

deb: $(DEB)
$(DEB): $(INSTALL_PROGRAMS) $(IMAGES_FROM)/.built packaging/build-deb packaging/deb/* \
		host/install.mk host/systemd/* host/libvirt/* host/netctl.bash-completion $(MAN_PAGES) $(INSTALL_DOCS) examples/moat.conf
	rm -rf $(B)/deb $(B)/moat_*_amd64.deb   # one package in build/: apt install ./build/moat_*.deb
	$(MAKE) -s install DESTDIR=$(CURDIR)/$(B)/deb/debian/moat PREFIX=/usr UNITDIR=/lib/systemd/system \
		IMAGES_FROM=$(IMAGES_FROM)
	SOURCE_DATE_EPOCH=$(SOURCE_DATE_EPOCH) packaging/build-deb $(B)/deb $(MOAT_VERSION) $@
	rm -rf $(B)/deb

# the package's path, for the tests
deb-name:
	@echo $(DEB)
.PHONY: deb deb-name

CHECKS += tests/host/package
CHECK_DEPS += deb
