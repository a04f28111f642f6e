#!/bin/sh
# Prints how to reach the development server that `make run` is starting,
# with the listeners and domain read from its configuration.
conf="${1:-var/sealmail.conf}"
domain=$(sed -n 's/^\[domain "\(.*\)"\].*/\1/p' "$conf" | head -1)
data=$(sed -n 's/^data_dir *= *\([^;# 	]*\).*/\1/p' "$conf" | head -1)
# "address role tls" per listener, comments stripped.
listeners=$(awk '
	/^\[listen / { if (a != "") print a, r, t; a = r = t = ""; next }
	/^\[/ { if (a != "") print a, r, t; a = r = t = ""; next }
	{ sub(/[;#].*/, "") }
	/^address *=/ { sub(/^address *= */, ""); a = $1 }
	/^role *=/ { sub(/^role *= */, ""); r = $1 }
	/^tls *=/ { sub(/^tls *= */, ""); t = $1 }
	END { if (a != "") print a, r, t }' "$conf")
implicit=$(echo "$listeners" | awk '$2 == "submission" && $3 == "implicit" { print $1; exit }')
echo
echo "sealmail dev server (config: $conf)"
echo "$listeners" | while read -r addr role tls; do
	[ -n "$addr" ] && printf '  %-11s %-16s (tls: %s)\n' "$role" "$addr" "$tls"
done
cat <<MSG

Add a mailbox (in another terminal):
  echo secret | build/sealmail -c $conf user add you@$domain --password-stdin
Send yourself a message over implicit TLS with AUTH:
  swaks --server ${implicit:-127.0.0.1:4650} --tlsc --auth PLAIN --auth-user you@$domain \\
        --auth-password secret --from you@$domain --to you@$domain
Read it and its TLS trace:
  cat ${data:-var/data}/mail/$domain/you/Maildir/new/*
  build/sealmail inspect ${data:-var/data}/mail/$domain/you/Maildir/new/*
Stop with Ctrl-C.

MSG
