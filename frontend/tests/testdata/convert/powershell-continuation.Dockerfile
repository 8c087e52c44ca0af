# Reduced from caddy's and docker-library/python's Windows Dockerfiles: with a PowerShell SHELL,
# a backslash continuation is joined as the Dockerfile joins it (PowerShell reads `\` at a line end
# as written); a stage built on that stage has its shell. /bin/bash keeps the lines.
FROM mcr.microsoft.com/windows/servercore:ltsc2022 AS win
SHELL ["powershell", "-Command"]
RUN mkdir /config; \
    mkdir /data
FROM win AS child
RUN Invoke-WebRequest \
        -Uri "https://example.com/caddy.zip" \
        -OutFile "/caddy.zip"
FROM debian:bookworm-slim
SHELL ["/bin/bash", "-o", "pipefail", "-c"]
RUN apt-get update \
    && apt-get install -y curl
