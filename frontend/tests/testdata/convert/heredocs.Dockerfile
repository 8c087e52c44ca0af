# syntax=docker/dockerfile:1.4
FROM debian-gcc:local
ARG GREETING=hello
RUN <<EOF
set -eu
mkdir -p /etc/app
echo "$GREETING" > /etc/app/greeting
EOF
RUN <<'PY'
#!/usr/bin/env python3
print("from a shebang script")
PY
RUN cat > /etc/app/motd <<-EOT && chmod 0644 /etc/app/motd
	Welcome
	EOT
COPY --chmod=0755 <<'SCRIPT' /usr/local/bin/greet
#!/bin/sh
echo "$(cat /etc/app/greeting), $1"
SCRIPT
COPY <<A <<B /etc/app/
a=1
A
b=${GREETING}
B
CMD ["greet", "world"]
