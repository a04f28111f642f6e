/* SPDX-License-Identifier: ISC */
/*
 * The client side of the local submission socket (net/localsock.h): how
 * `sealmail sendmail` hands a message to the running daemon as SMTP over
 * a unix socket, and the byte relay behind `sendmail -bs`. Blocking I/O
 * with a timeout on every wait: this runs in a command, not in a loop.
 */
#ifndef SEALMAIL_CLI_CLI_SUBMIT_H
#define SEALMAIL_CLI_CLI_SUBMIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/ids.h"
#include "queue/envelope.h"

/* Connected socket to path, or -1 with errno (ENOENT, ECONNREFUSED: no
 * daemon there). */
int submit_connect(const char *path);

struct submit_msg {
	const char	*sender;	/* "" = null sender */
	char *const	*rcpts;
	size_t		 nrcpts;
	const uint8_t	*data;		/* CRLF lines, each ended */
	size_t		 len;
	bool		 smtputf8;
	bool		 eightbit;
	unsigned	 notify;	/* ENVELOPE_NOTIFY_*, 0: unspecified */
	enum envelope_ret ret;
};

enum submit_result {
	SUBMIT_OK,
	SUBMIT_REFUSED,		/* the daemon said no: reply in err */
	SUBMIT_RCPT_UNKNOWN,	/* 550 5.1.1 for rcpts[*bad] */
	SUBMIT_ERROR,		/* I/O or protocol: err */
};

/*
 * One SMTP transaction for m on fd (closed by the caller). On SUBMIT_OK
 * qid holds the queue id from the 250 reply (or ""); otherwise err has a
 * one-line reason and *bad the index of a refused recipient, if any.
 */
enum submit_result submit_send(int fd, const struct submit_msg *m,
    char qid[IDS_QID_LEN + 1], size_t *bad, char *err, size_t errlen);

/* Relay standard input to fd and fd to standard output until the daemon
 * closes the session (sendmail -bs). 0, or -1 on an I/O error. */
int submit_relay(int fd);

#endif
