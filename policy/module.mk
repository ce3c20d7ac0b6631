# policy/: the moat.conf language and its compiler, one static library in
# three builds (product, test with sanitizers, fuzz).
POLICY_SRCS := $(wildcard policy/*.c)

$(B)/libpolicy.a: $(POLICY_SRCS:%.c=$(B)/%.o)
	rm -f $@ && ar rcs $@ $^
$(T)/libpolicy.a: $(POLICY_SRCS:%.c=$(T)/%.o)
	rm -f $@ && ar rcs $@ $^
$(F)/libpolicy.a: $(POLICY_SRCS:%.c=$(F)/%.o)
	rm -f $@ && ar rcs $@ $^
