FROM scratch AS rootfs
ADD rootfs.tar.xz /
ADD --chown=10:10 notes.txt /notes/

FROM busybox:local
ADD --checksum=sha256:24454f830cdb571e2c4ad15481119c43b3cafd48dd869a9b2945d1036d1dc68d https://example.com/tool-1.2.tar.gz /opt/
ADD --keep-git-dir=true https://github.com/org/repo.git#v1.2 /src/repo
ADD git@github.com:org/private.git /src/private
COPY --from=rootfs / /rootfs/
COPY --from=alpine:3.20 /etc/os-release /etc/alpine-release
RUN --mount=type=bind,target=ctx ls ctx
# Sources stay in order in one step (the archive unpacks over plain.txt); BuildKit unpacks by
# content, so a tar without a suffix unpacks too; a download between them is a step of its own.
ADD plain.txt layer.tar /order/
ADD data.bin https://example.com/app.conf more.tgz /mixed/
