/* SPDX-License-Identifier: ISC */
/* Address classes from the IANA special-purpose registries (see ipclass.h). */
#include "core/ipclass.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>

struct range {
	unsigned char	 net[16];
	unsigned	 bits;
	enum ipclass	 cls;
};

/* IPv4 special-purpose blocks (RFC 6890 §2.2.2 and updates). */
static const struct range v4[] = {
	{ { 0, 0, 0, 0 }, 8, IPCLASS_UNSPECIFIED },
	{ { 10, 0, 0, 0 }, 8, IPCLASS_PRIVATE },
	{ { 100, 64, 0, 0 }, 10, IPCLASS_CGNAT },
	{ { 127, 0, 0, 0 }, 8, IPCLASS_LOOPBACK },
	{ { 169, 254, 0, 0 }, 16, IPCLASS_LINKLOCAL },
	{ { 172, 16, 0, 0 }, 12, IPCLASS_PRIVATE },
	{ { 192, 0, 0, 0 }, 24, IPCLASS_RESERVED },	/* IETF protocol */
	{ { 192, 0, 2, 0 }, 24, IPCLASS_DOCUMENTATION },
	{ { 192, 31, 196, 0 }, 24, IPCLASS_RESERVED },	/* AS112 */
	{ { 192, 52, 193, 0 }, 24, IPCLASS_RESERVED },	/* AMT */
	{ { 192, 88, 99, 0 }, 24, IPCLASS_RESERVED },	/* 6to4 relay */
	{ { 192, 168, 0, 0 }, 16, IPCLASS_PRIVATE },
	{ { 192, 175, 48, 0 }, 24, IPCLASS_RESERVED },	/* AS112 */
	{ { 198, 18, 0, 0 }, 15, IPCLASS_RESERVED },	/* benchmarking */
	{ { 198, 51, 100, 0 }, 24, IPCLASS_DOCUMENTATION },
	{ { 203, 0, 113, 0 }, 24, IPCLASS_DOCUMENTATION },
	{ { 224, 0, 0, 0 }, 4, IPCLASS_MULTICAST },
	{ { 240, 0, 0, 0 }, 4, IPCLASS_RESERVED },	/* incl. broadcast */
};

/* IPv6 blocks that are not classed through an embedded IPv4 address.
 * Order matters: the first match wins, so narrower blocks come first. */
static const struct range v6[] = {
	{ { 0 }, 128, IPCLASS_UNSPECIFIED },
	{ { [15] = 1 }, 128, IPCLASS_LOOPBACK },
	{ { 0 }, 96, IPCLASS_RESERVED },		/* IPv4-compatible */
	{ { 0x00, 0x64, 0xff, 0x9b, 0x00, 0x01 }, 48, IPCLASS_PRIVATE },
	{ { 0x01, 0x00 }, 64, IPCLASS_RESERVED },	/* discard-only */
	{ { 0x20, 0x01, 0x0d, 0xb8 }, 32, IPCLASS_DOCUMENTATION },
	{ { 0x20, 0x01, 0x00, 0x00 }, 23, IPCLASS_RESERVED },	/* IETF */
	{ { 0x3f, 0xff }, 20, IPCLASS_DOCUMENTATION },
	{ { 0xfc }, 7, IPCLASS_PRIVATE },		/* ULA */
	{ { 0xfe, 0x80 }, 10, IPCLASS_LINKLOCAL },
	{ { 0xfe, 0xc0 }, 10, IPCLASS_PRIVATE },	/* site-local */
	{ { 0xff }, 8, IPCLASS_MULTICAST },
};

static bool
in_range(const unsigned char *a, const struct range *r)
{
	unsigned full = r->bits / 8, rest = r->bits % 8;
	unsigned char mask;

	if (memcmp(a, r->net, full) != 0)
		return false;
	if (rest == 0)
		return true;
	mask = (unsigned char)(0xff << (8 - rest));
	return (a[full] & mask) == (r->net[full] & mask);
}

enum ipclass
ipclass_v4(const unsigned char a[4])
{
	size_t i;

	for (i = 0; i < sizeof(v4) / sizeof(v4[0]); i++)
		if (in_range(a, &v4[i]))
			return v4[i].cls;
	return IPCLASS_PUBLIC;
}

enum ipclass
ipclass_v6(const unsigned char a[16])
{
	static const unsigned char mapped[12] = { [10] = 0xff, [11] = 0xff };
	static const unsigned char nat64[12] = { 0x00, 0x64, 0xff, 0x9b };
	size_t i;

	/* A connection to these may end at the embedded IPv4 address. */
	if (memcmp(a, mapped, 12) == 0 || memcmp(a, nat64, 12) == 0)
		return ipclass_v4(a + 12);
	if (a[0] == 0x20 && a[1] == 0x02)
		return ipclass_v4(a + 2);		/* 6to4 */
	for (i = 0; i < sizeof(v6) / sizeof(v6[0]); i++)
		if (in_range(a, &v6[i]))
			return v6[i].cls;
	/* Only 2000::/3 is allocated as global unicast. */
	if ((a[0] & 0xe0) != 0x20)
		return IPCLASS_RESERVED;
	return IPCLASS_PUBLIC;
}

enum ipclass
ipclass_of_sockaddr(const struct sockaddr *sa)
{
	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *s4 = (const struct sockaddr_in *)
		    (const void *)sa;

		return ipclass_v4((const unsigned char *)&s4->sin_addr);
	}
	if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)
		    (const void *)sa;

		return ipclass_v6(s6->sin6_addr.s6_addr);
	}
	return IPCLASS_RESERVED;
}

enum ipclass
ipclass_of_text(const char *addr)
{
	unsigned char a[16];

	if (inet_pton(AF_INET, addr, a) == 1)
		return ipclass_v4(a);
	if (inet_pton(AF_INET6, addr, a) == 1)
		return ipclass_v6(a);
	return IPCLASS_RESERVED;
}

bool
ipclass_is_public(enum ipclass cls)
{
	return cls == IPCLASS_PUBLIC;
}

const char *
ipclass_name(enum ipclass cls)
{
	switch (cls) {
	case IPCLASS_PUBLIC:
		return "public";
	case IPCLASS_UNSPECIFIED:
		return "unspecified";
	case IPCLASS_LOOPBACK:
		return "loopback";
	case IPCLASS_PRIVATE:
		return "private";
	case IPCLASS_LINKLOCAL:
		return "link-local";
	case IPCLASS_CGNAT:
		return "cgnat";
	case IPCLASS_MULTICAST:
		return "multicast";
	case IPCLASS_DOCUMENTATION:
		return "documentation";
	case IPCLASS_RESERVED:
		return "reserved";
	}
	return "reserved";
}
