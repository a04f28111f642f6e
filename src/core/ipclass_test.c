/* SPDX-License-Identifier: ISC */
/* Unit tests for address classes (public vs. every special-purpose block). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>

#include "core/ipclass.h"

struct ipcase {
	const char	*addr;
	enum ipclass	 cls;
};

static const struct ipcase cases[] = {
	{ "8.8.8.8", IPCLASS_PUBLIC },
	{ "1.1.1.1", IPCLASS_PUBLIC },
	{ "100.63.255.255", IPCLASS_PUBLIC },
	{ "100.128.0.0", IPCLASS_PUBLIC },
	{ "172.15.255.255", IPCLASS_PUBLIC },
	{ "172.32.0.0", IPCLASS_PUBLIC },
	{ "192.169.0.1", IPCLASS_PUBLIC },
	{ "223.255.255.255", IPCLASS_PUBLIC },
	{ "0.0.0.0", IPCLASS_UNSPECIFIED },
	{ "0.1.2.3", IPCLASS_UNSPECIFIED },
	{ "127.0.0.1", IPCLASS_LOOPBACK },
	{ "127.255.255.254", IPCLASS_LOOPBACK },
	{ "10.0.0.1", IPCLASS_PRIVATE },
	{ "172.16.0.1", IPCLASS_PRIVATE },
	{ "172.31.255.255", IPCLASS_PRIVATE },
	{ "192.168.1.1", IPCLASS_PRIVATE },
	{ "169.254.169.254", IPCLASS_LINKLOCAL },	/* cloud metadata */
	{ "100.64.0.1", IPCLASS_CGNAT },
	{ "100.127.255.255", IPCLASS_CGNAT },
	{ "224.0.0.1", IPCLASS_MULTICAST },
	{ "239.255.255.255", IPCLASS_MULTICAST },
	{ "192.0.2.1", IPCLASS_DOCUMENTATION },
	{ "198.51.100.7", IPCLASS_DOCUMENTATION },
	{ "203.0.113.9", IPCLASS_DOCUMENTATION },
	{ "192.0.0.8", IPCLASS_RESERVED },
	{ "198.18.0.1", IPCLASS_RESERVED },
	{ "198.19.255.255", IPCLASS_RESERVED },
	{ "240.0.0.1", IPCLASS_RESERVED },
	{ "255.255.255.255", IPCLASS_RESERVED },
	{ "2a00:1450:4001:80b::200e", IPCLASS_PUBLIC },
	{ "2001:4860:4860::8888", IPCLASS_PUBLIC },
	{ "::", IPCLASS_UNSPECIFIED },
	{ "::1", IPCLASS_LOOPBACK },
	{ "::ffff:127.0.0.1", IPCLASS_LOOPBACK },	/* v4-mapped */
	{ "::ffff:10.1.2.3", IPCLASS_PRIVATE },
	{ "::ffff:8.8.8.8", IPCLASS_PUBLIC },
	{ "64:ff9b::192.168.0.1", IPCLASS_PRIVATE },	/* NAT64 */
	{ "64:ff9b::8.8.8.8", IPCLASS_PUBLIC },
	{ "64:ff9b:1::1", IPCLASS_PRIVATE },
	{ "2002:7f00:1::1", IPCLASS_LOOPBACK },		/* 6to4 of 127.0.0.1 */
	{ "2002:0808:0808::1", IPCLASS_PUBLIC },
	{ "::127.0.0.1", IPCLASS_RESERVED },		/* v4-compatible */
	{ "fc00::1", IPCLASS_PRIVATE },
	{ "fdff:ffff::1", IPCLASS_PRIVATE },
	{ "fec0::1", IPCLASS_PRIVATE },
	{ "fe80::1", IPCLASS_LINKLOCAL },
	{ "febf::1", IPCLASS_LINKLOCAL },
	{ "ff02::1", IPCLASS_MULTICAST },
	{ "2001:db8::1", IPCLASS_DOCUMENTATION },
	{ "3fff::1", IPCLASS_DOCUMENTATION },
	{ "2001::1", IPCLASS_RESERVED },		/* Teredo */
	{ "100::1", IPCLASS_RESERVED },
	{ "4000::1", IPCLASS_RESERVED },
	{ "not-an-address", IPCLASS_RESERVED },
};

static void
test_table(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		enum ipclass c = ipclass_of_text(cases[i].addr);

		if (c != cases[i].cls)
			fail_msg("%s: %s, expected %s", cases[i].addr,
			    ipclass_name(c), ipclass_name(cases[i].cls));
		assert_int_equal(ipclass_is_public(c),
		    cases[i].cls == IPCLASS_PUBLIC);
	}
}

static void
test_sockaddr(void **state)
{
	struct sockaddr_in s4;
	struct sockaddr_in6 s6;
	struct sockaddr su = { .sa_family = AF_UNIX };

	(void)state;
	memset(&s4, 0, sizeof(s4));
	s4.sin_family = AF_INET;
	inet_pton(AF_INET, "127.0.0.2", &s4.sin_addr);
	assert_int_equal(ipclass_of_sockaddr((struct sockaddr *)&s4),
	    IPCLASS_LOOPBACK);
	inet_pton(AF_INET, "9.9.9.9", &s4.sin_addr);
	assert_int_equal(ipclass_of_sockaddr((struct sockaddr *)&s4),
	    IPCLASS_PUBLIC);
	memset(&s6, 0, sizeof(s6));
	s6.sin6_family = AF_INET6;
	inet_pton(AF_INET6, "::ffff:169.254.1.1", &s6.sin6_addr);
	assert_int_equal(ipclass_of_sockaddr((struct sockaddr *)&s6),
	    IPCLASS_LINKLOCAL);
	assert_int_equal(ipclass_of_sockaddr(&su), IPCLASS_RESERVED);
	assert_string_equal(ipclass_name(IPCLASS_CGNAT), "cgnat");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_table),
		cmocka_unit_test(test_sockaddr),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
