/* keys.c: what each match key loads, in nft's words and in netlink's. */
#include <linux/netfilter/nf_tables.h>

#include "policy/ruleset.h"

const struct rs_keyinfo rs_keys[RK__COUNT] = {
	[RK_NFPROTO]      = { "meta nfproto", RS_META, NFT_META_NFPROTO, 0, 1, false },
	[RK_L4PROTO]      = { "meta l4proto", RS_META, NFT_META_L4PROTO, 0, 1, false },
	[RK_IIFNAME]      = { "iifname", RS_META, NFT_META_IIFNAME, 0, 16, false },
	[RK_OIFNAME]      = { "oifname", RS_META, NFT_META_OIFNAME, 0, 16, false },
	[RK_IIFTYPE]      = { "meta iiftype", RS_META, NFT_META_IIFTYPE, 0, 2, false },
	[RK_ETHER_SADDR]  = { "ether saddr", RS_PAYLOAD, NFT_PAYLOAD_LL_HEADER, 6, 6, false },
	[RK_IP_SADDR]     = { "ip saddr", RS_PAYLOAD, NFT_PAYLOAD_NETWORK_HEADER, 12, 4, false },
	[RK_IP_DADDR]     = { "ip daddr", RS_PAYLOAD, NFT_PAYLOAD_NETWORK_HEADER, 16, 4, false },
	[RK_IP6_SADDR]    = { "ip6 saddr", RS_PAYLOAD, NFT_PAYLOAD_NETWORK_HEADER, 8, 16, false },
	[RK_IP6_DADDR]    = { "ip6 daddr", RS_PAYLOAD, NFT_PAYLOAD_NETWORK_HEADER, 24, 16, false },
	[RK_TH_SPORT]     = { "th sport", RS_PAYLOAD, NFT_PAYLOAD_TRANSPORT_HEADER, 0, 2, false },
	[RK_TH_DPORT]     = { "th dport", RS_PAYLOAD, NFT_PAYLOAD_TRANSPORT_HEADER, 2, 2, false },
	[RK_ICMP_TYPE]    = { "icmp type", RS_PAYLOAD, NFT_PAYLOAD_TRANSPORT_HEADER, 0, 1, false },
	[RK_ICMP6_TYPE]   = { "icmpv6 type", RS_PAYLOAD, NFT_PAYLOAD_TRANSPORT_HEADER, 0, 1, false },
	[RK_CT_STATE]     = { "ct state", RS_CT, NFT_CT_STATE, 0, 4, false },
	[RK_CT_DIRECTION] = { "ct direction", RS_CT, NFT_CT_DIRECTION, 0, 1, false },
	[RK_CT_MARK]      = { "ct mark", RS_CT, NFT_CT_MARK, 0, 4, false },
	[RK_CT_ODADDR]    = { "ct original ip daddr", RS_CT, NFT_CT_DST_IP, 0, 4, true },
	[RK_CT_ODADDR6]   = { "ct original ip6 daddr", RS_CT, NFT_CT_DST_IP6, 0, 16, true },
	[RK_CT_OPROTO_DST]= { "ct original proto-dst", RS_CT, NFT_CT_PROTO_DST, 0, 2, true },
	[RK_META_TIME]    = { "meta time", RS_META, NFT_META_TIME_NS, 0, 8, false },
	[RK_DHCP_CHADDR]  = { "@th,288,48", RS_PAYLOAD, NFT_PAYLOAD_TRANSPORT_HEADER, 36, 6, false },
	[RK_DHCP_GIADDR]  = { "@th,256,32", RS_PAYLOAD, NFT_PAYLOAD_TRANSPORT_HEADER, 32, 4, false },
	[RK_DHCP6_TYPE]   = { "@th,64,8", RS_PAYLOAD, NFT_PAYLOAD_TRANSPORT_HEADER, 8, 1, false },
	[RK_SKUID]        = { "meta skuid", RS_META, NFT_META_SKUID, 0, 4, false },
	[RK_META_MARK]    = { "meta mark", RS_META, NFT_META_MARK, 0, 4, false },
	[RK_FIB_DADDR_TYPE] = { "fib daddr type", RS_FIB, NFT_FIB_RESULT_ADDRTYPE, NFTA_FIB_F_DADDR, 4, false },
	[RK_IP_FRAGOFF]   = { "ip frag-off", RS_PAYLOAD, NFT_PAYLOAD_NETWORK_HEADER, 6, 2, false },
	[RK_IP6_NEXTHDR]  = { "ip6 nexthdr", RS_PAYLOAD, NFT_PAYLOAD_NETWORK_HEADER, 6, 1, false },
};
