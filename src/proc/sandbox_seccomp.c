/* SPDX-License-Identifier: ISC */
/*
 * The seccomp-bpf allowlists (see sandbox.h), built with libseccomp and
 * synchronised to every thread of the process (TSYNC). A syscall off the
 * list raises SIGSYS: the handler writes one line naming it to stderr
 * and the process dies of SIGSYS, which the master logs and restarts.
 * Built with SANDBOX=log (SEALMAIL_SANDBOX_LOG) such a syscall is allowed
 * and the kernel logs it instead, to find what a change needs.
 */
#include "proc/sandbox_internal.h"

#include <errno.h>
#include <signal.h>
#include <ucontext.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <linux/sched.h>
#include <seccomp.h>

#include "core/log.h"

#define W	(1u << SANDBOX_WORKER)
#define R	(1u << SANDBOX_RUNNER)
#define K	(1u << SANDBOX_KEYS)

/* Allowed without looking at arguments, by profile. Names the running
 * architecture lacks (open on arm64) are skipped. */
static const struct {
	const char	*name;
	unsigned	 kinds;
} sandbox_calls[] = {
	/* memory: malloc, thread stacks, malloc_trim, dlopen */
	{ "brk", W|R|K }, { "mmap", W|R|K }, { "munmap", W|R|K },
	{ "mprotect", W|R|K }, { "madvise", W|R|K }, { "mremap", W|R|K },
	/* file descriptors and files: the spool, the store, Maildirs */
	{ "read", W|R|K }, { "write", W|R|K }, { "readv", W|R|K },
	{ "writev", W|R|K }, { "pread64", W|R|K }, { "pwrite64", W|R|K },
	{ "preadv", W|R|K }, { "pwritev", W|R|K }, { "lseek", W|R|K },
	{ "open", W|R|K }, { "openat", W|R|K }, { "close", W|R|K },
	{ "close_range", W|R|K }, { "dup", W|R|K }, { "dup2", W|R|K },
	{ "dup3", W|R|K }, { "fcntl", W|R|K }, { "flock", W|R },
	{ "fstat", W|R|K }, { "stat", W|R|K }, { "lstat", W|R|K },
	{ "newfstatat", W|R|K }, { "statx", W|R|K }, { "statfs", W|R|K },
	{ "fstatfs", W|R|K }, { "access", W|R|K }, { "faccessat", W|R|K },
	{ "faccessat2", W|R|K }, { "readlink", W|R|K },
	{ "readlinkat", W|R|K }, { "getdents64", W|R|K },
	{ "getcwd", W|R|K }, { "fsync", W|R|K }, { "fdatasync", W|R|K },
	{ "ftruncate", W|R|K }, { "truncate", W|R },
	{ "fadvise64", W|R|K },
	{ "rename", W|R }, { "renameat", W|R }, { "renameat2", W|R },
	{ "link", W|R }, { "linkat", W|R }, { "unlink", W|R },
	{ "unlinkat", W|R }, { "mkdir", W|R }, { "mkdirat", W|R },
	{ "rmdir", W|R }, { "chmod", R }, { "fchmodat", R },
	/* SQLite, as root (a --dev configuration), gives a journal it opens
	 * the store's owner; the keys process reads the store too */
	{ "fchown", W|R|K }, { "fchmod", W|R }, { "umask", W|R|K },
	{ "pipe", W|R|K }, { "pipe2", W|R|K },
	{ "eventfd", W|R|K }, { "eventfd2", W|R|K },
	{ "inotify_init1", R }, { "inotify_add_watch", R },
	{ "inotify_rm_watch", R },
	/* the event loop (libevent's epoll backend) */
	{ "epoll_create", W|R|K }, { "epoll_create1", W|R|K },
	{ "epoll_ctl", W|R|K }, { "epoll_wait", W|R|K },
	{ "epoll_pwait", W|R|K }, { "epoll_pwait2", W|R|K },
	{ "poll", W|R|K }, { "ppoll", W|R|K }, { "select", W|R|K },
	{ "pselect6", W|R|K }, { "timerfd_create", W|R|K },
	{ "timerfd_settime", W|R|K }, { "timerfd_gettime", W|R|K },
	/* sockets: SMTP, DNS, LMTP, HTTPS, IPC (socket() below) */
	{ "connect", W|R }, { "accept", W }, { "accept4", W },
	{ "bind", W|R }, { "listen", W|R }, { "shutdown", W|R|K },
	{ "getsockname", W|R|K }, { "getpeername", W|R|K },
	{ "setsockopt", W|R|K }, { "getsockopt", W|R|K },
	{ "sendto", W|R|K }, { "recvfrom", W|R|K }, { "sendmsg", W|R|K },
	{ "recvmsg", W|R|K }, { "sendmmsg", W|R|K }, { "recvmmsg", W|R|K },
	{ "socketpair", W|R|K },
	/* threads (clone below) and their synchronisation */
	{ "futex", W|R|K }, { "set_robust_list", W|R|K },
	{ "get_robust_list", W|R|K }, { "rseq", W|R|K },
	{ "set_tid_address", W|R|K }, { "sched_yield", W|R|K },
	{ "sched_getaffinity", W|R|K }, { "membarrier", W|R|K },
	{ "exit", W|R|K }, { "exit_group", W|R|K },
	/* time, randomness, identity */
	{ "clock_gettime", W|R|K }, { "clock_getres", W|R|K },
	{ "clock_nanosleep", W|R|K }, { "nanosleep", W|R|K },
	{ "gettimeofday", W|R|K }, { "time", W|R|K },
	{ "getrandom", W|R|K }, { "getpid", W|R|K }, { "gettid", W|R|K },
	{ "getppid", W|R|K }, { "getuid", W|R|K }, { "geteuid", W|R|K },
	{ "getgid", W|R|K }, { "getegid", W|R|K }, { "getresuid", W|R|K },
	{ "getresgid", W|R|K }, { "getgroups", W|R|K }, { "uname", W|R|K },
	{ "sysinfo", W|R|K }, { "getrusage", W|R|K }, { "times", W|R|K },
	{ "getrlimit", W|R|K }, { "prlimit64", W|R|K },
	{ "getpriority", W|R|K },
	/* signals: libevent's handlers, raise/abort (kill: below) */
	{ "rt_sigaction", W|R|K }, { "rt_sigprocmask", W|R|K },
	{ "rt_sigreturn", W|R|K }, { "rt_sigtimedwait", W|R|K },
	{ "rt_sigpending", W|R|K }, { "sigaltstack", W|R|K },
	{ "restart_syscall", W|R|K },
#ifdef SANDBOX_SANITIZER
	/* ASan/UBSan/LSan: the leak check at exit stops the threads with
	 * ptrace from a helper task; reports read /proc/self/maps. */
	{ "ptrace", W|R|K }, { "wait4", W|R|K }, { "waitid", W|R|K },
	{ "process_vm_readv", W|R|K }, { "setrlimit", W|R|K },
	{ "personality", W|R|K }, { "prctl", W|R|K }, { "clone", W|R|K },
	{ "kill", W|R|K }, { "tgkill", W|R|K }, { "tkill", W|R|K },
#endif
};

