/* SPDX-License-Identifier: ISC */
/*
 * The Landlock ruleset of each sandbox profile (see sandbox.h). Raw
 * syscalls: glibc has no wrappers. The ruleset handles every right the
 * running ABI knows, so whatever is not granted below is refused; rights
 * newer than the ABI are masked out (Debian 12's 6.1 kernel is ABI 2: no
 * TRUNCATE, which is ABI 3, nor IOCTL_DEV, ABI 5). Rules bind inodes when
 * they are added: a path missing now is skipped, and a file replaced later
 * (a new inode) is not covered.
 */
#include "proc/sandbox_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <libpq-fe.h>
#include <linux/landlock.h>
#include <openssl/x509.h>
#include <pwd.h>

#include "conf/conf.h"
#include "core/log.h"
#include "store/db.h"

/* Rights newer than Debian 12's linux-libc-dev headers. */
#ifndef LANDLOCK_ACCESS_FS_REFER
#define LANDLOCK_ACCESS_FS_REFER	(1ULL << 13)
#endif
#ifndef LANDLOCK_ACCESS_FS_TRUNCATE
#define LANDLOCK_ACCESS_FS_TRUNCATE	(1ULL << 14)
#endif
#ifndef LANDLOCK_ACCESS_FS_IOCTL_DEV
#define LANDLOCK_ACCESS_FS_IOCTL_DEV	(1ULL << 15)
#endif

#define LL_RO		(LANDLOCK_ACCESS_FS_READ_FILE | \
			 LANDLOCK_ACCESS_FS_READ_DIR)
/* Files by name in a folder, for SQLite's store and the journals it
 * creates and deletes beside it; READ_DIR for its directory fsync. */
#define LL_FILES	(LL_RO | LANDLOCK_ACCESS_FS_WRITE_FILE | \
			 LANDLOCK_ACCESS_FS_MAKE_REG | \
			 LANDLOCK_ACCESS_FS_REMOVE_FILE | \
			 LANDLOCK_ACCESS_FS_TRUNCATE)
/* A tree we own: the spool, the Maildirs (REFER: rename tmp -> queue,
 * tmp -> new across folders). */
#define LL_TREE		(LL_FILES | LANDLOCK_ACCESS_FS_MAKE_DIR | \
			 LANDLOCK_ACCESS_FS_REMOVE_DIR | \
			 LANDLOCK_ACCESS_FS_REFER)
/* Rights that apply to a file (a rule on a file may hold only these). */
#define LL_FILE_RIGHTS	(LANDLOCK_ACCESS_FS_EXECUTE | \
			 LANDLOCK_ACCESS_FS_WRITE_FILE | \
			 LANDLOCK_ACCESS_FS_READ_FILE | \
			 LANDLOCK_ACCESS_FS_TRUNCATE | \
			 LANDLOCK_ACCESS_FS_IOCTL_DEV)

uint64_t
sandbox_landlock_handled(int abi)
{
	uint64_t r;

	if (abi < 1)
		return 0;
	r = (LANDLOCK_ACCESS_FS_MAKE_SYM << 1) - 1;	/* ABI 1: bits 0-12 */
	if (abi >= 2)
		r |= LANDLOCK_ACCESS_FS_REFER;
	if (abi >= 3)
		r |= LANDLOCK_ACCESS_FS_TRUNCATE;
	if (abi >= 5)
		r |= LANDLOCK_ACCESS_FS_IOCTL_DEV;
	return r;
}

struct ll {
	int		 fd;		/* the ruleset */
	uint64_t	 handled;
	const char	*who;
};

/* Grant access below path (or to the file path), as far as handled. A
 * missing path is skipped: nothing there to protect or to need. Returns
 * the O_PATH descriptor of path (the caller closes it), -1 if skipped. */
