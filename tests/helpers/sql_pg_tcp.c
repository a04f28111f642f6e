/* SPDX-License-Identifier: ISC */
/*
 * Test helper (not installed): what the kernel holds for the TCP socket of
 * a connection the PostgreSQL driver made, for tests/store/test_sql_pg.py.
 *
 *   sql_pg_tcp DSN PWFILE
 *
 * Opens DSN through sql_open_pg (PWFILE "-": no password), runs a query,
 * then prints one line per stream socket of this process:
 *   "tcp keepalive=K idle=S interval=S count=N user_timeout=MS"
 * or "unix". Exit status 0 when the connection worked.
 */
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "store/sql.h"

static int
opt(int fd, int level, int name)
{
	socklen_t len = sizeof(int);
	int v = -1;

	if (getsockopt(fd, level, name, &v, &len) == -1)
		return -1;
	return v;
}

int
main(int argc, char **argv)
{
	char pw[256], err[512];
	const char *password = NULL;
	struct sql *sql;
	FILE *fp;

	if (argc != 3) {
		fprintf(stderr, "usage: sql_pg_tcp DSN PWFILE\n");
		return 2;
	}
	if (strcmp(argv[2], "-") != 0) {
		if ((fp = fopen(argv[2], "r")) == NULL ||
		    fgets(pw, sizeof(pw), fp) == NULL) {
			perror(argv[2]);
			return 2;
		}
		fclose(fp);
		pw[strcspn(pw, "\r\n")] = '\0';
		password = pw;
	}
	if ((sql = sql_open_pg(argv[1], password, err, sizeof(err))) == NULL) {
		printf("open: %s\n", err);
		return 1;
	}
	if (sql_exec(sql, "SELECT 1") != SQL_OK) {
		printf("query: %s\n", sql_errmsg(sql));
		sql_close(sql);
		return 1;
	}
	/* libpq's socket is the only stream socket this process has. */
	for (int fd = 0; fd < 1024; fd++) {
		int type = opt(fd, SOL_SOCKET, SO_TYPE);
		int domain = opt(fd, SOL_SOCKET, SO_DOMAIN);

		if (type != SOCK_STREAM)
			continue;
		if (domain == AF_UNIX) {
			printf("unix\n");
			continue;
		}
		printf("tcp keepalive=%d idle=%d interval=%d count=%d "
		    "user_timeout=%d\n", opt(fd, SOL_SOCKET, SO_KEEPALIVE),
		    opt(fd, IPPROTO_TCP, TCP_KEEPIDLE),
		    opt(fd, IPPROTO_TCP, TCP_KEEPINTVL),
		    opt(fd, IPPROTO_TCP, TCP_KEEPCNT),
		    opt(fd, IPPROTO_TCP, TCP_USER_TIMEOUT));
	}
	sql_close(sql);
	return 0;
}
