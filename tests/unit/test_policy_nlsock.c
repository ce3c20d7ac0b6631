/* test_policy_nlsock: what the kernel answers to a batch is read within the
 * bytes it sent. Every reply sits in a buffer of exactly its size, so ASan
 * sees a read past it. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <linux/netlink.h>
#include <stdlib.h>
#include <string.h>

#include "policy/batch.h"

struct reply {
	uint8_t *buf;
	size_t len;
};

/* An NLMSG_ERROR of LEN bytes in all (header included), with ERROR, the
 * request's header claiming REQ_LEN, FLAGS, and TLVS (TLVS_LEN bytes) right
 * after struct nlmsgerr, where the kernel puts them when it caps the request. */
static struct reply error_msg(size_t len, int error, uint32_t req_len, uint16_t flags, const void *tlvs,
			      size_t tlvs_len)
{
	struct reply r = { .buf = calloc(1, len), .len = len };
	assert_non_null(r.buf);
	struct nlmsghdr nlh = { .nlmsg_len = (uint32_t)len, .nlmsg_type = NLMSG_ERROR, .nlmsg_flags = flags };
	memcpy(r.buf, &nlh, len < sizeof(nlh) ? len : sizeof(nlh));
	if (len >= NLMSG_HDRLEN + sizeof(struct nlmsgerr)) {
		struct nlmsgerr e = { .error = error, .msg = { .nlmsg_len = req_len, .nlmsg_seq = 7 } };
		memcpy(r.buf + NLMSG_HDRLEN, &e, sizeof(e));
		if (tlvs_len && NLMSG_HDRLEN + sizeof(e) + tlvs_len <= len)
			memcpy(r.buf + NLMSG_HDRLEN + sizeof(e), tlvs, tlvs_len);
	} else if (len >= NLMSG_HDRLEN + sizeof(int)) {
		memcpy(r.buf + NLMSG_HDRLEN, &error, sizeof(error));
	}
	return r;
}

static int acks(struct reply r, char *err, size_t errlen)
{
	struct nl_batch b;
	batch_init(&b, 1);
	size_t used = 0;
	err[0] = 0;
	int rc = nft_acks(&b, r.buf, r.len, err, errlen, &used);
	batch_free(&b);
	free(r.buf);
	return rc;
}

static void an_error_too_short_to_read_is_still_an_error(void **state)
{
	char err[256];
	/* a header and the error number, but not the request's header */
	assert_int_equal(acks(error_msg(NLMSG_HDRLEN + sizeof(int), -EINVAL, 0, 0, NULL, 0), err, sizeof(err)),
			 -EPROTO);
}

static void a_request_length_past_the_reply_reads_nothing_beyond(void **state)
{
	char err[256];
	/* not capped: the TLVs would follow a request of 1 MiB that is not there */
	size_t len = NLMSG_HDRLEN + sizeof(struct nlmsgerr) + 16;
	assert_int_equal(acks(error_msg(len, -ENOENT, 1 << 20, NLM_F_ACK_TLVS, NULL, 0), err, sizeof(err)), -ENOENT);
	assert_non_null(strstr(err, strerror(ENOENT)));
}

static void the_kernels_message_is_read_when_it_is_there(void **state)
{
	char err[256];
	uint8_t tlv[12] = { 0 };
	struct nlattr a = { .nla_len = NLA_HDRLEN + 7, .nla_type = NLMSGERR_ATTR_MSG };
	memcpy(tlv, &a, sizeof(a));
	memcpy(tlv + NLA_HDRLEN, "no set", 7);
	size_t len = NLMSG_HDRLEN + sizeof(struct nlmsgerr) + sizeof(tlv);
	assert_int_equal(acks(error_msg(len, -ENOENT, sizeof(struct nlmsghdr), NLM_F_ACK_TLVS | NLM_F_CAPPED, tlv,
					sizeof(tlv)), err, sizeof(err)), -ENOENT);
	assert_non_null(strstr(err, "(no set)"));
}

static void an_ack_is_no_error(void **state)
{
	char err[256];
	assert_int_equal(acks(error_msg(NLMSG_HDRLEN + sizeof(struct nlmsgerr), 0, 0, 0, NULL, 0), err, sizeof(err)), 0);
	assert_string_equal(err, "");
}

static void a_positive_error_number_is_still_a_failure(void **state)
{
	char err[256];
	assert_int_equal(acks(error_msg(NLMSG_HDRLEN + sizeof(struct nlmsgerr), 5, 0, 0, NULL, 0), err, sizeof(err)),
			 -EPROTO);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(an_error_too_short_to_read_is_still_an_error),
		cmocka_unit_test(a_request_length_past_the_reply_reads_nothing_beyond),
		cmocka_unit_test(the_kernels_message_is_read_when_it_is_there),
		cmocka_unit_test(an_ack_is_no_error),
		cmocka_unit_test(a_positive_error_number_is_still_a_failure),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