/* ioctl requests: libevent (FIONREAD), stdio's isatty (TCGETS), fds. */
static const unsigned long sandbox_ioctls[] = {
	FIONREAD, FIONBIO, FIOCLEX, FIONCLEX, TCGETS, TIOCGWINSZ,
};

#ifndef SANDBOX_SANITIZER
/* prctl options: thread names; the bounding set's size, which
 * libnss_systemd probes when the worker looks up the user of a local
 * submission (getpwuid). */
static const int sandbox_prctls[] = {
	PR_SET_NAME, PR_GET_NAME, PR_CAPBSET_READ,
};
#endif

static void
sandbox_sigsys(int sig, siginfo_t *si, void *uc)
{
	char line[160];
	int n;

	unsigned long long a0 = 0, a1 = 0;

#if defined(__x86_64__)
	a0 = (unsigned long long)((ucontext_t *)uc)->uc_mcontext.gregs[REG_RDI];
	a1 = (unsigned long long)((ucontext_t *)uc)->uc_mcontext.gregs[REG_RSI];
#else
	(void)uc;
#endif
	n = snprintf(line, sizeof(line), "sealmail[%ld]: sandbox: syscall "
	    "%d (arch 0x%x, args 0x%llx 0x%llx) is not allowed: process "
	    "ends\n", (long)getpid(), si->si_syscall, si->si_arch, a0, a1);
	if (n > 0)
		(void)!write(STDERR_FILENO, line, (size_t)n < sizeof(line) ?
		    (size_t)n : sizeof(line) - 1);
	signal(sig, SIG_DFL);
	raise(sig);
}

