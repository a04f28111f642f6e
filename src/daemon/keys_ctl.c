/* SPDX-License-Identifier: ISC */
/* The master's end of the keys process's control socket (see keys_ctl.h). */
#include "daemon/keys_ctl.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "core/log.h"
#include "core/xmalloc.h"

/* The file's bytes in an exactly sized heap block (no copies left by a
 * growing buffer), or NULL with err. */
static uint8_t *
keys_ctl_read(const char *path, size_t *len, char *err, size_t errlen)
{
	struct stat st;
	uint8_t *p;
	ssize_t n;
	size_t got = 0;
	int fd;

	errno = 0;
	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY)) == -1 ||
	    fstat(fd, &st) == -1 || !S_ISREG(st.st_mode) || st.st_size <= 0 ||
	    st.st_size > KEYS_PROTO_PEM_MAX) {
		snprintf(err, errlen, "cannot read %s: %s", path, fd == -1 ||
		    errno != 0 ? strerror(errno) : "not a file of 1 to 64 KiB");
		if (fd != -1)
			close(fd);
		return NULL;
	}
	p = xmalloc((size_t)st.st_size);
	while (got < (size_t)st.st_size &&
	    ((n = read(fd, p + got, (size_t)st.st_size - got)) > 0 ||
	    (n == -1 && errno == EINTR)))
		if (n > 0)
			got += (size_t)n;
	close(fd);
	*len = got;
	return p;
}

static void
keys_ctl_wipe(uint8_t *p, size_t len)
{
	if (p == NULL)
		return;
	OPENSSL_cleanse(p, len);
	free(p);
}

/* Send m and wait for the answer of type want with m's id into *r (its
 * byte fields point into rbuf). */
static int
keys_ctl_call(int ctl, const struct keys_msg *m, enum keys_msg_type want,
    struct keys_msg *r, uint8_t *rbuf, size_t rlen, char *err, size_t errlen)
{
	struct pollfd pfd = { ctl, POLLIN, 0 };
	uint8_t head[KEYS_PROTO_LOAD_HEAD + 16], mid[4];
	struct iovec iov[4] = { { head, 0 } };
	struct msghdr mh = { .msg_iov = iov, .msg_iovlen = 1 };
	ssize_t n;
	size_t body;
	long size;

	/* A key goes from its buffer into the socket in the kernel: see
	 * keys_proto_load_iov. */
	if (m->type == KEYS_MSG_LOAD) {
		size = keys_proto_load_iov(m, head, mid, iov);
		mh.msg_iovlen = 4;
	} else if ((size = keys_proto_encode_raw(head, sizeof(head), m)) >= 0)
		iov[0].iov_len = (size_t)size;
	if (size < 0) {
		snprintf(err, errlen, "keys: a key file is too big");
		return -1;
	}
	if (sendmsg(ctl, &mh, MSG_NOSIGNAL) != size ||
	    poll(&pfd, 1, KEYS_CTL_TIMEOUT_MS) != 1 ||
	    (n = recv(ctl, rbuf, rlen, 0)) <= 0 ||
	    keys_proto_frame(rbuf, (size_t)n, rlen, &body) != 1 ||
	    KEYS_PROTO_HDR + body != (size_t)n ||
	    keys_proto_decode(rbuf + KEYS_PROTO_HDR, body, r) == -1 ||
	    r->type != want || r->id != m->id) {
		snprintf(err, errlen, "the keys process did not answer");
		return -1;
	}
	return 0;
}

/* LOAD one key (and its certificate), wait for LOADED: 0 with its type,
 * or -1 with err saying why (what names the key for the message). */
static int
keys_ctl_load_one(int ctl, uint32_t handle, enum keys_key_kind kind,
    const char *keyfile, const char *certfile, const char *what,
    enum keys_key_type *type, char *err, size_t errlen)
{
	struct keys_msg m = { .type = KEYS_MSG_LOAD, .id = handle + 1,
	    .handle = handle, .kind = (uint8_t)kind };
	uint8_t rbuf[KEYS_PROTO_HDR + KEYS_PROTO_PEER_MAX + KEYS_PROTO_TEXT_MAX];
	uint8_t *key = NULL, *cert = NULL;
	size_t keylen = 0, certlen = 0;
	char esc[256];
	struct keys_msg r;
	int rc = -1;

	if ((key = keys_ctl_read(keyfile, &keylen, err, errlen)) == NULL ||
	    (certfile != NULL && (cert = keys_ctl_read(certfile, &certlen,
	    err, errlen)) == NULL))
		goto out;
	m.data = key;
	m.datalen = keylen;
	m.cert = cert;
	m.certlen = certlen;
	if (keys_ctl_call(ctl, &m, KEYS_MSG_LOADED, &r, rbuf, sizeof(rbuf),
	    err, errlen) == -1)
		goto out;
	if (r.status != 0) {
		snprintf(err, errlen, "%s %s: %.*s", what, log_escape(keyfile,
		    strlen(keyfile), esc, sizeof(esc)), (int)r.textlen,
		    (const char *)r.text);
		goto out;
	}
	*type = r.kind;
	rc = 0;
out:
	keys_ctl_wipe(key, keylen);
	free(cert);
	return rc;
}

