# escape=`
# check=error=true

FROM busybox:local AS base
ENV DIR="C:\data" `
    NAME='a b' `
    LITERAL=\$HOME
WORKDIR /srv
RUN echo one `
    && echo two
COPY ["my file.txt", "/srv/with space/"]
