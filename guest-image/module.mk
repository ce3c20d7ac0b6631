# guest-image/: the appliance images (netvm, firewallvm) and the test app VM
# image, each a kernel + initramfs under build/images/NAME/ with a manifest.
IMAGES := $(B)/images

$(IMAGES)/.built: guest-image/build $(B)/moat-firewalld $(B)/moat-netd
	guest-image/build $(IMAGES)
	touch $@

images: $(IMAGES)/.built

.PHONY: images
