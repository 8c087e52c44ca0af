# A global ARG's default that names no earlier ARG: before the first FROM such a name has no
# value, so it converts to what Dockerfile expands it to (nothing, or the word of `:-` / `-`).
ARG REGISTRY_PREFIX=${REGISTRY:-docker.io}/library
ARG A=1 B=${A}-${UNSET}-${UNSET2-two}${UNSET3:+never}${UNSET4#x}
ARG C="${A:+set} $TARGETPLATFORM"
FROM busybox:local
ARG REGISTRY_PREFIX
ARG B
ARG C
# In a stage an unknown name may come from the base image's env: still a note.
ARG D=${FROM_BASE:-d}
LABEL prefix=$REGISTRY_PREFIX b=$B c=$C
