# host/: netctl and what starts the appliances.
NETCTL_SRCS := $(wildcard host/netctl*.c)

$(B)/netctl: $(NETCTL_SRCS:%.c=$(B)/%.o) $(B)/libpolicy.a
	$(CC) $(ALLCFLAGS) -o $@ $^ $(NFT_LIBS)
$(T)/netctl: $(NETCTL_SRCS:%.c=$(T)/%.o) $(T)/libpolicy.a
	$(CC) $(BASEFLAGS) $(SANFLAGS) -o $@ $^ $(NFT_LIBS)

PROGRAMS += $(B)/netctl

demo: $(B)/netctl $(B)/nftload
	host/demo.sh
