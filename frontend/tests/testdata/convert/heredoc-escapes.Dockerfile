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
