# `--` ends an instruction's flags and is dropped, as in BuildKit's parser (COPY of a file
# whose name starts with `-`).
FROM alpine:3.20 AS base
RUN touch /-n

FROM scratch
COPY --from=base -- /-n /dash-n
COPY -- ./a.txt /a.txt
