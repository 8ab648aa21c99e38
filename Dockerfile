# lbd on an empty base: the static binary built by make image, CA
# certificates and time zones from the build host, and a non-root user.
# packaging/image.sh stages the build context; build with make image.
# Every setting comes from LBD_* variables, for example:
#   docker run -e LBD_ROLE=master -e LBD_NODE=master-1 lbd
FROM scratch

COPY rootfs/ /
COPY --chown=65532:65532 data/ /var/lib/lbd/

USER 65532:65532
WORKDIR /var/lib/lbd
VOLUME /var/lib/lbd

ENV LBD_BIND=0.0.0.0:7946 \
    LBD_TASK_ADDR=0.0.0.0:7947 \
    LBD_HTTP_ADDR=0.0.0.0:7948 \
    LBD_DATA_DIR=/var/lib/lbd

# Gossip (TCP and UDP) between all nodes, tasks and HTTP API on the master.
EXPOSE 7946/tcp 7946/udp 7947/tcp 7948/tcp

# SIGTERM drains a worker for up to drain_timeout (30s): give docker stop
# a longer timeout (--stop-timeout 45, or stop_grace_period in compose).
STOPSIGNAL SIGTERM

# A master is healthy when GET /healthz returns 200. With LBD_ROLE=worker,
# lbd health checks that the gossip port of LBD_BIND accepts connections.
HEALTHCHECK --interval=10s --timeout=5s --start-period=20s --retries=3 \
    CMD ["/usr/bin/lbd", "health"]

ENTRYPOINT ["/usr/bin/lbd"]
