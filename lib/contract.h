/* contract.h: what the host, the firewall VM and the network VM agree on
 * (docs/design.md, "Contracts"): names, addresses, MACs and ports that more
 * than one part of moat must spell the same way. A value only one part uses
 * stays in that part's header. */
#ifndef MOAT_CONTRACT_H
#define MOAT_CONTRACT_H

/* The uplink: the one point-to-point link between the firewallvm and the
 * netvm (a moat-link pair on the host). */
#define MOAT_UPLINK_NET        "10.139.0.0/30"
#define MOAT_UPLINK_PREFIX     30
#define MOAT_UPLINK_NETVM_ADDR "10.139.0.1"   /* the firewall's gateway and resolver */
#define MOAT_UPLINK_FW_ADDR    "10.139.0.2"
#define MOAT_UPLINK_FW_IF      "uplink"       /* its name in the firewall VM */
#define MOAT_UPLINK_NETVM_IF   "firewall"     /* its name in the netvm */

/* MACs: locally administered, 02:6d ('m'), then 0x66 ('f') for the
 * firewall's end, 0x6e ('n') for the netvm's, 0x61 ('a') for app VMs. As
 * bytes (for arrays) and as text. */
#define MOAT_UPLINK_FW_MAC_BYTES     0x02, 0x6d, 0x66, 0xff, 0xff, 0x01
#define MOAT_UPLINK_FW_MAC           "02:6d:66:ff:ff:01"
#define MOAT_UPLINK_NETVM_MAC_BYTES  0x02, 0x6d, 0x6e, 0xff, 0xff, 0x01
#define MOAT_UPLINK_NETVM_MAC        "02:6d:6e:ff:ff:01"
#define MOAT_NETVM_OUTSIDE_MAC_BYTES 0x02, 0x6d, 0x6e, 0xff, 0xff, 0x02   /* its NIC with uplink user */
#define MOAT_MAC_FW_BYTE    0x66
#define MOAT_MAC_NETVM_BYTE 0x6e
/* An app VM's link without a `mac`: 02:6d:61:00:A:B on the VM's side,
 * 02:6d:66:00:A:B on the firewall's, A.B the last two bytes of its IPv4
 * address. */
#define MOAT_VM_MAC_PREFIX_BYTES 0x02, 0x6d, 0x61, 0x00

/* The networks the netvm routes to the firewall before netctl says which. */
#define MOAT_APP_NETS_DEFAULT "10.137.0.0/16"

/* Each appliance's virtio-serial ports (host side: NAME.ctl, NAME.status). */
#define MOAT_PORT_CONTROL "org.moat.control"
#define MOAT_PORT_STATUS  "org.moat.status"

/* In the firewall VM: the uid dnsmasq runs as (firewallvm/dnsmasq.c), which
 * the compiled output chain limits to DNS and DHCP (policy/compile.c). */
#define MOAT_FW_DNSMASQ_UID 65534

#endif