/* A comparison of argument arg (libseccomp's SCMP_A* macros leave
 * datum_b to the compiler, which clang warns about). */
static struct scmp_arg_cmp
sandbox_arg(unsigned arg, enum scmp_compare op, scmp_datum_t a,
    scmp_datum_t b)
{
	struct scmp_arg_cmp c = { .arg = arg, .op = op, .datum_a = a,
	    .datum_b = b };

	return c;
}

static void
sandbox_rule(scmp_filter_ctx ctx, uint32_t action, int nr, unsigned nargs,
    const struct scmp_arg_cmp *arg)
{
	int rc = seccomp_rule_add_array(ctx, action, nr, nargs, arg);

	if (rc < 0)
		fatal("sandbox: seccomp rule for syscall %d: %s", nr,
		    strerror(-rc));
}

/* socket(): the families each profile needs; netlink (glibc's
 * getaddrinfo asks it for the interface addresses) fails softly. The
 * keys process opens none, unless it reads the password hashes from
 * PostgreSQL (pg): then it connects, over TCP or a Unix socket, like the
 * others, and only connects (no bind, listen or accept). */
static void
sandbox_sockets(scmp_filter_ctx ctx, enum sandbox_kind kind, bool pg)
{
	static const int fam[] = { AF_UNIX, AF_INET, AF_INET6 };

	if (kind == SANDBOX_KEYS && !pg) {
		sandbox_rule(ctx, SCMP_ACT_ERRNO(EACCES), SCMP_SYS(socket),
		    0, NULL);
		return;
	}
	if (kind == SANDBOX_KEYS)
		sandbox_rule(ctx, SCMP_ACT_ALLOW, SCMP_SYS(connect), 0, NULL);
	for (size_t i = 0; i < sizeof(fam) / sizeof(fam[0]); i++) {
		struct scmp_arg_cmp a = sandbox_arg(0, SCMP_CMP_EQ,
		    (scmp_datum_t)fam[i], 0);
		sandbox_rule(ctx, SCMP_ACT_ALLOW, SCMP_SYS(socket), 1, &a);
	}
	struct scmp_arg_cmp nl = sandbox_arg(0, SCMP_CMP_EQ, AF_NETLINK, 0);
	sandbox_rule(ctx, SCMP_ACT_ERRNO(EAFNOSUPPORT), SCMP_SYS(socket), 1,
	    &nl);
}

