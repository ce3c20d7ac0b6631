# lib/: the helpers every program shares (control channel, spawning,
# staged writes, the clock, allocation), one static library per build, so
# each helper is compiled once and a program links only what it calls.
# nlroute.c is the appliance daemons' alone: libnl, pulled in only by them.
LIB_SRCS := $(wildcard lib/*.c)
LIBNL_CFLAGS := $(shell pkg-config --cflags libnl-3.0 libnl-route-3.0 2>/dev/null || echo -I/usr/include/libnl3)
LIBNL_LIBS := $(shell pkg-config --libs libnl-3.0 libnl-route-3.0 2>/dev/null || echo -lnl-route-3 -lnl-3)

$(B)/lib/nlroute.o $(T)/lib/nlroute.o $(F)/lib/nlroute.o: BASEFLAGS += $(LIBNL_CFLAGS)

$(B)/libmoat.a: $(LIB_SRCS:%.c=$(B)/%.o)
	rm -f $@ && ar rcs $@ $^
$(T)/libmoat.a: $(LIB_SRCS:%.c=$(T)/%.o)
	rm -f $@ && ar rcs $@ $^
$(F)/libmoat.a: $(LIB_SRCS:%.c=$(F)/%.o)
	rm -f $@ && ar rcs $@ $^

# supervise.c against real children; stage.c's writes whole or not at all
LIB_TESTS := $(T)/tests/test_lib_supervise $(T)/tests/test_lib_stage
$(LIB_TESTS): $(T)/tests/%: $(T)/tests/unit/%.o $(T)/libmoat.a
	$(CC) $(BASEFLAGS) $(SANFLAGS) -o $@ $^ -lcmocka -lpthread
UNIT_TESTS += $(LIB_TESTS)
