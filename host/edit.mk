# netctl allow/deny/add-vm/remove-vm/edit: unit tests of the text edits
# (no netctl binary needed), and the commands run on copies of the example.
EDIT_TEST := $(T)/tests/test_netctl_edit
$(EDIT_TEST): $(T)/tests/unit/test_netctl_edit.o $(T)/host/netctl-edit-text.o $(T)/libpolicy.a $(T)/libmoat.a
	$(CC) $(BASEFLAGS) $(SANFLAGS) -o $@ $^ -lcmocka $(NFT_LIBS)
UNIT_TESTS += $(EDIT_TEST)

CHECKS += tests/netctl/edit-cli
CHECK_DEPS += $(T)/netctl