/* Calls allowed with some arguments only. */
static void
sandbox_args(scmp_filter_ctx ctx)
{
	for (size_t i = 0; i < sizeof(sandbox_ioctls) /
	    sizeof(sandbox_ioctls[0]); i++) {
		struct scmp_arg_cmp a = sandbox_arg(1, SCMP_CMP_EQ,
		    sandbox_ioctls[i], 0);
		sandbox_rule(ctx, SCMP_ACT_ALLOW, SCMP_SYS(ioctl), 1, &a);
	}
#ifndef SANDBOX_SANITIZER
	/* Signal 0 only (is a report job's holder alive?): nothing here
	 * signals another process. */
	struct scmp_arg_cmp k = sandbox_arg(1, SCMP_CMP_EQ, 0, 0);
	sandbox_rule(ctx, SCMP_ACT_ALLOW, SCMP_SYS(kill), 1, &k);
	for (size_t i = 0; i < sizeof(sandbox_prctls) /
	    sizeof(sandbox_prctls[0]); i++) {
		struct scmp_arg_cmp a = sandbox_arg(0, SCMP_CMP_EQ,
		    (scmp_datum_t)sandbox_prctls[i], 0);
		sandbox_rule(ctx, SCMP_ACT_ALLOW, SCMP_SYS(prctl), 1, &a);
	}
	/* tgkill to this process's own threads only (raise, abort,
	 * pthread_kill): the pid is final, nothing here forks. Any other
	 * target, or tkill (whose lone tid could be anyone's), would let a
	 * compromised child stop or kill the keys process, the runner or
	 * another worker (the same user: the kernel would allow it). */
	struct scmp_arg_cmp g = sandbox_arg(0, SCMP_CMP_EQ,
	    (scmp_datum_t)getpid(), 0);
	sandbox_rule(ctx, SCMP_ACT_ALLOW, SCMP_SYS(tgkill), 1, &g);
	g = sandbox_arg(0, SCMP_CMP_NE, (scmp_datum_t)getpid(), 0);
	sandbox_rule(ctx, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(tgkill), 1, &g);
	sandbox_rule(ctx, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(tkill), 0, NULL);
	/* Threads only, never a new process: nothing here execs or forks. */
	struct scmp_arg_cmp t = sandbox_arg(0, SCMP_CMP_MASKED_EQ,
	    CLONE_THREAD, CLONE_THREAD);
	sandbox_rule(ctx, SCMP_ACT_ALLOW, SCMP_SYS(clone), 1, &t);
#endif
	/* clone3's flags sit behind a pointer seccomp cannot read: ENOSYS
	 * makes glibc fall back to clone(), which is checked above. */
	sandbox_rule(ctx, SCMP_ACT_ERRNO(ENOSYS), SCMP_SYS(clone3), 0, NULL);
}

void
sandbox_seccomp_enter(enum sandbox_kind kind, bool pg)
{
	struct sigaction sa;
	scmp_filter_ctx ctx;
	uint32_t deflt;
	int rc;

#ifdef SEALMAIL_SANDBOX_LOG
	deflt = SCMP_ACT_LOG;
#else
	deflt = SCMP_ACT_TRAP;
#endif
	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = sandbox_sigsys;
	sa.sa_flags = SA_SIGINFO;
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGSYS, &sa, NULL) == -1)
		fatal("sandbox: sigaction SIGSYS: %s", strerror(errno));
	if ((ctx = seccomp_init(deflt)) == NULL)
		fatal("sandbox: seccomp_init failed");
	/* Every thread, also those that exist already. */
	if ((rc = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_TSYNC, 1)) < 0)
		fatal("sandbox: seccomp TSYNC: %s", strerror(-rc));
	/* A binary tree of syscall numbers: every syscall of the hot path
	 * pays for the filter, a linear list costs it ~150 comparisons. */
	(void)seccomp_attr_set(ctx, SCMP_FLTATR_CTL_OPTIMIZE, 2);
	for (size_t i = 0; i < sizeof(sandbox_calls) /
	    sizeof(sandbox_calls[0]); i++) {
		if ((sandbox_calls[i].kinds & (1u << kind)) == 0)
			continue;
		int nr = seccomp_syscall_resolve_name(sandbox_calls[i].name);
		if (nr == __NR_SCMP_ERROR || nr < 0)
			continue;
		sandbox_rule(ctx, SCMP_ACT_ALLOW, nr, 0, NULL);
	}
	sandbox_sockets(ctx, kind, pg);
	sandbox_args(ctx);
	/* Under systemd, a SystemCallFilter without seccomp() ends here. */
	if ((rc = seccomp_load(ctx)) < 0)
		fatal("sandbox: seccomp_load: %s (is seccomp() itself "
		    "filtered out?)", strerror(-rc));
	seccomp_release(ctx);
}
