/* dnsconnect: what a browser does, as fast as it can: ask a resolver for a
 * name, then connect to the address in the answer at once. For names
 * rFIRST.DOMAIN .. rLAST.DOMAIN in turn; prints "connected N refused N
 * failed N" and each refusal. Used by tests/netns/firewalld-traffic to show
 * that an answer never reaches a VM before its address is allowed.
 *
 *   dnsconnect RESOLVER DOMAIN FIRST LAST PORT
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

/* A query for NAME's A record; returns its length. */
static size_t dns_query(uint8_t *q, size_t cap, uint16_t id, const char *name)
{
	size_t n = 0;
	uint8_t hdr[12] = { id >> 8, id & 0xff, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0 };
	memcpy(q, hdr, sizeof(hdr));
	n = sizeof(hdr);
	for (const char *label = name; *label;) {
		size_t len = strcspn(label, ".");
		if (len == 0 || len > 63 || n + len + 6 > cap)
			return 0;
		q[n++] = (uint8_t)len;
		memcpy(q + n, label, len);
		n += len;
		label += len;
		if (*label == '.')
			label++;
	}
	q[n++] = 0;
	q[n++] = 0, q[n++] = 1;   /* A */
	q[n++] = 0, q[n++] = 1;   /* IN */
	return n;
}

/* The first A record of answer A[0..len), or 0 when there is none. */
static int dns_first_a(const uint8_t *a, size_t len, uint16_t id, struct in_addr *out)
{
	if (len < 12 || (a[0] << 8 | a[1]) != id || (a[3] & 0x0f) != 0)
		return 0;
	unsigned qd = a[4] << 8 | a[5], an = a[6] << 8 | a[7];
	size_t p = 12;
	for (unsigned i = 0; i < qd; i++) {
		while (p < len && a[p] != 0 && (a[p] & 0xc0) == 0)
			p += a[p] + 1;
		p += p < len && (a[p] & 0xc0) ? 2 : 1;
		p += 4;
	}
	for (unsigned i = 0; i < an && p < len; i++) {
		while (p < len && a[p] != 0 && (a[p] & 0xc0) == 0)
			p += a[p] + 1;
		p += p < len && (a[p] & 0xc0) ? 2 : 1;
		if (p + 10 > len)
			return 0;
		unsigned type = a[p] << 8 | a[p + 1], rdlen = a[p + 8] << 8 | a[p + 9];
		p += 10;
		if (p + rdlen > len)
			return 0;
		if (type == 1 && rdlen == 4) {
			memcpy(out, a + p, 4);
			return 1;
		}
		p += rdlen;
	}
	return 0;
}

int main(int argc, char **argv)
{
	if (argc != 6) {
		fprintf(stderr, "usage: dnsconnect RESOLVER DOMAIN FIRST LAST PORT\n");
		return 2;
	}
	struct sockaddr_in res = { .sin_family = AF_INET, .sin_port = htons(53) };
	if (inet_pton(AF_INET, argv[1], &res.sin_addr) != 1) {
		fprintf(stderr, "dnsconnect: %s: not an IPv4 address\n", argv[1]);
		return 2;
	}
	int first = atoi(argv[3]), last = atoi(argv[4]), port = atoi(argv[5]);
	int connected = 0, refused = 0, failed = 0;
	struct timeval tv = { .tv_sec = 2 };
	for (int i = first; i <= last; i++) {
		char name[256];
		uint8_t q[512], a[1500];
		snprintf(name, sizeof(name), "r%d.%s", i, argv[2]);
		uint16_t id = (uint16_t)(0x4d00 + i);
		size_t qlen = dns_query(q, sizeof(q), id, name);
		int u = socket(AF_INET, SOCK_DGRAM, 0);
		setsockopt(u, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
		struct in_addr addr;
		ssize_t n = -1;
		if (qlen && sendto(u, q, qlen, 0, (struct sockaddr *)&res, sizeof(res)) == (ssize_t)qlen)
			n = recv(u, a, sizeof(a), 0);
		close(u);
		if (n <= 0 || !dns_first_a(a, (size_t)n, id, &addr)) {
			printf("%s: no answer\n", name);
			failed++;
			continue;
		}
		/* no pause: the answer is in hand, the connection goes now */
		int t = socket(AF_INET, SOCK_STREAM, 0);
		setsockopt(t, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
		struct sockaddr_in to = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port),
					  .sin_addr = addr };
		if (connect(t, (struct sockaddr *)&to, sizeof(to)) == 0) {
			connected++;
		} else {
			printf("%s -> %s: %s\n", name, inet_ntoa(addr), strerror(errno));
			if (errno == ECONNREFUSED)
				refused++;
			else
				failed++;
		}
		close(t);
	}
	printf("connected %d refused %d failed %d\n", connected, refused, failed);
	return 0;
}
