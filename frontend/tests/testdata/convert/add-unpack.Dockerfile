# ADD --unpack (Dockerfile 1.17): `--unpack=false` copies a local archive as it is, and
# `--unpack=true` unpacks a download, which decant cannot do (a note).
FROM alpine:3.20
ADD --unpack=false vendor.tar.gz /opt/
ADD app.tar.gz /opt/
ADD --unpack=true https://example.com/tool-1.2.tar.gz /opt/tool/
ADD --unpack=false https://example.com/data.tar.gz /data/
