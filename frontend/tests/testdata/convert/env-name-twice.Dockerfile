# A name given twice in one ENV or LABEL: the last value is set, where the name first was.
FROM busybox:local
ENV A=1 B=$A A=2
LABEL l=1 m=2 l=3
RUN echo "$A $B" > /o