static int
ll_allow_open(struct ll *ll, const char *path, uint64_t access)
{
	struct landlock_path_beneath_attr pb;
	struct stat st;
	int fd;

	if (path == NULL || *path == '\0')
		return -1;
	if ((fd = open(path, O_PATH | O_CLOEXEC)) == -1) {
		log_debug("%s: sandbox: %s skipped: %s", ll->who, path,
		    strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) == -1)
		fatal("%s: sandbox: stat %s: %s", ll->who, path,
		    strerror(errno));
	if (!S_ISDIR(st.st_mode))
		access &= LL_FILE_RIGHTS;
	memset(&pb, 0, sizeof(pb));
	pb.allowed_access = access & ll->handled;
	pb.parent_fd = fd;
	if (pb.allowed_access != 0 && syscall(SYS_landlock_add_rule, ll->fd,
	    LANDLOCK_RULE_PATH_BENEATH, &pb, 0) == -1)
		fatal("%s: sandbox: landlock rule for %s: %s", ll->who, path,
		    strerror(errno));
	return fd;
}

static void
ll_allow(struct ll *ll, const char *path, uint64_t access)
{
	int fd = ll_allow_open(ll, path, access);

	if (fd != -1)
		close(fd);
}

/* The process's own /proc/PID, read-only, and nothing else of /proc. The
 * rule is on the inode, and procfs makes a new one for /proc/PID whenever
 * its dentry was evicted (memory pressure, drop_caches): the descriptor
 * stays open for the process's life to pin it. */
static void
ll_allow_proc_self(struct ll *ll)
{
	(void)ll_allow_open(ll, "/proc/self", LL_RO);
}

/* "dir/name" granted access. */
static void
ll_allow_in(struct ll *ll, const char *dir, const char *name,
    uint64_t access)
{
	char path[PATH_MAX];

	if (snprintf(path, sizeof(path), "%s/%s", dir, name) >=
	    (int)sizeof(path))
		fatal("%s: sandbox: path too long: %s/%s", ll->who, dir, name);
	ll_allow(ll, path, access);
}

/* What every profile reads: libraries (dlopen of libcurl, libxml2, NSS
 * and gconv modules, OpenSSL providers), time zones, the null and random
 * devices. */
static void
ll_allow_base(struct ll *ll)
{
	static const char *const ro[] = {
		"/usr/lib", "/lib", "/lib64", "/usr/lib64", "/usr/local/lib",
		"/etc/ld.so.cache", "/etc/ld.so.conf", "/etc/ld.so.conf.d",
		"/etc/localtime", "/usr/share/zoneinfo",
		"/dev/urandom", "/dev/random",
	};

	for (size_t i = 0; i < sizeof(ro) / sizeof(ro[0]); i++)
		ll_allow(ll, ro[i], LL_RO);
	ll_allow(ll, "/dev/null", LANDLOCK_ACCESS_FS_READ_FILE |
	    LANDLOCK_ACCESS_FS_WRITE_FILE);
}

/* What lookups and TLS verification read in the worker and the runner:
 * the resolver's files, the user database (the user of a local
 * submission is looked up by uid), the trust anchor, the CA store wherever
 * OpenSSL and the configuration look for it (never all of /etc/ssl: its
 * private/ holds TLS keys, readable by a service user in group ssl-cert;
 * the private link in /usr/lib/ssl resolves there, outside the rules), the
 * configuration itself, and of /proc only the process's own (its memory
 * for /metrics, metrics.h; sanitizers read /proc/self/maps): other
 * processes' cmdline, environ and maps stay out of a compromised child's
 * reach. */
static void
ll_allow_resolver_ca(struct ll *ll)
{
	static const char *const ro[] = {
		"/etc/resolv.conf", "/etc/hosts", "/etc/host.conf",
		"/etc/nsswitch.conf", "/etc/gai.conf", "/etc/services",
		"/etc/passwd", "/etc/group",
		"/etc/ssl/certs", "/etc/ssl/openssl.cnf", "/usr/lib/ssl",
		"/usr/share/ca-certificates",
		"/usr/local/share/ca-certificates",
	};

	for (size_t i = 0; i < sizeof(ro) / sizeof(ro[0]); i++)
		ll_allow(ll, ro[i], LL_RO);
	ll_allow(ll, X509_get_default_cert_dir(), LL_RO);
	ll_allow(ll, X509_get_default_cert_file(), LL_RO);
	ll_allow(ll, getenv(X509_get_default_cert_dir_env()), LL_RO);
	ll_allow(ll, getenv(X509_get_default_cert_file_env()), LL_RO);
}

