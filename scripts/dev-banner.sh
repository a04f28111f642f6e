#!/bin/sh
# Prints how to reach the development server that `make run` is starting.
conf="${1:-var/sealmail.conf}"
domain=$(sed -n 's/^\[domain "\(.*\)"\].*/\1/p' "$conf" | head -1)
cat <<MSG

sealmail dev server (config: $conf)
  mx          127.0.0.1:2525  (STARTTLS offered)
  submission  127.0.0.1:5870  (STARTTLS, then AUTH)
  submissions 127.0.0.1:4650  (implicit TLS, RFC 8314)

Add a mailbox (in another terminal):
  echo secret | build/sealmail -c $conf user add you@$domain --password-stdin
Send yourself a message over implicit TLS with AUTH:
  swaks --server 127.0.0.1:4650 --tlsc --auth PLAIN --auth-user you@$domain \\
        --auth-password secret --from you@$domain --to you@$domain
Read it and its TLS trace:
  cat var/data/mail/$domain/you/Maildir/new/*
Stop with Ctrl-C.

MSG
