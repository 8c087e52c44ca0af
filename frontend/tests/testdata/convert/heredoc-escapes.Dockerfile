# Reduced from moby/buildkit's Dockerfile: an unquoted COPY heredoc with no `$` to expand gets
# BuildKit's escape processing (`\\` is `\`, `\$` is `$`, `\n` is `n`, a backslash before a
# newline goes); a quoted one is taken as written.
FROM alpine:3.20
COPY --chmod=755 <<EOF /docker-entrypoint.sh
#!/bin/sh
exec dlv exec /usr/bin/buildkitd \\
  -l 0.0.0.0:\${DELVE_PORT:-5000} \\
  -- "\$@"
EOF
COPY <<EOF /etc/motd
printf "a\n" \
joined
EOF
COPY <<"EOF" /etc/raw
printf "a\n" \\
EOF
# A `$` that starts no reference (`$(`, `$` before a space) is written as it is:
# the content needs no expansion.
COPY <<EOF /usr/local/bin/stamp
echo "built $(date)" costs 5$ or $ 6
EOF
# `$$` and `$1` are references (to the environment): the step expands.
COPY <<EOF /etc/pids
pid $$ arg $1
EOF
