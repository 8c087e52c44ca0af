# Shapes the convert fuzz target found written as YAML that does not read back (each spec
# convert writes is parsed again by the tests): a stage name another one is cleaned to, an SBOM
# scan arg declared twice, a label named `<<` (YAML's merge key), a trigger ending in `-` in a
# flow list.
FROM busybox:local AS d-x
ARG BUILDKIT_SBOM_SCAN_STAGE=one
ARG BUILDKIT_SBOM_SCAN_STAGE=two
FROM busybox:local AS d)x
LABEL <<=merge
ONBUILD RUN echo -
FROM d-x