size_t
keys_ctl_dkim_count(const struct conf *conf)
{
	size_t n = 0;

	for (size_t i = 0; i < conf->ndomains; i++)
		n += conf->domains[i].ndkim;
	return n;
}

static int
keys_ctl_load_here(int ctl, const struct conf *conf,
    enum keys_key_type *dkim_types, size_t ntypes, char *err, size_t errlen)
{
	uint8_t rbuf[KEYS_PROTO_HDR + KEYS_PROTO_PEER_MAX];
	struct keys_msg m = { .type = KEYS_MSG_READY }, r;
	enum keys_key_type type;
	char what[LIMIT_DOMAIN + 128];
	size_t n = 0;

	for (size_t i = 0; i < conf->ncerts; i++)
		if (keys_ctl_load_one(ctl, KEYOP_HANDLE_TLS(i), KEYS_KIND_TLS,
		    conf->certs[i].key, conf->certs[i].cert, "key", &type, err,
		    errlen) == -1)
			return -1;
	for (size_t i = 0; i < conf->ndomains; i++) {
		const struct conf_domain *cd = &conf->domains[i];
		for (size_t j = 0; j < cd->ndkim; j++, n++) {
			snprintf(what, sizeof(what), "dkim key (domain %s, "
			    "selector %s)", cd->name, cd->dkim[j].selector);
			if (n >= ntypes || keys_ctl_load_one(ctl,
			    KEYOP_HANDLE_DKIM0 + (uint32_t)n, KEYS_KIND_DKIM,
			    cd->dkim[j].key, NULL, what, &dkim_types[n], err,
			    errlen) == -1)
				return -1;
		}
	}
	m.id = 0xffffffffu;
	return keys_ctl_call(ctl, &m, KEYS_MSG_READY, &r, rbuf, sizeof(rbuf),
	    err, errlen);
}

/* What the loading child reports: its result, then the DKIM keys' types. */
struct keys_ctl_result {
	int	rc;
	char	err[1024];
};

static int
keys_ctl_io(int fd, void *p, size_t len, bool out)
{
	size_t done = 0;
	ssize_t n;

	while (done < len) {
		n = out ? write(fd, (char *)p + done, len - done) :
		    read(fd, (char *)p + done, len - done);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		done += (size_t)n;
	}
	return 0;
}

/*
 * The reading and sending happen in a child that leaves when done, so not
 * one byte of a key enters the master's address space (nor its
 * registers): whatever a copy leaves behind (libc, the kernel interface,
 * a register a later call spills) goes with the child, never into the
 * processes the master forks after.
 */
int
keys_ctl_load(int ctl, const struct conf *conf,
    enum keys_key_type *dkim_types, size_t ntypes, char *err, size_t errlen)
{
	struct keys_ctl_result *res = xcalloc(1, sizeof(*res));
	size_t tlen = ntypes * sizeof(*dkim_types);
	int fd[2], status, rc = -1;
	pid_t pid;

	if (pipe2(fd, O_CLOEXEC) == -1) {
		snprintf(err, errlen, "cannot load the keys: %s",
		    strerror(errno));
		free(res);
		return -1;
	}
	if ((pid = fork()) == -1) {
		snprintf(err, errlen, "cannot load the keys: %s",
		    strerror(errno));
		close(fd[0]);
		close(fd[1]);
		free(res);
		return -1;
	}
	if (pid == 0) {
		close(fd[0]);
		res->rc = keys_ctl_load_here(ctl, conf, dkim_types, ntypes,
		    res->err, sizeof(res->err));
		_exit(keys_ctl_io(fd[1], res, sizeof(*res), true) == -1 ||
		    keys_ctl_io(fd[1], dkim_types, tlen, true) == -1);
	}
	close(fd[1]);
	if (keys_ctl_io(fd[0], res, sizeof(*res), false) == -1 ||
	    keys_ctl_io(fd[0], dkim_types, tlen, false) == -1)
		snprintf(err, errlen, "the key loading process failed");
	else if ((rc = res->rc) == -1)
		snprintf(err, errlen, "%.*s", (int)sizeof(res->err),
		    res->err);
	close(fd[0]);
	while (waitpid(pid, &status, 0) == -1 && errno == EINTR)
		;
	free(res);
	return rc;
}

int
keys_ctl_peer(int ctl)
{
	struct keys_msg m = { .type = KEYS_MSG_PEER };
	uint8_t frame[16];
	union {
		struct cmsghdr	hdr;
		char		buf[CMSG_SPACE(sizeof(int))];
	} cm;
	struct iovec iov = { frame, 0 };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1,
	    .msg_control = cm.buf, .msg_controllen = sizeof(cm.buf) };
	struct cmsghdr *c;
	int sv[2];
	long n;

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == -1)
		return -1;
	n = keys_proto_encode_raw(frame, sizeof(frame), &m);
	iov.iov_len = (size_t)n;
	memset(&cm, 0, sizeof(cm));
	c = CMSG_FIRSTHDR(&mh);
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(c), &sv[0], sizeof(int));
	if (sendmsg(ctl, &mh, MSG_NOSIGNAL) != n) {
		close(sv[0]);
		close(sv[1]);
		return -1;
	}
	close(sv[0]);
	return sv[1];
}