static void
ll_allow_lookups(struct ll *ll, const struct conf *c)
{
	ll_allow_resolver_ca(ll);
	ll_allow(ll, c->path, LL_RO);
	ll_allow(ll, c->dns_trust_anchor, LL_RO);
	ll_allow(ll, c->dns_unbound_config, LL_RO);
	ll_allow(ll, c->tls_ca, LL_RO);
	ll_allow_proc_self(ll);
}

/* host= may list several hosts, comma-separated; those that are folders
 * hold the server's Unix socket. */
static void
ll_allow_host_dirs(struct ll *ll, const char *hosts)
{
	char dir[PATH_MAX];
	const char *p = hosts;

	while (*p != '\0') {
		size_t n = strcspn(p, ",");

		if (p[0] == '/' && n < sizeof(dir)) {
			memcpy(dir, p, n);
			dir[n] = '\0';
			ll_allow(ll, dir, LL_RO);
		}
		p += n;
		if (*p == ',')
			p++;
	}
}

/* What libpq may read when it connects again (after a restart of the
 * server, a failover) from inside the sandbox, for the connection string
 * dsn: the files the string names (sslrootcert and the like, a service
 * file), a Unix socket's folder (host=/path), the user's ~/.postgresql
 * (root.crt, root.crl, a client certificate) and ~/.pgpass, the
 * environment's PGPASSFILE and PGSERVICEFILE, and for host names and
 * verify-full the resolver's files and the CA store. Reading only: the
 * password itself came from the master. No network rule: the ruleset
 * handles no network right, so TCP connect stays allowed. */
static void
ll_allow_pg(struct ll *ll, const char *dsn)
{
	static const char *const files[] = { "sslrootcert", "sslcert",
	    "sslkey", "sslcrl", "sslcrldir", "passfile", "service" };
	static const char *const env[] = { "PGPASSFILE", "PGSERVICEFILE",
	    "PGSYSCONFDIR", "PGSSLROOTCERT", "PGHOST" };
	const char *home = getenv("HOME");
	PQconninfoOption *opts;
	char path[PATH_MAX];
	struct passwd *pw;

	ll_allow_resolver_ca(ll);
	ll_allow(ll, "/etc/postgresql-common/pg_service.conf", LL_RO);
	for (size_t i = 0; i < sizeof(env) / sizeof(env[0]); i++) {
		const char *v = getenv(env[i]);
		if (v != NULL && v[0] == '/')
			ll_allow(ll, v, LL_RO);
	}
	/* libpq takes the home from the passwd entry of the euid (and
	 * HOME where it looks first). */
	for (int i = 0; i < 2; i++) {
		const char *h = i == 0 ? home :
		    (pw = getpwuid(geteuid())) != NULL ? pw->pw_dir : NULL;
		if (h == NULL || h[0] != '/')
			continue;
		if (snprintf(path, sizeof(path), "%s/.postgresql", h) <
		    (int)sizeof(path))
			ll_allow(ll, path, LL_RO);
		if (snprintf(path, sizeof(path), "%s/.pgpass", h) <
		    (int)sizeof(path))
			ll_allow(ll, path, LL_RO);
	}
	if (dsn == NULL || (opts = PQconninfoParse(dsn, NULL)) == NULL)
		return;
	for (PQconninfoOption *o = opts; o->keyword != NULL; o++) {
		if (o->val == NULL || o->val[0] != '/')
			continue;
		if (strcmp(o->keyword, "host") == 0)	/* socket folders */
			ll_allow_host_dirs(ll, o->val);
		for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++)
			if (strcmp(o->keyword, files[i]) == 0)
				ll_allow(ll, o->val, LL_RO);
	}
	PQconninfoFree(opts);
}

/* The store and its journal, which the master made before any child
 * (db_open: the journal persists). Rights on these two files only: data_dir
 * itself also holds keys/, which no child may read. */
static void
ll_allow_store(struct ll *ll, const struct conf *c, uint64_t access)
{
	ll_allow_in(ll, c->data_dir, "sealmail.db", access);
	ll_allow_in(ll, c->data_dir, "sealmail.db-journal", access);
}

static void
ll_allow_worker(struct ll *ll, const struct conf *c)
{
	ll_allow_lookups(ll, c);
	ll_allow_store(ll, c, LL_FILES);
	ll_allow_in(ll, c->data_dir, "spool", LL_TREE);
}

