# moat: one Makefile for the whole tree.
#
#   make            build the programs (build/)
#   make deps       install the Debian packages the build and tests use
#   make check      deps + build + every test (unit, golden, fuzz, netns, ...)
#   make demo       the main job: show the product working
#   make images     the appliance images and the test VM image (build/images/)
#   make bench-*    benchmarks (never part of check)
#
# Each folder adds its sources and targets in its own module.mk, so the
# pieces can grow without everyone editing this file.

CC       ?= cc
CLANG    ?= clang
B        := build
T        := build/test
F        := build/fuzz

WARN     := -Wall -Wextra -Werror -Wshadow -Wno-unused-parameter
# -ffile-prefix-map: the tree's path stays out of debug info and __FILE__,
# so a build in another directory gives the same bytes (and build id).
BASEFLAGS:= -std=gnu11 -g $(WARN) -D_GNU_SOURCE -I. \
	-ffile-prefix-map=$(CURDIR)=.
CFLAGS   ?= -O2
ALLCFLAGS = $(BASEFLAGS) $(CFLAGS)
SANFLAGS := -O1 -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer
FUZZFLAGS:= -O1 -fsanitize=fuzzer-no-link,address,undefined -fno-omit-frame-pointer

NFT_LIBS := -lnftnl -lmnl

# Filled by module.mk files.
PROGRAMS     :=
UNIT_TESTS   :=
FUZZ_TARGETS :=
CHECKS       :=
CHECK_DEPS   :=

all: programs

include lib/module.mk
include policy/module.mk
include host/module.mk
-include host/install.mk
-include host/edit.mk
-include link/module.mk
-include firewallvm/module.mk
-include firewallvm/peripherals.mk
-include netvm/module.mk
-include guest-image/module.mk
-include packaging/module.mk
include tests/module.mk

programs: $(PROGRAMS)

# Product objects, test objects (ASan+UBSan) and fuzz objects (clang) of the
# same sources live side by side.
$(B)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(ALLCFLAGS) -MMD -MP -c $< -o $@
$(T)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(BASEFLAGS) $(SANFLAGS) -MMD -MP -c $< -o $@
$(F)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CLANG) $(BASEFLAGS) $(FUZZFLAGS) -Wno-unused-command-line-argument -MMD -MP -c $< -o $@

-include $(shell find $(B) -name '*.d' -type f 2>/dev/null)

DEPS_PACKAGES := build-essential clang libclang-rt-14-dev pkg-config \
	libnftnl-dev libmnl-dev libcmocka-dev nftables iproute2 util-linux \
	liburing-dev libseccomp-dev dpdk dpdk-dev qemu-system-x86 qemu-utils \
	busybox-static socat python3 libnl-3-dev libnl-route-3-dev \
	kmod cpio conntrack libcap2-bin strace \
	dpkg-dev lintian man-db groff-base bash-completion systemd \
	libxml2-dev libvirt-daemon-system libvirt-clients
# package:command - needed only as a program on PATH (a machine may carry
# its own build of it)
DEPS_COMMANDS := dnsmasq-base:dnsmasq iperf3:iperf3
deps:
	@missing=$$(for p in $(DEPS_PACKAGES); do dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q '^install ok installed' || echo $$p; done; \
		for pc in $(DEPS_COMMANDS); do command -v $${pc#*:} >/dev/null || PATH=$$PATH:/usr/sbin command -v $${pc#*:} >/dev/null || echo $${pc%%:*}; done); \
	if [ -n "$$missing" ]; then \
		echo "installing:" $$missing; \
		apt-get update -qq || echo "deps: apt-get update failed, trying the lists we have"; \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing; \
	else echo "deps: all installed"; fi

check: deps
	$(MAKE) programs unit-tests fuzz-targets $(CHECK_DEPS)
	tests/run-checks $(UNIT_TESTS:%=--unit %) $(FUZZ_TARGETS:%=--fuzz %) $(CHECKS:%=--check %)

unit-tests: $(UNIT_TESTS)
fuzz-targets: $(FUZZ_TARGETS)

clean:
	rm -rf $(B)

.PHONY: all programs deps check unit-tests fuzz-targets clean demo
