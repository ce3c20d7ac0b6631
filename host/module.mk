# host/: netctl and what starts the appliances.
NETCTL_SRCS := $(wildcard host/netctl*.c)

# libvirt's domain XML is read and written with libxml2 (host/libvirt.h)
XML_CFLAGS := $(shell pkg-config --cflags libxml-2.0 2>/dev/null || echo -I/usr/include/libxml2)
XML_LIBS := $(shell pkg-config --libs libxml-2.0 2>/dev/null || echo -lxml2)
LIBVIRT_OBJS := host/netctl-libvirt.o host/netctl-libvirt-xml.o tests/fuzz/fuzz_libvirt_xml.o \
	tests/unit/test_libvirt_xml.o
$(foreach d,$(B) $(T) $(F),$(LIBVIRT_OBJS:%=$(d)/%)): BASEFLAGS += $(XML_CFLAGS)

$(B)/netctl: $(NETCTL_SRCS:%.c=$(B)/%.o) $(B)/libpolicy.a $(B)/libmoat.a
	$(CC) $(ALLCFLAGS) -o $@ $^ $(NFT_LIBS) $(XML_LIBS)
$(T)/netctl: $(NETCTL_SRCS:%.c=$(T)/%.o) $(T)/libpolicy.a $(T)/libmoat.a
	$(CC) $(BASEFLAGS) $(SANFLAGS) -o $@ $^ $(NFT_LIBS) $(XML_LIBS)

PROGRAMS += $(B)/netctl

# make demo builds what it needs first (a fresh machine has nothing)
demo: deps
	$(MAKE) $(B)/netctl $(B)/nftload $(B)/moat-firewalld $(B)/moat-netd $(B)/moat-link
	$(MAKE) images || echo "demo: no appliance images (see above); the namespace demo instead"
	host/demo.sh