static void
ll_allow_runner(struct ll *ll, const struct conf *c)
{
	char mail[PATH_MAX];

	ll_allow_lookups(ll, c);
	ll_allow_store(ll, c, LL_FILES);
	ll_allow_in(ll, c->data_dir, "spool", LL_TREE);
	/* The nudge socket and the runner's lock. */
	ll_allow_in(ll, c->data_dir, "run", LL_TREE |
	    LANDLOCK_ACCESS_FS_MAKE_SOCK);
	/* The Maildir tree: made now, as the rule needs it to exist (the
	 * mode Maildir delivery would give it). */
	if (snprintf(mail, sizeof(mail), "%s/mail", c->data_dir) >=
	    (int)sizeof(mail))
		fatal("%s: sandbox: data_dir path too long", ll->who);
	if (mkdir(mail, 0700) == -1 && errno != EEXIST)
		log_warn("%s: sandbox: mkdir %s: %s", ll->who, mail,
		    strerror(errno));
	ll_allow(ll, mail, LL_TREE);
	ll_allow(ll, c->relayhost_ca, LL_RO);
	ll_allow(ll, c->relayhost_credentials, LL_RO);
}

/* The keys process reads the password file and nothing more: not the
 * store, which it has no use for. The password file is granted to no
 * other profile (a worker that is taken over reads no hash). Write too,
 * though it only reads: a CLI that died in a transaction leaves a hot
 * journal, which the next reader must play back into the file before it
 * may read, or every login fails until a restart. */
static void
ll_allow_keys(struct ll *ll, const struct conf *c)
{
	const uint64_t rw = LANDLOCK_ACCESS_FS_READ_FILE |
	    LANDLOCK_ACCESS_FS_WRITE_FILE | LANDLOCK_ACCESS_FS_TRUNCATE;

	ll_allow_in(ll, c->data_dir, DB_PASSWD_FILE, rw);
	ll_allow_in(ll, c->data_dir, DB_PASSWD_FILE "-journal", rw);
	ll_allow_proc_self(ll);
}

int
sandbox_landlock_enter(enum sandbox_kind kind, const char *who,
    const struct conf *conf)
{
	struct landlock_ruleset_attr attr;
	struct ll ll = { .who = who };
	long kabi;
	int abi;

	kabi = syscall(SYS_landlock_create_ruleset, NULL, 0,
	    LANDLOCK_CREATE_RULESET_VERSION);
	abi = sandbox_landlock_abi(kabi < 0 ? 0 : (int)kabi,
	    getenv("SEALMAIL_TEST_LANDLOCK_ABI"));
	if (abi < 2) {
		/* ABI 1 refuses every rename across folders, which the spool
		 * and Maildir delivery are made of. */
		log_warn("%s: no Landlock (%s): files are not restricted, "
		    "syscalls are", ll.who, abi < 1 ? "not in this kernel" :
		    "ABI 1 cannot allow renames across folders");
		return 0;
	}
	ll.handled = sandbox_landlock_handled(abi);
	memset(&attr, 0, sizeof(attr));
	attr.handled_access_fs = ll.handled;
	ll.fd = (int)syscall(SYS_landlock_create_ruleset, &attr,
	    sizeof(attr), 0);
	if (ll.fd == -1)
		fatal("%s: sandbox: landlock_create_ruleset: %s", ll.who,
		    strerror(errno));
	ll_allow_base(&ll);
	switch (kind) {
	case SANDBOX_WORKER:
		ll_allow_worker(&ll, conf);
		break;
	case SANDBOX_RUNNER:
		ll_allow_runner(&ll, conf);
		break;
	case SANDBOX_KEYS:
		ll_allow_keys(&ll, conf);
		break;
	}
	if (sandbox_uses_pg(kind, conf))
		ll_allow_pg(&ll, kind == SANDBOX_KEYS &&
		    conf->store_keys_postgresql != NULL ?
		    conf->store_keys_postgresql : conf->store_postgresql);
	if (syscall(SYS_landlock_restrict_self, ll.fd, 0) == -1)
		fatal("%s: sandbox: landlock_restrict_self: %s", ll.who,
		    strerror(errno));
	close(ll.fd);
	return abi;
}
