# A C program compiled in a large image and shipped in a small one.
FROM debian-gcc:local AS build
WORKDIR /src
COPY hello.c .
# -static: the runtime image has no libc
RUN mkdir -p /out \
 && gcc -static -O2 -o /out/hello hello.c

FROM busybox:local
COPY --from=build /out/hello /usr/local/bin/hello
USER 65534
EXPOSE 8080
HEALTHCHECK --interval=30s --timeout=3s CMD hello --self-test
CMD ["/usr/local/bin/hello"]
