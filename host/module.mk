# host/: netctl and what starts the appliances.
NETCTL_SRCS := $(wildcard host/netctl*.c)

$(B)/netctl: $(NETCTL_SRCS:%.c=$(B)/%.o) $(B)/libpolicy.a $(B)/libmoat.a
	$(CC) $(ALLCFLAGS) -o $@ $^ $(NFT_LIBS)
$(T)/netctl: $(NETCTL_SRCS:%.c=$(T)/%.o) $(T)/libpolicy.a $(T)/libmoat.a
	$(CC) $(BASEFLAGS) $(SANFLAGS) -o $@ $^ $(NFT_LIBS)

PROGRAMS += $(B)/netctl

# make demo builds what it needs first (a fresh machine has nothing)
demo: deps
	$(MAKE) $(B)/netctl $(B)/nftload $(B)/moat-firewalld $(B)/moat-netd $(B)/moat-link
	$(MAKE) images || echo "demo: no appliance images (see above); the namespace demo instead"
	host/demo.sh
