/* SPDX-License-Identifier: ISC */
/* Privilege drop and child process setup (see priv.h). */
#define _XOPEN_SOURCE 700
#include "proc/priv.h"

#include <errno.h>
#include <ftw.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <unistd.h>

#include "core/log.h"

bool
priv_lookup(const char *user, uid_t *uid, gid_t *gid, char *err,
    size_t errlen)
{
	struct passwd *pw;

	*uid = geteuid();
	*gid = getegid();
	if (user == NULL || *user == '\0')
		return true;
	pw = getpwnam(user);
	if (pw == NULL) {
		snprintf(err, errlen, "[server] user %s does not exist", user);
		return false;
	}
	*uid = pw->pw_uid;
	*gid = pw->pw_gid;
	return true;
}

void
priv_child_setup(const char *name, int nice)
{
	prctl(PR_SET_NAME, name, 0, 0, 0);
	prctl(PR_SET_PDEATHSIG, SIGTERM, 0, 0, 0);
	/* On Linux this sets the calling thread only; threads started later
	 * inherit it, hence "before any thread". */
	if (nice != 0 && setpriority(PRIO_PROCESS, 0, nice) == -1)
		log_warn("cannot lower the priority of %s: %s", name,
		    strerror(errno));
}

void
priv_drop(const char *user)
{
	char err[256];
	uid_t uid;
	gid_t gid;

	if (user == NULL || *user == '\0' || geteuid() != 0)
		return;
	if (!priv_lookup(user, &uid, &gid, err, sizeof(err)))
		fatal("%s", err);
	if (setgroups(1, &gid) == -1 || setresgid(gid, gid, gid) == -1 ||
	    setresuid(uid, uid, uid) == -1)
		fatal("cannot drop privileges to %s: %s", user,
		    strerror(errno));
	if (setuid(0) != -1 || geteuid() != uid)
		fatal("privileges of %s could be regained", user);
}

static uid_t priv_tree_uid;
static gid_t priv_tree_gid;

static int
priv_chown_one(const char *path, const struct stat *st, int flag,
    struct FTW *ftw)
{
	(void)flag;
	(void)ftw;
	if (st->st_uid == priv_tree_uid && st->st_gid == priv_tree_gid)
		return 0;
	return lchown(path, priv_tree_uid, priv_tree_gid) == -1 ? -1 : 0;
}

int
priv_chown_tree(const char *dir, const char *user, char *err, size_t errlen)
{
	if (user == NULL || *user == '\0' || geteuid() != 0)
		return 0;
	if (!priv_lookup(user, &priv_tree_uid, &priv_tree_gid, err, errlen))
		return -1;
	if (nftw(dir, priv_chown_one, 32, FTW_PHYS) == -1) {
		snprintf(err, errlen, "cannot give %s to %s: %s", dir, user,
		    strerror(errno));
		return -1;
	}
	return 0;
}
